"""The fault matrix: every emulator fault x every kind of operation, over real loopback HTTP.

For each case: the result equals a fault-free run's, or the error is one of the library's own;
no partial file is left; no connection or task leaks; and the budget spent equals the requests
the emulator logged (dropped connections included: they are logged with status 0).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest

import brightmetrics_async as bm
from brightmetrics_async import _http
from brightmetrics_async.testing import Fault, FaultKind

from ._reliability import (
    AGENT_DETAIL,
    CALLER_ID,
    SUMMARY,
    Rig,
    acquired,
    client_tasks,
    leftovers,
    rig,
)

pytestmark = pytest.mark.anyio

# Failures a retry cures: with the fault firing once, the operation must succeed.
TRANSIENT = {
    FaultKind.DELAY,
    FaultKind.SLOW_BODY,
    FaultKind.RESET_BEFORE_RESPONSE,
    FaultKind.RESET_MID_BODY,
    FaultKind.TRUNCATED_BODY,
    FaultKind.SERVER_ERROR,
    FaultKind.TOO_MANY_REQUESTS,
}
# Rewrites of a JSON body: meaningless for a PDF, so not applied to the binary export.
JSON_ONLY = {
    FaultKind.MALFORMED_JSON,
    FaultKind.MISSING_VALUE,
    FaultKind.REPEAT_NEXT_LINK,
    FaultKind.FOREIGN_NEXT_LINK,
}
ALL = list(FaultKind)


def fault(kind: FaultKind, where: str, *, times: int | None = 1) -> Fault:
    # Real seconds for the two slow kinds (the emulator really waits), kept tiny; for 429 the
    # Retry-After is virtual time.
    seconds = 0.05 if kind in (FaultKind.DELAY, FaultKind.SLOW_BODY) else 2.0
    return Fault(kind, path_contains=where, times=times, seconds=seconds, status=502)


async def check_invariants(r: Rig, *, fired: bool = True) -> None:
    if fired:
        assert r.emulator.faults.fired, "the fault fired"
    assert acquired(r.session) == 0, "a connection is still held"
    assert client_tasks() == [], "a task of the library is still running"
    assert leftovers(r.out) == [], "a partial file was left"
    spent, logged = await r.spent(), await r.logged()
    assert spent == logged, f"budget spent {spent} != requests sent {logged}"
    assert r.session.requests_sent == logged


async def outcome(op: Callable[[], Awaitable[Any]]) -> tuple[Any, bm.BrightmetricsError | None]:
    try:
        return await op(), None
    except bm.BrightmetricsError as error:
        return None, error


def judge(kind: FaultKind, value: Any, error: bm.BrightmetricsError | None, expected: Any) -> None:
    if kind in TRANSIENT:
        assert error is None, f"{kind.name} fired once must be cured by a retry: {error!r}"
    if error is None:
        assert value == expected
    else:
        assert isinstance(error, bm.BrightmetricsError)


# -- sync rows -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ALL, ids=lambda k: k.name)
async def test_sync_rows(tmp_path: Path, kind: FaultKind) -> None:
    async with rig(tmp_path) as r:
        expected = [row async for row in r.session.rows(CALLER_ID)]
        # A later page: the pull fails (or recovers) mid-way.
        r.emulator.faults.add(fault(kind, "$skiptoken"))

        async def op() -> list[dict[str, Any]]:
            async with r.session.rows(CALLER_ID) as rows:
                return [row async for row in rows]

        value, error = await outcome(op)
        judge(kind, value, error, expected)
        if kind in (FaultKind.REPEAT_NEXT_LINK, FaultKind.FOREIGN_NEXT_LINK):
            assert error is not None, "a bad next link is never followed"
        if kind is FaultKind.FOREIGN_NEXT_LINK:
            assert isinstance(error, bm.UnsafeLink)
        await check_invariants(r)


async def test_a_failed_paged_pull_continues_from_its_checkpoint(tmp_path: Path) -> None:
    async with rig(tmp_path, retry=bm.RetryPolicy.never()) as r:
        expected = [row async for row in r.session.rows(CALLER_ID)]
        r.emulator.faults.add(fault(FaultKind.SERVER_ERROR, "$skiptoken", times=1))
        got: list[dict[str, Any]] = []
        pages = r.session.pages(CALLER_ID)

        async def read() -> None:
            async for page in pages:
                got.extend(page.rows)

        with pytest.raises(bm.ApiError):
            await read()
        checkpoint = pages.checkpoint
        assert checkpoint is not None
        before = len(r.emulator.requests)
        async for page in r.session.pages(CALLER_ID, start=checkpoint):
            got.extend(page.rows)
        assert got == expected, "no row lost, none twice"
        again = [rec.target for rec in r.emulator.requests[before:]]
        assert checkpoint.endswith(again[0]), "continued at the checkpoint, page one not re-read"
        await check_invariants(r)


# -- export to a file --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ALL, ids=lambda k: k.name)
async def test_json_export_to_file(tmp_path: Path, kind: FaultKind) -> None:
    async with rig(tmp_path) as r:
        reference = await r.session.export(AGENT_DETAIL, tmp_path / "ref.json", format="json")
        r.emulator.faults.add(fault(kind, "$skiptoken"))
        target = r.out / "agents.json"
        value, error = await outcome(lambda: r.session.export(AGENT_DETAIL, target, format="json"))
        judge(kind, value, error, target)
        if error is None:
            assert target.read_bytes() == reference.read_bytes()
        else:
            assert not target.exists(), "complete or absent"
        await check_invariants(r)


@pytest.mark.parametrize("kind", [k for k in ALL if k not in JSON_ONLY], ids=lambda k: k.name)
async def test_binary_export_to_file(tmp_path: Path, kind: FaultKind) -> None:
    async with rig(tmp_path) as r:
        reference = await r.session.download(SUMMARY, format="pdf")
        r.emulator.faults.add(fault(kind, SUMMARY))
        target = r.out / "summary.pdf"
        value, error = await outcome(lambda: r.session.export(SUMMARY, target, format="pdf"))
        judge(kind, value, error, target)
        if error is None:
            assert target.read_bytes() == reference
        else:
            assert not target.exists(), "complete or absent"
        if kind is FaultKind.WRONG_CONTENT_TYPE:
            assert isinstance(error, bm.UnexpectedResponse)
        await check_invariants(r)


# -- asynchronous jobs -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ALL, ids=lambda k: k.name)
async def test_async_job_result(tmp_path: Path, kind: FaultKind) -> None:
    async with rig(tmp_path, job_seconds=4.0, job_retry_after=5.0) as r:
        expected = [row async for row in r.session.rows(SUMMARY)]
        # The poll that finds the job done carries the result: fault that one.
        r.emulator.faults.add(fault(kind, "/status/"))
        job = await r.session.submit(SUMMARY)
        value, error = await outcome(job.result)
        judge(kind, value, error, expected)
        if error is not None:
            assert error.token is not None, "an error while waiting carries the resume token"
        if kind is FaultKind.STATUS_NOT_FOUND:
            assert isinstance(error, bm.JobExpired)
        await check_invariants(r)


@pytest.mark.parametrize("kind", [k for k in ALL if k not in JSON_ONLY], ids=lambda k: k.name)
async def test_async_job_export(tmp_path: Path, kind: FaultKind) -> None:
    async with rig(tmp_path, job_seconds=4.0, job_retry_after=5.0) as r:
        reference = await r.session.download(SUMMARY, format="pdf")
        r.emulator.faults.add(fault(kind, "/status/"))
        job = await r.session.submit(SUMMARY, format="pdf")
        target = r.out / "job.pdf"
        value, error = await outcome(lambda: job.export(target))
        judge(kind, value, error, target)
        if error is None:
            assert target.read_bytes() == reference
        else:
            assert not target.exists()
        await check_invariants(r)


@pytest.mark.parametrize(
    "kind",
    [FaultKind.RESET_BEFORE_RESPONSE, FaultKind.SERVER_ERROR, FaultKind.TOO_MANY_REQUESTS],
    ids=lambda k: k.name,
)
async def test_job_submission_is_resent_only_when_the_server_cannot_have_acted(
    tmp_path: Path, kind: FaultKind
) -> None:
    async with rig(tmp_path, job_seconds=4.0) as r:
        r.emulator.faults.add(fault(kind, SUMMARY))
        _, error = await outcome(lambda: r.session.submit(SUMMARY))
        submissions = r.emulator.requests_to(SUMMARY)
        if kind is FaultKind.TOO_MANY_REQUESTS:
            # A 429 says the request was refused, not acted on: resent once the block ends.
            assert error is None
            assert [s.status for s in submissions] == [429, 202]
        else:
            # A reset or a 502 may follow a request the server acted on: never resent.
            assert isinstance(
                error, bm.TransportError if kind.name.startswith("RESET") else bm.ApiError
            )
            assert len(submissions) == 1
        await check_invariants(r)


# -- bulk pulls --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ALL, ids=lambda k: k.name)
async def test_bulk_pull_one_item_faulted_siblings_succeed(tmp_path: Path, kind: FaultKind) -> None:
    async with rig(tmp_path, job_seconds=4.0, job_retry_after=5.0) as r:
        s = r.session
        ref_caller = await s.export(CALLER_ID, tmp_path / "ref-caller.json", format="json")
        ref_csv = await s.export(SUMMARY, tmp_path / "ref-summary.csv", format="csv")
        ref_agents = [row async for row in s.rows(AGENT_DETAIL)]
        ref_summary = [row async for row in s.rows(SUMMARY)]
        # Every request of one item misbehaves, for as long as it is retried.
        r.emulator.faults.add(fault(kind, CALLER_ID, times=None))
        items = [
            # Pages (its page count is learned above: left to choose, it would export, #12).
            bm.PullItem(CALLER_ID, path=r.out / "caller.json", use_async=False),
            bm.PullItem(SUMMARY, format="csv", path=r.out / "summary.csv"),
            bm.PullItem(AGENT_DETAIL),
            bm.PullItem(SUMMARY, use_async=True),
        ]
        async with s.pull_many(items, concurrency=4) as pull:
            await anyio.lowlevel.checkpoint()
            assert client_tasks(), "the leak detector sees a running pull"
            results = await pull.collect()
        faulted, csv_export, agents, job = results
        assert csv_export.ok
        assert csv_export.value == r.out / "summary.csv"
        assert (r.out / "summary.csv").read_bytes() == ref_csv.read_bytes()
        assert agents.ok
        assert agents.value == ref_agents
        assert job.ok
        assert job.value == ref_summary
        if faulted.ok:
            assert (r.out / "caller.json").read_bytes() == ref_caller.read_bytes()
            assert kind in (FaultKind.DELAY, FaultKind.SLOW_BODY)
        else:
            assert isinstance(faulted.error, bm.BrightmetricsError)
            assert not (r.out / "caller.json").exists()
        await check_invariants(r)


# -- timeouts and cancellation -----------------------------------------------------------------


async def test_read_timeout_is_a_typed_error_and_bounded_by_attempts(tmp_path: Path) -> None:
    timeouts = bm.Timeouts(connect=1.0, read=0.05, total=5.0)
    async with rig(tmp_path, timeouts=timeouts) as r:
        r.emulator.faults.add(
            Fault(FaultKind.DELAY, path_contains=SUMMARY, times=None, seconds=0.3)
        )
        with pytest.raises(bm.RequestTimeout):
            await r.session.download(SUMMARY, format="csv")
        assert await r.spent() == 3, "three tries in all, each spending budget"
        await check_invariants(r)
        assert len(r.emulator.requests) == 3


@pytest.mark.parametrize(
    ("gaps", "times_out"),
    [(0.05, False), (0.6, True)],
    ids=["a-slow-body-that-keeps-coming", "a-body-that-stalls"],
)
async def test_the_read_timeout_runs_between_two_reads_of_the_body(
    tmp_path: Path, gaps: float, times_out: bool
) -> None:
    # The session's connections use the library's lazy read timer (one timer per connection,
    # _http._Protocol) on the aiohttp installed: this tests it, not aiohttp's own.
    assert _http._LAZY_TIMER
    timeouts = bm.Timeouts(connect=1.0, read=0.25, total=30.0)
    async with rig(tmp_path, timeouts=timeouts, retry=bm.RetryPolicy(attempts=1)) as r:
        r.emulator.faults.add(
            # 8 pieces, ``gaps`` apart: 0.4 s in all (longer than the read timeout) or 4.8 s
            Fault(FaultKind.SLOW_BODY, path_contains=SUMMARY, times=None, seconds=gaps * 8)
        )

        async def first_page() -> list[dict[str, object]]:
            async with r.session.pages(SUMMARY) as pages:
                async for page in pages:
                    return list(page.rows)
            return []

        if times_out:
            with pytest.raises(bm.RequestTimeout):
                await first_page()
        else:
            assert await first_page()
        assert await r.spent() == 1, "one request, one try"
        await check_invariants(r)


async def test_defaults_are_sane() -> None:
    t = bm.Timeouts()
    assert t.connect is not None
    assert 0 < t.connect <= 60
    assert t.read is not None
    assert 0 < t.read <= 600
    p = bm.RetryPolicy()
    assert 1 < p.attempts <= 5
    assert p.total <= 120


async def test_cancelling_an_export_leaves_nothing(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.emulator.faults.add(
            Fault(FaultKind.SLOW_BODY, path_contains=SUMMARY, times=None, seconds=2.0)
        )
        target = r.out / "summary.pdf"
        with anyio.move_on_after(0.3):
            await r.session.export(SUMMARY, target, format="pdf")
        assert not target.exists()
        await check_invariants(r)


async def test_retry_waits_never_jitter_a_server_retry_after(tmp_path: Path) -> None:
    policy = bm.RetryPolicy(attempts=2, jitter=True, backoff=100.0, backoff_max=100.0)
    async with rig(tmp_path, retry=policy) as r:
        r.emulator.faults.add(Fault(FaultKind.TOO_MANY_REQUESTS, path_contains=SUMMARY, seconds=7))
        start = r.clock.time()
        await r.session.download(SUMMARY, format="csv")
        first, second = r.emulator.requests_to(SUMMARY)
        assert second.at - first.at == pytest.approx(7.0), "exactly the server's Retry-After"
        assert second.at - start == pytest.approx(7.0)
        await check_invariants(r)


async def test_auth_and_filter_errors_are_never_retried(tmp_path: Path) -> None:
    async with rig(tmp_path, auth=bm.ApiKey("0" * 32)) as r:
        with pytest.raises(bm.AuthenticationError):
            await r.session.download(SUMMARY, format="csv")
        assert len(r.emulator.requests) == 1
        await check_invariants(r, fired=False)
    async with rig(tmp_path / "2") as r:
        with pytest.raises(bm.ApiError) as info:
            await r.session.download(SUMMARY, format="csv", filter="Nope eq 1", check=False)
        assert info.value.status == 400
        assert len(r.emulator.requests) == 1
        await check_invariants(r, fired=False)


async def test_leaving_a_bulk_pull_early_cancels_cleanly(tmp_path: Path) -> None:
    async with rig(tmp_path, job_seconds=600.0) as r:
        r.emulator.faults.add(
            Fault(FaultKind.SLOW_BODY, path_contains=SUMMARY, times=None, seconds=5.0)
        )
        items = [
            bm.PullItem(CALLER_ID),
            bm.PullItem(SUMMARY, format="pdf", path=r.out / "slow.pdf"),
            bm.PullItem(AGENT_DETAIL, format="csv", path=r.out / "job.csv", use_async=True),
        ]
        async with r.session.pull_many(items) as pull:
            async for result in pull:
                assert result.index == 0  # the fast one; the others are still running
                break
        assert client_tasks() == []
        assert not (r.out / "slow.pdf").exists()
        assert not (r.out / "job.csv").exists()
        await check_invariants(r)

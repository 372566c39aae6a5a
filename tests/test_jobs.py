"""Asynchronous exports against the emulator, on a virtual clock: nothing really waits."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from aiohttp import web

import brightmetrics_async as bm
from brightmetrics_async.testing import DEMO_API_KEY, Emulator, EmulatorConfig, VirtualClock, serve

from ._servers import peer

pytestmark = pytest.mark.anyio

SUMMARY = "03bd1235-eb2c-410f-a415-fefacd98df41"
CALLER_ID = "68c8e362-b2c2-6f6d-498b-af782b253239"
AGENT_DETAIL = "6f40b845-fb28-4547-b73b-e11ce29f481b"


@asynccontextmanager
async def running(
    clock: VirtualClock, *, policy: bm.PollPolicy | None = None, **config: Any
) -> AsyncIterator[tuple[Emulator, bm.Session]]:
    config.setdefault("quota_limit", None)
    emulator = Emulator(EmulatorConfig(**config), clock=clock.time)
    async with (
        serve(emulator) as server,
        bm.Session(
            bm.ApiKey(DEMO_API_KEY),
            base_url=server.url,
            clock=clock,
            budget=bm.MemoryBudget(limit=1_000_000, clock=clock),
            poll_policy=policy,
        ) as session,
    ):
        yield emulator, session


def polls_of(emulator: Emulator) -> list[float]:
    return [r.at for r in emulator.requests if "/status/" in r.target]


async def test_submit_poll_and_result_rows_match_the_sync_pull() -> None:
    clock = VirtualClock()
    async with running(clock, job_seconds=12.0) as (emulator, s):
        job = await s.submit(SUMMARY)
        assert job.state is bm.JobState.PENDING
        assert job.status_url is not None
        assert "/status/" in job.status_url
        assert job.expires_at == pytest.approx(job.submitted_at + 3600)
        assert job.retry_after == 5.0
        submit = emulator.requests[-1]
        assert submit.header("Prefer") == "respond-async"
        rows = await job.result()
        assert job.done
        expected = bm.PollPolicy().predict_polls(12.0, retry_after=5.0)
        assert job.polls == expected == len(polls_of(emulator))
        sync_rows = [row async for row in s.rows(SUMMARY)]
        assert rows == sync_rows


@pytest.mark.parametrize("http_date", [False, True], ids=["delta-seconds", "http-date"])
async def test_polls_never_come_before_retry_after(http_date: bool) -> None:
    clock = VirtualClock()
    policy = bm.PollPolicy.naive()
    async with running(
        clock, policy=policy, job_seconds=60.0, job_retry_after=7.0, retry_after_http_date=http_date
    ) as (emulator, s):
        job = await s.submit(SUMMARY)
        submitted = clock.time()
        await job.result()
    times = [submitted, *polls_of(emulator)]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(gaps) >= 8
    # An HTTP-date has one-second resolution: it may say up to 1 s less than 7.
    floor = 6.0 if http_date else 7.0
    assert min(gaps) >= floor
    assert times[-1] >= submitted + 60.0


async def test_garbage_retry_after_falls_back_to_the_default() -> None:
    clock = VirtualClock()
    polls: list[float] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/OData.ashx/status/"):
            polls.append(clock.time())
            if len(polls) < 3:
                return web.json_response({}, status=202, headers={"Retry-After": "soon, please"})
            return web.json_response({"value": [{"n": 1}]})
        base = f"http://{request.host}/OData.ashx"
        return web.json_response(
            {"statusUrl": f"{base}/status/1"}, status=202, headers={"Retry-After": "-3, garbage"}
        )

    async with peer(handler) as server:
        policy = bm.PollPolicy.naive()
        async with bm.Session(
            bm.ApiKey("k"),
            base_url=f"{server.url}/OData.ashx",
            clock=clock,
            budget=bm.MemoryBudget(clock=clock),
            poll_policy=policy,
        ) as s:
            start = clock.time()
            job = await s.submit(SUMMARY, check=False)
            assert job.retry_after is None
            assert await job.result() == [{"n": 1}]
    assert [round(t - start, 6) for t in polls] == [5.0, 10.0, 15.0]


async def test_server_ignoring_respond_async_is_already_done() -> None:
    clock = VirtualClock()
    async with running(clock, ignore_respond_async=True) as (emulator, s):
        job = await s.submit(SUMMARY, format="csv")
        assert job.done
        assert job.polls == 0
        with pytest.raises(bm.JobError):
            job.token()
        body = await job.result()
        assert body.startswith(b"Queue_Name")
        with pytest.raises(bm.JobError, match="already read"):
            await job.result()
    assert polls_of(emulator) == []


async def test_export_from_an_immediate_job(tmp_path: Path) -> None:
    clock = VirtualClock()
    async with running(clock, ignore_respond_async=True) as (_, s):
        job = await s.submit(SUMMARY, format="csv")
        path = await job.export(tmp_path / "summary.csv")
    rows = list(csv.reader(io.StringIO(path.read_text())))
    assert rows[0][0] == "Queue_Name"
    assert len(rows) > 1


@pytest.mark.parametrize("knob", ["omit_location", "omit_status_url", "move_location"])
async def test_status_url_from_either_place_and_moved_locations(knob: str) -> None:
    clock = VirtualClock()
    knobs: dict[str, Any] = {knob: True}
    async with running(clock, job_seconds=40.0, **knobs) as (emulator, s):
        job = await s.submit(SUMMARY)
        first = job.status_url
        await job.result()
        targets = [r.target for r in emulator.requests if "/status/" in r.target]
    assert all(r.status in (200, 202) for r in emulator.requests)
    if knob == "move_location":
        assert len(set(targets)) == len(targets) > 1, "each poll went to the new Location"
        assert first is not None
        assert targets[0] == first.split("127.0.0.1", 1)[1].split("/", 1)[1].join(["/", ""])


async def test_export_job_to_file_atomically(tmp_path: Path) -> None:
    clock = VirtualClock()
    async with running(clock, job_seconds=30.0) as (_, s):
        job = await s.submit(CALLER_ID, format="csv;formatted")
        target = tmp_path / "out" / "callers.csv"
        path = await job.export(target)
    assert path == target
    assert target.read_bytes().startswith(b"Call")
    assert [p.name for p in target.parent.iterdir()] == ["callers.csv"]


async def test_expiry_is_raised_locally_without_a_request() -> None:
    clock = VirtualClock()
    async with running(clock, job_seconds=5000.0) as (emulator, s):
        job = await s.submit(SUMMARY)
        with pytest.raises(bm.JobExpired) as info:
            await job.result()
        sent = len(emulator.requests)
        assert info.value.token is not None
        assert job.state is bm.JobState.EXPIRED
        # Waiting again on the expired job spends nothing.
        with pytest.raises(bm.JobError):
            await job.result()
        assert len(emulator.requests) == sent
        last_poll = polls_of(emulator)[-1]
        assert last_poll <= job.submitted_at + 3600
        # A token past its hour is refused locally.
        clock.advance(3600)
        with pytest.raises(bm.InvalidToken):
            await s.resume(info.value.token)
        assert len(emulator.requests) == sent
    assert isinstance(info.value, TimeoutError)


async def test_status_url_gone_is_job_expired() -> None:
    clock = VirtualClock()
    async with running(clock, job_seconds=500.0, job_ttl=60.0) as (emulator, s):
        job = await s.submit(SUMMARY)
        with pytest.raises(bm.JobExpired, match="404") as info:
            await job.result()
    assert emulator.requests[-1].status == 404
    assert info.value.token is not None


async def test_resume_in_another_session() -> None:
    clock = VirtualClock()
    async with running(clock, job_seconds=100.0) as (_emulator, first):
        job = await first.submit(SUMMARY, format="csv")
        await clock.sleep(30)
        assert await job.status() is bm.JobState.PENDING
        token = job.token()
        assert DEMO_API_KEY not in token
        polls_before = job.polls
        async with bm.Session(
            bm.ApiKey(DEMO_API_KEY),
            base_url=first.base_url,
            clock=clock,
            budget=bm.MemoryBudget(clock=clock),
        ) as second:
            resumed = await second.resume(token)
            assert resumed.status_url == job.status_url
            assert resumed.polls == polls_before
            body = await resumed.result()
    assert body.startswith(b"Queue_Name")
    assert job.polls == polls_before


async def test_cancelling_a_wait_stops_polling_and_leaks_nothing(tmp_path: Path) -> None:
    clock = VirtualClock(autojump=False)  # time moves only when this test says so
    async with running(clock, job_seconds=600.0) as (emulator, s):
        job = await s.submit(SUMMARY, format="csv")
        tasks_before = len(asyncio.all_tasks())
        async with anyio.create_task_group() as tg:
            tg.start_soon(job.export, tmp_path / "never.csv")
            while clock.sleepers == 0:
                await anyio.sleep(0.001)
            clock.advance(job.next_poll_at - clock.time() if job.next_poll_at else 0)
            while job.polls == 0 or clock.sleepers == 0:
                await anyio.sleep(0.001)
            tg.cancel_scope.cancel()
        sent = len(emulator.requests)
        assert job.polls == 1
        clock.advance(3600 * 2)
        await anyio.sleep(0.05)
        assert len(emulator.requests) == sent, "no poll after cancellation"
        assert clock.sleepers == 0
        assert list(tmp_path.iterdir()) == [], "no temporary file left behind"
        http = s.aiohttp_session
        assert http is not None
        assert http.connector is not None
        assert not http.connector._acquired
        assert len(asyncio.all_tasks()) <= tasks_before
        assert job.state is bm.JobState.PENDING, "the server job is not pretended cancelled"


async def test_a_thousand_jobs_concurrently_with_the_exact_poll_count() -> None:
    clock = VirtualClock()
    duration, n = 47.0, 1000
    policy = bm.PollPolicy()
    expected = policy.predict_polls(duration, retry_after=5.0)
    async with running(clock, job_seconds=duration, policy=policy) as (emulator, s):
        jobs = []
        for _ in range(n):
            jobs.append(await s.submit(SUMMARY, format="csv"))
        results: list[bytes] = []

        async def wait(job: bm.Job) -> None:
            results.append(await job.result())

        async with anyio.create_task_group() as tg:
            for job in jobs:
                tg.start_soon(wait, job)
    assert len(results) == n
    assert all(r.startswith(b"Queue_Name") for r in results)
    assert [j.polls for j in jobs] == [expected] * n
    assert len(polls_of(emulator)) == n * expected
    assert expected < duration / 5


async def test_learning_cuts_polls_on_a_repeated_report() -> None:
    clock = VirtualClock()
    duration = 300.0
    async with running(clock, job_seconds=duration) as (_, s):
        counts = []
        for _ in range(3):
            job = await s.submit(CALLER_ID, format="csv")
            await job.result()
            counts.append(job.polls)
    naive = bm.PollPolicy.naive().predict_polls(duration)
    assert counts[0] == bm.PollPolicy().predict_polls(duration)
    assert counts[1] < counts[0] < naive
    assert counts[2] <= counts[1]


async def test_filters_and_timezone_are_checked_before_submission() -> None:
    clock = VirtualClock()
    async with running(clock) as (emulator, s):
        await s.filters(AGENT_DETAIL)
        sent = len(emulator.requests)
        with pytest.raises(bm.FilterError):
            await s.submit(AGENT_DETAIL, filter="Agent_Name eq 'a' and Agent_Name_by_Skill eq 'b'")
        with pytest.raises(bm.UnknownTimezone):
            await s.submit(AGENT_DETAIL, timezone="Mars/Olympus_Mons")
        with pytest.raises(bm.ConfigurationError):
            await s.submit(AGENT_DETAIL, format="docx")
        assert len(emulator.requests) == sent


async def test_a_finished_job_serves_its_result_again_within_the_hour(tmp_path: Path) -> None:
    clock = VirtualClock()
    async with running(clock, job_seconds=20.0) as (emulator, s):
        job = await s.submit(SUMMARY, format="csv")
        first = await job.result()
        sent = len(emulator.requests)
        path = await job.export(tmp_path / "again.csv")
        assert path.read_bytes() == first
        assert len(emulator.requests) == sent + 1, "one request: the status URL again"
        clock.advance(3600)
        with pytest.raises(bm.JobExpired) as info:
            await job.result()
        assert len(emulator.requests) == sent + 1, "past its hour: refused locally"
        assert info.value.token is not None

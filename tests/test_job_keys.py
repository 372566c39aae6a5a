"""``submit(..., key=...)``: one job per key and account, across tasks, processes and restarts
(SQLite and Redis registries); bad keys refused before any request; foreign records unused."""

from __future__ import annotations

import json
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

import brightmetrics_async as bm
from brightmetrics_async._job_keys import JobRecord, check_job_key, request_fingerprint
from brightmetrics_async._tokens import JobToken, encode_token
from brightmetrics_async.testing import (
    DEMO_API_KEY,
    Emulator,
    EmulatorConfig,
    EmulatorServer,
    RequestRecord,
    VirtualClock,
    serve,
)

from ._redis_fixture import redis_server
from ._replica_worker import KEY, SUMMARY

__all__ = ["redis_server"]

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def submissions(requests: list[RequestRecord]) -> list[RequestRecord]:
    return [r for r in requests if r.header("Prefer") == "respond-async"]


@pytest.fixture(params=["sqlite", "redis"])
async def keys(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[bm.JobKeys]:
    if request.param == "sqlite":
        store: bm.JobKeys = bm.SQLiteJobKeys(tmp_path / "jobs.sqlite3")
    else:
        url = request.getfixturevalue("redis_server")
        store = bm.RedisJobKeys(url, key_prefix=f"test:{uuid.uuid4().hex}:")
    async with store:
        yield store


def session(
    server: EmulatorServer, clock: VirtualClock, keys: bm.JobKeys, **kw: object
) -> bm.Session:
    return bm.Session(
        bm.ApiKey(DEMO_API_KEY),
        base_url=server.url,
        clock=clock,
        budget=bm.MemoryBudget(clock=clock),
        job_keys=keys,
        poll_policy=bm.PollPolicy.naive(),
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("bad", [123, None, b"k", "", "   ", "k" * 201])
async def test_bad_keys_are_refused_before_any_request(
    bm_server: EmulatorServer, bm_clock: VirtualClock, tmp_path: Path, bad: object
) -> None:
    async with session(bm_server, bm_clock, bm.SQLiteJobKeys(tmp_path / "k.sqlite3")) as s:
        if bad is None:
            return  # key=None is "no key": covered elsewhere
        with pytest.raises(bm.ConfigurationError):
            await s.submit(SUMMARY, format="csv", key=bad)  # type: ignore[arg-type]
    assert bm_server.emulator.requests == []
    assert check_job_key("k" * 200) == "k" * 200


async def test_a_key_starts_one_job_then_resumes_and_refetches_it(
    bm_server: EmulatorServer, bm_clock: VirtualClock, keys: bm.JobKeys
) -> None:
    log = bm_server.emulator.requests
    async with session(bm_server, bm_clock, keys) as s:
        first = await s.submit(SUMMARY, format="csv", key=KEY)
        again = await s.submit(SUMMARY, format="csv", key=KEY)
        assert again.status_url == first.status_url
        assert len(log) == 1  # resumed from the record: no request
        [record] = await s.jobs()
        assert record.key == KEY
        assert record.token is not None
        assert DEMO_API_KEY not in repr(record)
        body = await first.result()
        spent = len(log)
        # A finished job within its hour: fetched again with one request, not resubmitted.
        third = await s.submit(SUMMARY, format="csv", key=KEY)
        assert await third.result() == body
        assert len(log) == spent + 1
        assert len(submissions(log)) == 1
        # The same key for another request is an error, not a wrong answer.
        with pytest.raises(bm.ConfigurationError, match="another request"):
            await s.submit(SUMMARY, format="pdf", key=KEY)
        # Past its hour the record is dead: a new job.
        await bm_clock.sleep(3601)
        assert await s.jobs() == []
        await s.submit(SUMMARY, format="csv", key=KEY)
        assert len(submissions(log)) == 2


async def test_concurrent_submits_of_one_key_start_one_job(
    bm_server: EmulatorServer, bm_clock: VirtualClock, keys: bm.JobKeys
) -> None:
    urls: list[str | None] = []
    async with session(bm_server, bm_clock, keys) as s:

        async def one() -> None:
            urls.append((await s.submit(SUMMARY, format="csv", key=KEY)).status_url)

        async with anyio.create_task_group() as tg:
            for _ in range(10):
                tg.start_soon(one)
    assert len(set(urls)) == 1
    assert len(submissions(bm_server.emulator.requests)) == 1


async def test_records_of_another_account_or_service_are_never_used(
    bm_server: EmulatorServer, bm_clock: VirtualClock, keys: bm.JobKeys
) -> None:
    async with session(bm_server, bm_clock, keys, account="acme") as s:
        mine = await s.submit(SUMMARY, format="csv", key=KEY)
    async with session(bm_server, bm_clock, keys, account="other") as s:
        theirs = await s.submit(SUMMARY, format="csv", key=KEY)
        assert [r.token for r in await s.jobs()] == [theirs.token()]
    assert theirs.status_url != mine.status_url
    emulator = Emulator(EmulatorConfig(quota_limit=None), clock=bm_clock.time)
    async with serve(emulator) as second, session(second, bm_clock, keys, account="acme") as s:
        elsewhere = await s.submit(SUMMARY, format="csv", key=KEY)
        assert elsewhere.status_url is not None
        assert elsewhere.status_url.startswith(second.origin)
        assert len(submissions(emulator.requests)) == 1
    assert len(submissions(bm_server.emulator.requests)) == 2


async def test_a_forged_record_pointing_elsewhere_is_dropped(
    bm_server: EmulatorServer, bm_clock: VirtualClock, keys: bm.JobKeys
) -> None:
    async with session(bm_server, bm_clock, keys, account="acme") as s:
        now = bm_clock.time()
        forged = encode_token(
            JobToken(
                status_url="https://evil.example/status/1",
                report=SUMMARY,
                format="csv",
                submitted_at=now,
                expires_at=now + 3600,
            )
        )
        scope = s._job_scope()
        data_url = await s.data_url(SUMMARY, format="csv")
        request = request_fingerprint(data_url, bm.Format.CSV.value)
        assert (
            await keys.claim(scope, KEY, request=request, owner="x", now=now, stale_after=60)
            is None
        )
        await keys.record(scope, KEY, owner="x", token=forged, expires_at=now + 3600)
        job = await s.submit(SUMMARY, format="csv", key=KEY)
        assert job.status_url is not None
        assert job.status_url.startswith(bm_server.origin)
        [record] = await s.jobs()
        assert isinstance(record, JobRecord)
        assert record.token == job.token()
    assert len(submissions(bm_server.emulator.requests)) == 1


async def test_a_failed_submission_releases_the_key(
    bm_server: EmulatorServer, bm_clock: VirtualClock, keys: bm.JobKeys
) -> None:
    async with session(bm_server, bm_clock, keys) as s:
        with pytest.raises(bm.NotFound):
            await s.submit("00000000-0000-0000-0000-000000000000", format="csv", key=KEY)
        assert await s.jobs() == []
        job = await s.submit(SUMMARY, format="csv", key=KEY)  # not blocked by a dead claim
        assert job.status_url is not None


# -- processes ------------------------------------------------------------------------------


def worker(server: EmulatorServer, db: Path | str, marker: str) -> list[str]:
    return [sys.executable, "-m", "tests._replica_worker", "submit", server.url, str(db), marker]


@pytest.mark.slow
@pytest.mark.parametrize("store", ["sqlite", "redis"])
async def test_two_processes_submitting_one_key_at_once_start_one_job(
    tmp_path: Path, store: str, request: pytest.FixtureRequest
) -> None:
    if store == "redis":
        url = request.getfixturevalue("redis_server")
        client = pytest.importorskip("redis.asyncio").Redis.from_url(url)
        await client.delete(*[k async for k in client.scan_iter(match="bm:jobs:*")] or ["-"])
        await client.aclose()
        db: str = url
    else:
        db = str(tmp_path / "jobs.sqlite3")
    emulator = Emulator(EmulatorConfig(quota_limit=None, job_seconds=600.0))
    async with serve(emulator) as server:
        outs: list[str] = []

        async def run() -> None:
            done = await anyio.run_process(worker(server, db, "-"), cwd=ROOT, env=ENV, check=False)
            assert done.returncode == 0, done.stderr.decode()
            outs.append(done.stdout.decode())

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                tg.start_soon(run)
                tg.start_soon(run)
    urls = {json.loads(out.splitlines()[0])["status_url"] for out in outs}
    assert len(urls) == 1
    assert len(submissions(emulator.requests)) == 1


@pytest.mark.slow
async def test_after_sigterm_a_restart_continues_the_job_without_submitting(tmp_path: Path) -> None:
    clock = VirtualClock(autojump=False)  # held still: the job runs until the test says
    emulator = Emulator(
        EmulatorConfig(quota_limit=None, job_seconds=20.0, job_retry_after=1.0), clock=clock.time
    )
    db, marker = tmp_path / "jobs.sqlite3", tmp_path / "waiting"
    async with serve(emulator) as server:
        proc = await anyio.open_process(worker(server, db, str(marker)), cwd=ROOT, env=ENV)
        try:
            with anyio.fail_after(30):
                while not marker.exists():
                    assert proc.returncode is None, "the worker ended before waiting"
                    await anyio.sleep(0.02)
            proc.send_signal(signal.SIGTERM)
            with anyio.fail_after(30):
                await proc.wait()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.returncode != 0
        assert len(submissions(emulator.requests)) == 1
        clock.advance(30)  # the job is done now
        with anyio.fail_after(60):
            done = await anyio.run_process(
                worker(server, db, str(marker)), cwd=ROOT, env=ENV, check=False
            )
        assert done.returncode == 0, done.stderr.decode()
        lines = [json.loads(line) for line in done.stdout.decode().splitlines()]
        assert lines[-1]["done"] > 0
    assert len(submissions(emulator.requests)) == 1
    assert emulator.requests[-1].status == 200  # the one poll that found it done


async def test_a_claim_whose_owner_died_before_submitting_is_taken_over(
    bm_server: EmulatorServer, bm_clock: VirtualClock, keys: bm.JobKeys
) -> None:
    async with session(bm_server, bm_clock, keys, max_wait=1.0) as s:
        data_url = await s.data_url(SUMMARY, format="csv")
        request = request_fingerprint(data_url, bm.Format.CSV.value)
        scope, now = s._job_scope(), bm_clock.time()
        # A claim with no token yet: another process is submitting, so this one waits...
        assert (
            await keys.claim(scope, KEY, request=request, owner="dead", now=now, stale_after=1)
            is None
        )
        job = await s.submit(SUMMARY, format="csv", key=KEY)  # ...until the claim is stale
        assert job.status_url is not None
        assert bm_clock.time() - now >= s._claim_timeout
    assert len(submissions(bm_server.emulator.requests)) == 1

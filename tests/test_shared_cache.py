"""``max_age=`` answers: one process (memory), replicas sharing Redis, a dead lease holder, and
Redis lost mid-lease. Real processes, a real redis-server, requests counted by the emulator."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

import brightmetrics_async as bm
from brightmetrics_async._results import result_key
from brightmetrics_async._shared_cache import check_max_age, read_through
from brightmetrics_async.testing import (
    DEMO_API_KEY,
    Emulator,
    EmulatorConfig,
    EmulatorServer,
    VirtualClock,
    serve,
)

from ._redis_fixture import redis_server, running_redis_server
from ._replica_worker import ACCOUNT, REPORTS

__all__ = ["redis_server"]

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
Fetch = Callable[[], Awaitable[bytes]]
CALLER_ID = "68c8e362-b2c2-6f6d-498b-af782b253239"


@pytest.fixture
async def real_server() -> AsyncIterator[EmulatorServer]:
    """An emulator on the real clock (other processes talk to it)."""
    async with serve(Emulator(EmulatorConfig(quota_limit=None))) as server:
        yield server


def redis_client(url: str) -> Any:
    """A redis-py client (the redis extra; skipped without it)."""
    return pytest.importorskip("redis.asyncio").Redis.from_url(url)


async def flushed(url: str) -> None:
    client = redis_client(url)
    try:
        await client.flushall()
    finally:
        await client.aclose()


def worker(*args: str) -> list[str]:
    return [sys.executable, "-m", "tests._replica_worker", *args]


# -- one process --------------------------------------------------------------------------


async def test_rows_within_max_age_cost_nothing_and_concurrent_pulls_share_one(
    bm_server: EmulatorServer, bm_clock: VirtualClock
) -> None:
    async with bm.Session(
        bm.ApiKey(DEMO_API_KEY), base_url=bm_server.url, clock=bm_clock, budget=bm.MemoryBudget()
    ) as s:

        async def pull() -> list[dict[str, object]]:
            return [row async for row in s.rows(CALLER_ID, max_age=60)]

        results: list[list[dict[str, object]]] = []
        async with anyio.create_task_group() as tg:
            for _ in range(10):
                tg.start_soon(lambda: _append(results, pull()))
        pages = len(bm_server.emulator.requests)
        assert pages >= 2  # a paged pull...
        assert all(r == results[0] for r in results)  # ...fetched once for ten callers
        assert await pull() == results[0]
        assert len(bm_server.emulator.requests) == pages
        plain = [row async for row in s.rows(CALLER_ID)]
        assert plain == results[0]
        assert len(bm_server.emulator.requests) == 2 * pages
        await bm_clock.sleep(61)  # too old now
        assert await pull() == results[0]
        assert len(bm_server.emulator.requests) == 3 * pages


async def _append(out: list[list[dict[str, object]]], rows: object) -> None:
    out.append(await rows)  # type: ignore[misc]


async def test_download_max_age_per_format_and_filter(
    bm_server: EmulatorServer, bm_clock: VirtualClock
) -> None:
    async with bm.Session(
        bm.ApiKey(DEMO_API_KEY), base_url=bm_server.url, clock=bm_clock, budget=bm.MemoryBudget()
    ) as s:
        csv = await s.download(REPORTS[0], format="csv", max_age=30)
        assert await s.download(REPORTS[0], format="csv", max_age=30) == csv
        assert len(bm_server.emulator.requests) == 1
        await s.download(REPORTS[0], format="xlsx", max_age=30)
        await s.download(REPORTS[0], format="csv", timezone="UTC", max_age=30)
        assert len(bm_server.emulator.requests) == 3


async def test_bad_max_age_is_refused_before_any_request(bm_server: EmulatorServer) -> None:
    async with bm.Session(
        bm.ApiKey(DEMO_API_KEY), base_url=bm_server.url, budget=bm.MemoryBudget()
    ) as s:
        with pytest.raises(TypeError):
            await s.download(REPORTS[0], format="csv", max_age="60")  # type: ignore[arg-type]
        with pytest.raises(bm.ConfigurationError):
            await s.download(REPORTS[0], format="csv", max_age=-1)
        with pytest.raises(bm.ConfigurationError):
            s.rows(REPORTS[0], max_age=float("nan"))
    assert bm_server.emulator.requests == []
    assert check_max_age(0) == 0.0
    with pytest.raises(TypeError):
        check_max_age(True)


def test_cache_keys_separate_accounts_urls_and_formats() -> None:
    keys = {
        result_key("a", "http://h/x", {"Accept": "text/csv"}),
        result_key("b", "http://h/x", {"Accept": "text/csv"}),
        result_key("a", "http://h/y", {"Accept": "text/csv"}),
        result_key("a", "http://h/x", {"Accept": "application/pdf"}),
    }
    assert len(keys) == 4
    # The credential never selects (nor enters) a key.
    signed = {"Accept": "text/csv", "Authorization": f"Bearer {DEMO_API_KEY}"}
    assert result_key("a", "http://h/x", signed) in keys
    assert DEMO_API_KEY not in "".join(keys)


def test_redis_cache_refuses_bad_arguments() -> None:
    with pytest.raises(bm.ConfigurationError):
        bm.RedisResultCache()
    with pytest.raises(bm.ConfigurationError):
        bm.RedisResultCache("redis://127.0.0.1:1/0", lease=0)
    assert "secret" not in repr(bm.RedisResultCache("redis://:secret@127.0.0.1:1/0"))


# -- replicas --------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.redis
async def test_three_replicas_1000_requests_5_reports_spend_5(
    real_server: EmulatorServer, redis_server: str
) -> None:
    await flushed(redis_server)
    counts = [334, 333, 333]
    outs = await _run_all([worker("serve", real_server.url, redis_server, str(n)) for n in counts])
    results = [json.loads(out.strip().splitlines()[-1]) for out in outs]
    assert sum(r["answers"] for r in results) == 1000
    sizes = [r["sizes"] for r in results]
    assert all(sz == sizes[0] for sz in sizes)  # every replica served the same answers
    data = [r for r in real_server.emulator.requests if r.status == 200]
    assert len(real_server.emulator.requests) == len(data) == 5
    assert sorted(r.path.rsplit("/", 1)[1] for r in data) == sorted(REPORTS)
    assert sum(r["sent"] for r in results) == 5
    async with bm.RedisBudget(redis_server) as budget:
        assert (await budget.snapshot(ACCOUNT)).spent == len(real_server.emulator.requests)


async def _run_all(commands: list[list[str]]) -> list[str]:
    outs: list[str] = [""] * len(commands)

    async def run(i: int) -> None:
        done = await anyio.run_process(commands[i], cwd=ROOT, env=ENV, check=False)
        assert done.returncode == 0, done.stderr.decode()
        outs[i] = done.stdout.decode()

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            for i in range(len(commands)):
                tg.start_soon(run, i)
    return outs


@pytest.mark.slow
@pytest.mark.redis
async def test_a_sigkilled_lease_holder_delays_the_others_by_the_lease_only(
    real_server: EmulatorServer, redis_server: str, tmp_path: Path
) -> None:
    await flushed(redis_server)
    marker = tmp_path / "holding"
    holder = await anyio.open_process(
        worker("hold", real_server.url, redis_server, str(marker), "0.2"), cwd=ROOT, env=ENV
    )
    try:
        with anyio.fail_after(30):
            while not marker.exists():
                assert holder.returncode is None, "the holder ended before taking the lease"
                await anyio.sleep(0.02)
        holder.send_signal(signal.SIGKILL)
        await holder.wait()
    finally:
        if holder.returncode is None:
            holder.kill()
            await holder.wait()
    [out] = await _run_all([worker("serve", real_server.url, redis_server, "1")])
    result = json.loads(out.strip().splitlines()[-1])
    assert result["answers"] == 1
    assert result["sizes"][REPORTS[0]] > 0
    # The holder never sent its request; the waiter took the expired lease and sent one.
    assert len(real_server.emulator.requests) == 1


@pytest.mark.redis
async def test_redis_lost_mid_lease_degrades_to_direct_requests(
    bm_server: EmulatorServer, bm_clock: VirtualClock
) -> None:
    async with bm.Session(
        bm.ApiKey(DEMO_API_KEY), base_url=bm_server.url, clock=bm_clock, budget=bm.MemoryBudget()
    ) as s:
        holding, waiting, release = anyio.Event(), anyio.Event(), anyio.Event()
        answers: dict[str, bytes] = {}

        async def slow() -> bytes:
            holding.set()
            await release.wait()
            return await s.download(REPORTS[0], format="csv")

        async def direct() -> bytes:
            return await s.download(REPORTS[0], format="csv")

        async def step(seconds: float) -> None:
            waiting.set()
            await anyio.sleep(seconds)

        stack = contextlib.ExitStack()
        url = stack.enter_context(running_redis_server())
        a = bm.RedisResultCache(url, lease=30.0)
        b = bm.RedisResultCache(url, lease=30.0, sleep=step)
        try:

            async def ask(name: str, cache: bm.RedisResultCache, fetch: Fetch) -> None:
                # What each replica does (no in-process singleflight: two replicas here).
                body = await cache.get("k", max_age=60, now=bm_clock.time())
                if body is None:
                    body = await fetch()
                    await cache.put("k", body, now=bm_clock.time())
                answers[name] = body

            with anyio.fail_after(30):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(ask, "a", a, slow)
                    await holding.wait()  # a holds the lease
                    tg.start_soon(ask, "b", b, direct)
                    await waiting.wait()  # b waits on it
                    stack.close()  # Redis dies
                    while "b" not in answers:
                        await anyio.sleep(0.01)
                    assert "a" not in answers
                    release.set()
        finally:
            stack.close()
            await a.aclose()
            await b.aclose()
    assert answers["a"] == answers["b"]
    assert len(answers["a"]) > 0
    assert a.degraded == 1  # could not store its answer
    assert b.degraded == 1  # fetched directly
    assert len(bm_server.emulator.requests) == 2


@pytest.mark.redis
async def test_a_failed_fetch_releases_its_lease_and_shares_no_error(
    redis_server: str, bm_clock: VirtualClock
) -> None:
    await flushed(redis_server)

    async def never(seconds: float) -> None:
        raise AssertionError("waited on a lease nobody holds")

    async def boom() -> bytes:
        raise bm.TransportError("connection reset")

    async with (
        bm.RedisResultCache(redis_server) as a,
        bm.RedisResultCache(redis_server, sleep=never) as b,
    ):
        with pytest.raises(bm.TransportError):
            await read_through(a, "k", max_age=60, clock=bm_clock, fetch=boom)
        # The lease is free again: another replica takes it at once, fetches and shares.
        assert await b.get("k", max_age=60, now=bm_clock.time()) is None
        await b.put("k", b"answer", now=bm_clock.time())
        assert await a.get("k", max_age=60, now=bm_clock.time()) == b"answer"
        await bm_clock.sleep(61)  # too old for max_age=60: a takes the lease
        assert await a.get("k", max_age=60, now=bm_clock.time()) is None
    assert a.degraded == b.degraded == 0

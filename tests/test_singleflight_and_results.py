"""No duplicate requests in one process: concurrent identical requests share one; ``max_age=``
serves a recent response again. Requests are counted from the emulator's log."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

import brightmetrics_async as bm
from brightmetrics_async._results import MemoryResultCache, result_key
from brightmetrics_async._singleflight import SingleFlight, flights
from brightmetrics_async.testing import DEMO_API_KEY, EmulatorServer, VirtualClock

pytestmark = pytest.mark.anyio

SUMMARY = "0c15c8a5-128b-488b-8758-ef15868c3b5b"


async def test_concurrent_calls_with_one_key_share_one_call() -> None:
    sf = SingleFlight()
    calls: list[str] = []
    gate = anyio.Event()
    got: list[int] = []

    async def work(key: str) -> int:
        calls.append(key)
        await gate.wait()
        return len(key)

    async def caller(key: str) -> None:
        got.append(await sf.do(key, lambda: work(key)))

    async with anyio.create_task_group() as tg:
        for key in ("aa", "aa", "aa", "bbb"):
            tg.start_soon(caller, key)
        await anyio.wait_all_tasks_blocked()
        gate.set()
    assert sorted(calls) == ["aa", "bbb"]
    assert sorted(got) == [2, 2, 2, 3]
    assert sf.shared == 2
    # Not a cache: once done, the next call runs again.
    assert await sf.do("aa", lambda: work("aa")) == 2
    assert calls.count("aa") == 2


async def test_followers_get_the_leaders_error_but_not_its_cancellation() -> None:
    sf = SingleFlight()
    gate = anyio.Event()
    runs = 0

    async def fail() -> int:
        await gate.wait()
        raise bm.TransportError("boom")

    async def slow() -> int:
        nonlocal runs
        runs += 1
        await gate.wait()
        return 7

    errors: list[BaseException] = []

    async def caller() -> None:
        try:
            await sf.do("k", fail)
        except bm.TransportError as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(caller)
        tg.start_soon(caller)
        await anyio.wait_all_tasks_blocked()
        gate.set()
    assert len(errors) == 2

    gate = anyio.Event()
    got: list[int] = []
    async with anyio.create_task_group() as tg:
        leader = anyio.CancelScope()

        async def lead() -> None:
            with leader:
                await sf.do("j", slow)

        async def follow() -> None:
            got.append(await sf.do("j", slow))

        tg.start_soon(lead)
        await anyio.wait_all_tasks_blocked()
        tg.start_soon(follow)
        await anyio.wait_all_tasks_blocked()
        leader.cancel()  # the leader goes; the follower runs the call itself
        await anyio.wait_all_tasks_blocked()
        gate.set()
    assert got == [7]
    assert runs == 2


def session(server: EmulatorServer, clock: VirtualClock, **kw: object) -> bm.Session:
    return bm.Session(
        bm.ApiKey(DEMO_API_KEY),
        base_url=server.url,
        clock=clock,
        budget=bm.MemoryBudget(limit=10_000, clock=clock),
        cache=None,
        **kw,  # type: ignore[arg-type]
    )


async def test_two_sessions_asking_at_once_send_one_request(
    bm_server: EmulatorServer, bm_clock: VirtualClock
) -> None:
    log = bm_server.emulator.requests
    async with session(bm_server, bm_clock) as a, session(bm_server, bm_clock) as b:
        found: list[list[bm.Report]] = []

        async def ask(s: bm.Session) -> None:
            found.append(await s.reports())

        async with anyio.create_task_group() as tg:
            tg.start_soon(ask, a)
            tg.start_soon(ask, b)
        assert found[0] == found[1]
        assert len(log) == 1
        assert a.requests_sent + b.requests_sent == 1
        pages: list[list[bm.Page]] = []

        async def read(s: bm.Session) -> None:
            pages.append([p async for p in s.pages(SUMMARY)])

        async with anyio.create_task_group() as tg:
            tg.start_soon(read, a)
            tg.start_soon(read, b)
        assert pages[0] == pages[1]
        assert len(log) == 2
        # One after the other: not shared (no cache without max_age).
        await b.download(SUMMARY, format="csv")
        await b.download(SUMMARY, format="csv")
        assert len(log) == 4
    assert flights().shared >= 2


async def test_max_age_serves_a_recent_response_without_a_request(
    bm_server: EmulatorServer, bm_clock: VirtualClock, tmp_path: Path
) -> None:
    log = bm_server.emulator.requests
    results = MemoryResultCache()
    async with session(bm_server, bm_clock, result_cache=results) as s:
        first = await s.download(SUMMARY, format="csv", max_age=60)
        assert await s.download(SUMMARY, format="csv", max_age=60) == first
        assert len(log) == 1
        path = await s.export(SUMMARY, tmp_path / "s.csv", format="csv", max_age=60)
        assert path.read_bytes() == first
        assert len(log) == 1
        rows = [r async for r in s.rows(SUMMARY, max_age=60)]
        assert [r async for r in s.rows(SUMMARY, max_age=60)] == rows
        assert await s.download(SUMMARY, max_age=60)  # JSON: the cached pages
        assert len(log) == 2
        await bm_clock.sleep(61)
        assert await s.download(SUMMARY, format="csv", max_age=60) == first
        assert len(log) == 3  # too old: fetched again
        await s.download(SUMMARY, format="csv")  # no max_age: always a request
        assert len(log) == 4
        with pytest.raises(bm.ConfigurationError):
            await s.download(SUMMARY, format="csv", max_age=-1)
        with pytest.raises(bm.ConfigurationError):
            s.rows(SUMMARY, max_age=float("nan"))
    # Another session of the process shares the cache it is given.
    async with session(bm_server, bm_clock, result_cache=results) as other:
        assert await other.download(SUMMARY, format="csv", max_age=60) == first
    assert len(log) == 4


async def test_the_result_cache_is_bounded_and_keyed_without_credentials() -> None:
    cache = MemoryResultCache(max_bytes=10)
    await cache.put("a", b"12345", now=0)
    await cache.put("b", b"12345", now=0)
    await cache.put("c", b"1", now=0)  # over 10 bytes: "a" goes first
    assert await cache.get("a", max_age=10, now=1) is None
    assert await cache.get("b", max_age=10, now=1) == b"12345"
    await cache.put("big", b"x" * 11, now=0)  # larger than the cache: not kept
    assert await cache.get("big", max_age=10, now=1) is None
    assert await cache.get("b", max_age=10, now=20) is None
    with pytest.raises(bm.ConfigurationError):
        MemoryResultCache(max_bytes=-1)
    k1 = result_key("s", "https://x/r", {"Accept": "text/csv", "Authorization": "Bearer 1"})
    k2 = result_key("s", "https://x/r", {"accept": "text/csv", "Authorization": "Bearer 2"})
    assert k1 == k2
    assert "Bearer" not in k1
    assert k1 != result_key("s", "https://x/r", {"Accept": "application/json"})

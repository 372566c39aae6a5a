"""The knowledge store in a session: documents, durations and page counts across sessions.

Requests are counted from the emulator's log. Each "process" is a fresh Session with a fresh
store object on the same file: nothing is shared but the file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import brightmetrics_async as bm
from brightmetrics_async._knowledge._learner import SERVICE, filters_key
from brightmetrics_async.testing import (
    DEMO_ACCOUNT,
    DEMO_API_KEY,
    Emulator,
    EmulatorConfig,
    EmulatorServer,
    VirtualClock,
)

pytestmark = pytest.mark.anyio

REPORTS = {r.title: r.guid for r in Emulator().reports_for(DEMO_ACCOUNT)}
SUMMARY = "Service Summary"
DETAIL = "Agent Detail"


@pytest.fixture
def bm_emulator_config() -> EmulatorConfig:
    # Export jobs of the summary take 100-120 s (a 20% spread), drawn by the emulator.
    return EmulatorConfig(job_seconds_by_report={REPORTS[SUMMARY]: (100.0, 120.0)})


def session(
    server: EmulatorServer, clock: VirtualClock, cache: bm.KnowledgeStore | None, **kw: object
) -> bm.Session:
    return bm.Session(
        bm.ApiKey(DEMO_API_KEY),
        base_url=server.url,
        clock=clock,
        budget=bm.MemoryBudget(limit=10_000, clock=clock),
        cache=cache,
        **kw,  # type: ignore[arg-type]
    )


def sqlite(tmp_path: Path) -> bm.SQLiteKnowledge:
    return bm.SQLiteKnowledge(tmp_path / "knowledge.sqlite3")


async def test_a_warm_title_lookup_costs_no_request(
    bm_server: EmulatorServer, bm_clock: VirtualClock, tmp_path: Path
) -> None:
    log = bm_server.emulator.requests
    async with session(bm_server, bm_clock, sqlite(tmp_path)) as s:
        cold = await s.report(DETAIL)
    assert len(log) == 1
    async with session(bm_server, bm_clock, sqlite(tmp_path)) as s:
        warm = await s.report(DETAIL)
        assert await s.reports() == [r async for r in _aiter(await s.reports())]
    assert warm == cold
    assert len(log) == 1  # the second process read the store


async def _aiter(items: list[bm.Report]):  # type: ignore[no-untyped-def]
    for item in items:
        yield item


async def test_a_bad_filter_by_title_with_a_warm_default_cache_costs_no_request(
    bm_server: EmulatorServer, bm_clock: VirtualClock
) -> None:
    log = bm_server.emulator.requests
    kw = {"base_url": bm_server.url, "clock": bm_clock}
    async with bm.Session(bm.ApiKey(DEMO_API_KEY), **kw) as s:  # type: ignore[arg-type]
        await s.filters(DETAIL)
    spent = len(log)
    assert spent == 2  # the service document and the filter metadata
    async with bm.Session(bm.ApiKey(DEMO_API_KEY), **kw) as s:  # type: ignore[arg-type]
        with pytest.raises(bm.FilterError):
            await s.download(DETAIL, format="csv", filter="Queue_Name gt 'Sales'")
        with pytest.raises(bm.FilterError):
            await s.submit(DETAIL, filter="No_Such_Column eq 1")
    assert len(log) == spent
    assert bm.default_knowledge_path().exists()


async def test_documents_expire_and_refresh_on_demand(
    bm_server: EmulatorServer, bm_clock: VirtualClock, tmp_path: Path
) -> None:
    log = bm_server.emulator.requests
    async with session(bm_server, bm_clock, sqlite(tmp_path)) as s:
        await s.reports()
    await bm_clock.sleep(23 * 3600)
    async with session(bm_server, bm_clock, sqlite(tmp_path)) as s:
        await s.reports()
        assert len(log) == 1
        s.refresh_cache()  # on demand: no request now, one on next use
        assert len(log) == 1
        await s.reports()
        assert len(log) == 2
    await bm_clock.sleep(25 * 3600)
    async with session(bm_server, bm_clock, sqlite(tmp_path), cache_max_age=3600) as s:
        await s.reports()
    assert len(log) == 3  # older than max_age: fetched again


async def test_without_a_cache_every_session_fetches(
    bm_server: EmulatorServer, bm_clock: VirtualClock
) -> None:
    for n in (1, 2):
        async with session(bm_server, bm_clock, None) as s:
            await s.report(DETAIL)
        assert len(bm_server.emulator.requests) == n
    with pytest.raises(TypeError):
        session(bm_server, bm_clock, "sqlite")  # type: ignore[arg-type]


async def test_a_corrupt_entry_is_ignored_and_rebuilt(
    bm_server: EmulatorServer, bm_clock: VirtualClock
) -> None:
    store = bm.MemoryKnowledge()
    async with session(bm_server, bm_clock, store) as s:
        scope = s.knowledge.scope
        await store.put(scope, SERVICE, b"<not json", saved_at=bm_clock.time())
        assert await s.report(DETAIL)
    assert len(bm_server.emulator.requests) == 1
    entry = await store.get(scope, SERVICE)
    assert entry is not None
    assert entry.value.startswith(b"{")


async def test_a_404_for_a_known_report_drops_the_service_document_once(
    bm_server: EmulatorServer, bm_clock: VirtualClock
) -> None:
    store = bm.MemoryKnowledge()
    log = bm_server.emulator.requests
    async with session(bm_server, bm_clock, store) as s:
        await s.reports()
        scope = s.knowledge.scope
    entry = await store.get(scope, SERVICE)
    assert entry is not None
    ghost = "0badc0de-0000-4000-8000-000000000000"
    lied = entry.value.replace(REPORTS[SUMMARY].encode(), ghost.encode())
    await store.put(scope, SERVICE, lied, saved_at=entry.saved_at)
    async with session(bm_server, bm_clock, store) as s:
        body = await s.download(SUMMARY, format="csv")
    assert body
    targets = [r.target for r in log[1:]]
    assert len(targets) == 3  # the 404, the service document again, the data
    assert ghost in targets[0]
    assert REPORTS[SUMMARY] in targets[2]
    fresh = await store.get(scope, SERVICE)
    assert fresh is not None
    assert ghost.encode() not in fresh.value
    # A report the fresh document does not know either: the 404 stands, no loop.
    async with session(bm_server, bm_clock, store) as s:
        await s.reports()  # from the store: no request
        with pytest.raises(bm.NotFound):
            await s.download(ghost, format="csv")
    assert len(log) == 5
    # A GUID the caller gave proves nothing about the stored service document: it stays.
    assert await store.get(scope, SERVICE) == fresh


async def test_a_400_on_a_locally_valid_filter_drops_the_schema_once(
    bm_server: EmulatorServer, bm_clock: VirtualClock
) -> None:
    store = bm.MemoryKnowledge()
    log = bm_server.emulator.requests
    async with session(bm_server, bm_clock, store) as s:
        await s.filters(SUMMARY)
        scope = s.knowledge.scope
    key = filters_key(REPORTS[SUMMARY])
    entry = await store.get(scope, key)
    assert entry is not None
    assert b'Name="Media_Type"' in entry.value
    lied = entry.value.replace(b'Name="Media_Type"', b'Name="Bogus_Column"')
    await store.put(scope, key, lied, saved_at=entry.saved_at)
    spent = len(log)
    async with session(bm_server, bm_clock, store) as s:
        with pytest.raises(bm.FilterError):  # the fresh schema says what is wrong
            await s.download(SUMMARY, format="csv", filter="Bogus_Column eq 'x'")
    assert [r.status for r in log[spent:]] == [400, 200]  # the refusal, the fresh schema
    fresh = await store.get(scope, key)
    assert fresh is not None
    assert b"Bogus_Column" not in fresh.value


async def test_a_page_count_is_learned_from_a_whole_pull(
    bm_server: EmulatorServer, bm_clock: VirtualClock
) -> None:
    store = bm.MemoryKnowledge()
    async with session(bm_server, bm_clock, store) as s:
        async with s.pages(REPORTS[DETAIL]) as pages:
            read = [p async for p in pages]
        assert len(read) > 1
        assert await s.knowledge.numbers("pages", REPORTS[DETAIL], "default") == [len(read)]
        async with s.pages(REPORTS[DETAIL]) as pages:  # stopped early: nothing learned
            await pages.__anext__()
        assert await s.knowledge.numbers("pages", REPORTS[DETAIL], "default") == [len(read)]


def _polls(emulator: Emulator) -> int:
    return sum(1 for r in emulator.requests if "/status/" in r.target)


async def test_a_learned_stable_job_costs_at_most_1_2_polls(
    bm_server: EmulatorServer, bm_clock: VirtualClock, tmp_path: Path
) -> None:
    """Durations vary by 20%: after 3 learned jobs, 20 jobs cost at most 24 polls."""
    emulator = bm_server.emulator
    async with session(bm_server, bm_clock, sqlite(tmp_path)) as s:
        for _ in range(3):
            job = await s.submit(SUMMARY, format="csv", filter="Media_Type eq 'Voice'")
            await job.result()
        before = _polls(emulator)
        for n in range(20):
            # Another value, the same shape: the same learned durations.
            job = await s.submit(SUMMARY, format="csv", filter=f"Media_Type eq 'V{n}'")
            await job.result()
        polls = _polls(emulator) - before
    assert polls <= 24, polls
    # Learned across processes: a fresh session's first job lands after the finish.
    async with session(bm_server, bm_clock, sqlite(tmp_path)) as s:
        before = _polls(emulator)
        job = await s.submit(SUMMARY, format="csv", filter="Media_Type eq 'Chat'")
        await job.result()
        assert _polls(emulator) - before == 1
        assert job.polls == 1


async def test_a_redis_store_is_shared_by_sessions(
    bm_server: EmulatorServer, bm_clock: VirtualClock
) -> None:
    from ._redis_fixture import running_redis_server

    with running_redis_server() as url:
        for _ in range(2):
            store = bm.RedisKnowledge(url)
            async with session(bm_server, bm_clock, store) as s:
                await s.filters(DETAIL)
            await store.aclose()
    assert len(bm_server.emulator.requests) == 2  # once, not once per session

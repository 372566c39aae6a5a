"""The dry run reads the knowledge store (#12): warm, it is what the pull spends; cold, it
says what it guessed. Requests are counted from the emulator's log."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import attrs
import pytest

import brightmetrics_async as bm
from brightmetrics_async.testing import (
    DEMO_API_KEY,
    Emulator,
    EmulatorConfig,
    EmulatorServer,
    VirtualClock,
)

from ._cli_support import creds, emulator, run_cli
from .test_dry_run import AGENT_DETAIL, CALLER_ID, SUMMARY, purpose_of

pytestmark = pytest.mark.anyio

ITEMS = [
    bm.PullItem("Search by CallerID"),  # left to choose: paging, then the cheaper way
    bm.PullItem(AGENT_DETAIL, format="csv", filter="Media_Type eq 'Voice'"),
    bm.PullItem(SUMMARY),  # one page
    bm.PullItem(SUMMARY, format="pdf", use_async=True),
    bm.PullItem(CALLER_ID, format="xlsx"),
]


@pytest.fixture
def bm_emulator_config() -> EmulatorConfig:
    return EmulatorConfig(job_seconds=20.0, job_retry_after=5.0)


def session(server: EmulatorServer, clock: VirtualClock, store: bm.KnowledgeStore) -> bm.Session:
    return bm.Session(
        bm.ApiKey(DEMO_API_KEY),
        base_url=server.url,
        budget=bm.MemoryBudget(limit=10_000, clock=clock),
        clock=clock,
        cache=store,
    )


async def test_cold_the_dry_run_says_what_it_guessed(
    bm_server: EmulatorServer, bm_clock: VirtualClock
) -> None:
    async with session(bm_server, bm_clock, bm.MemoryKnowledge()) as s:
        est = await s.dry_run(ITEMS)
        assert s.requests_sent == 0
    assert not est.exact
    assert any("10 pages assumed" in g for g in est.guesses)
    assert any("a job of 60 s assumed" in g for g in est.guesses)
    assert est.service_document == est.filter_metadata == 1


async def test_warm_the_dry_run_is_what_the_pull_spends(
    bm_server: EmulatorServer, bm_emulator: Emulator, bm_clock: VirtualClock
) -> None:
    store = bm.MemoryKnowledge()
    for _ in range(4):  # pages learned, then three durations of each job: stable
        async with session(bm_server, bm_clock, store) as s, s.pull_many(ITEMS) as pull:
            assert all(r.ok for r in await pull.collect())
    async with session(bm_server, bm_clock, store) as s:
        est = await s.dry_run(ITEMS)
        assert s.requests_sent == 0
        assert est.exact, est.guesses
        before = len(bm_emulator.requests)
        async with s.pull_many(ITEMS, concurrency=1) as pull:
            results = await pull.collect()
        assert all(r.ok for r in results), [r.error for r in results]
        seen = bm_emulator.requests[before:]
        root = urlsplit(s.base_url).path.rstrip("/")
    assert est.total == len(seen) == s.requests_sent
    assert [r.purpose for r in est.requests] == [purpose_of(r, root) for r in seen]
    assert est.service_document == est.filter_metadata == 0
    # The detail report's pages are known: the pull and the estimate took the export.
    assert est.items[0].kind == "job"
    assert "learned" in est.items[0].detail


async def test_a_learned_page_count_makes_the_dry_run_exact(
    bm_server: EmulatorServer, bm_emulator: Emulator, bm_clock: VirtualClock
) -> None:
    async with session(bm_server, bm_clock, bm.MemoryKnowledge()) as s:
        first = await s.dry_run([bm.PullItem(SUMMARY)])
        assert first.items[0].requests == 10
        assert first.guesses == ("03bd1235-eb2c-410f-a415-fefacd98df41 (json): 10 pages assumed",)
        async with s.pull_many([bm.PullItem(SUMMARY)]) as pull:
            assert all(r.ok for r in await pull.collect())
        spent = len(bm_emulator.requests)
        again = await s.dry_run([bm.PullItem(SUMMARY)])
    assert again.exact
    assert again.total == again.items[0].requests == spent == 1


async def test_cli_pull_dry_run_prints_the_cost_and_sends_nothing(tmp_path: Path) -> None:
    args = ("pull", "Service Summary", "-f", "json", "-o", str(tmp_path / "out"))
    async with emulator() as server:
        log = server.emulator.requests
        cold = await run_cli(*args, "--dry-run", "--json", *creds(server))
        assert len(log) == 0, "a dry run sends nothing"
        text = await run_cli(*args, "--dry-run", *creds(server))
        real = await run_cli(*args, "--json", *creds(server))
        spent = len(log)
        warm = await run_cli(*args, "--dry-run", "--json", *creds(server))
        assert len(log) == spent
    assert cold.code == text.code == real.code == warm.code == 0, cold.err
    cold_est = json.loads(cold.out)["estimate"]
    [guess] = cold_est["guesses"]
    assert guess.startswith("Service Summary")
    assert guess.endswith(": 10 pages assumed")
    assert f"guessed: {guess}" in text.err
    warm_est = json.loads(warm.out)["estimate"]
    assert warm_est["guesses"] == []
    assert warm_est["total"] == json.loads(real.out)["requests"] - 1 == 1  # title now known


async def test_json_rows_left_to_choose_take_the_cheaper_way_with_the_same_rows(
    bm_server: EmulatorServer, bm_emulator: Emulator, bm_clock: VirtualClock, tmp_path: Path
) -> None:
    """Once the page count is learned, JSON rows in memory take the export when the dry run
    of each way says it costs less, and read the same rows; a JSON file chooses alike (its
    journal entry records the way it took, so a resumed run keeps it)."""
    store = bm.MemoryKnowledge()
    async with session(bm_server, bm_clock, store) as s:
        item = bm.PullItem(CALLER_ID)
        assert (await s.choose_way(item)).use_async is False  # page count unknown: paging
        async with s.pull_many([item]) as pull:
            [paged] = await pull.collect()
        pages = len([p async for p in s.pages(CALLER_ID)])
        assert pages > 3
        way = await s.choose_way(item)
        to_file = await s.choose_way(bm.PullItem(CALLER_ID, path=tmp_path / "c.json"))
        est = await s.dry_run([item])
        before = len(bm_emulator.requests)
        async with s.pull_many([item]) as pull:
            [chosen] = await pull.collect()
        seen = bm_emulator.requests[before:]
    assert paged.ok
    assert chosen.ok
    assert way.use_async is True
    assert to_file.use_async is True  # a JSON file chooses too (its journal keeps the way)
    assert est.items[0].kind == "job"
    # The job's duration is not learned yet: the estimate says it guessed it.
    assert est.guesses == (f"{CALLER_ID} (json): a job of 60 s assumed",)
    assert len(seen) < pages
    assert any(r.header("Prefer") == "respond-async" for r in seen)
    assert chosen.value == paged.value


async def test_job_durations_are_read_by_filter_shape_as_they_are_learned(
    bm_server: EmulatorServer, bm_emulator: Emulator, bm_clock: VirtualClock
) -> None:
    """Two filter shapes of one report whose jobs take different times: the dry run reads
    each one's learned durations (report, format and filter shape, the learner's key), so
    each estimate is exact and equals what the emulator logged for it."""
    voice = bm.PullItem(AGENT_DETAIL, format="csv", filter="Media_Type eq 'Voice'", use_async=True)
    other = bm.PullItem(AGENT_DETAIL, format="csv", filter="Media_Type ne 'Voice'", use_async=True)
    store = bm.MemoryKnowledge()

    def naive() -> bm.Session:  # a poll every Retry-After: polls follow the job's length
        return bm.Session(
            bm.ApiKey(DEMO_API_KEY),
            base_url=bm_server.url,
            budget=bm.MemoryBudget(limit=10_000, clock=bm_clock),
            clock=bm_clock,
            cache=store,
            poll_policy=bm.PollPolicy.naive(),
        )

    def jobs_take(seconds: float) -> None:
        bm_emulator.config = attrs.evolve(bm_emulator.config, job_seconds=seconds)

    for item, seconds in ((voice, 6.0), (other, 40.0)):
        jobs_take(seconds)
        for _ in range(3):
            async with naive() as s, s.pull_many([item]) as pull:
                assert all(r.ok for r in await pull.collect())
    async with naive() as s:
        both = await s.estimate([voice, other])
        assert s.requests_sent == 0
        spent = []
        for item, seconds in ((voice, 6.0), (other, 40.0)):
            jobs_take(seconds)
            est = await s.estimate([item])
            assert est.exact, est.guesses
            before = len(bm_emulator.requests)
            async with s.pull_many([item]) as pull:
                assert all(r.ok for r in await pull.collect())
            spent.append(len(bm_emulator.requests) - before)
            assert est.total == spent[-1]
    assert both.exact, both.guesses
    assert [c.requests for c in both.items] == spent
    assert spent[0] < spent[1]

"""The budget end to end: real processes, a real SQLite file, a real Redis, the emulator."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

import brightmetrics_async as bm
from brightmetrics_async.testing import DEMO_API_KEY, Emulator, EmulatorServer, VirtualClock

from ._redis_fixture import running_redis_server

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def redis_url() -> Iterator[str]:
    with running_redis_server() as url:
        yield url


async def _race(
    server: EmulatorServer, store: str, processes: int, attempts: int
) -> list[dict[str, int]]:
    results: list[dict[str, int]] = []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    async def one() -> None:
        proc = await anyio.run_process(
            [
                sys.executable,
                "-m",
                "tests._budget_worker",
                server.url,
                DEMO_API_KEY,
                store,
                str(attempts),
            ],
            cwd=ROOT,
            env=env,
            check=True,
        )
        results.append(json.loads(proc.stdout.decode().strip().splitlines()[-1]))

    async with anyio.create_task_group() as tg:
        for _ in range(processes):
            tg.start_soon(one)
    return results


@pytest.mark.slow
async def test_eight_processes_share_one_sqlite_budget_exactly(
    bm_server: EmulatorServer, tmp_path: Path
) -> None:
    results = await _race(bm_server, f"sqlite:{tmp_path / 'budget.sqlite3'}", 8, 25)
    assert sum(r["granted"] for r in results) == 150
    assert sum(r["exhausted"] for r in results) == 8 * 25 - 150
    statuses = [r.status for r in bm_server.emulator.requests]
    assert len(statuses) == 150, "exactly 150 requests reached the service"
    assert set(statuses) == {200}


@pytest.mark.slow
@pytest.mark.redis
async def test_four_processes_share_one_redis_budget_exactly(
    bm_server: EmulatorServer, redis_url: str
) -> None:
    results = await _race(bm_server, f"redis:{redis_url}", 4, 50)
    assert sum(r["granted"] for r in results) == 150
    assert len(bm_server.emulator.requests) == 150
    assert {r.status for r in bm_server.emulator.requests} == {200}


async def test_restart_sees_what_earlier_processes_spent(
    bm_server: EmulatorServer, tmp_path: Path
) -> None:
    store = f"sqlite:{tmp_path / 'b.sqlite3'}"
    (first,) = await _race(bm_server, store, 1, 100)
    assert first == {"granted": 100, "exhausted": 0}
    (second,) = await _race(bm_server, store, 1, 60)
    assert second == {"granted": 50, "exhausted": 10}
    assert len(bm_server.emulator.requests) == 150


async def test_default_budget_is_a_persistent_file_in_the_state_dir(
    bm_server: EmulatorServer, isolated_state: Path
) -> None:
    (run,) = await _race(bm_server, "default", 1, 3)
    assert run["granted"] == 3
    path = bm.default_budget_path()
    assert path.is_relative_to(isolated_state)
    assert path.exists()
    async with bm.SQLiteBudget(path) as budget:
        snap = await budget.snapshot("acme")
    assert snap.spent == 3
    assert snap.remaining == 147
    assert DEMO_API_KEY.encode() not in path.read_bytes()


@pytest.mark.allow_429
async def test_a_429_pauses_every_session_of_the_account(
    bm_emulator: Emulator, bm_server: EmulatorServer, bm_clock: VirtualClock
) -> None:
    # Other users of the account spent the quota: the server is the truth.
    budget = bm.MemoryBudget(clock=bm_clock)
    # cache=None: every session fetches the service document (nothing remembered).
    async with bm.Session(
        bm.ApiKey(DEMO_API_KEY),
        base_url=bm_server.url,
        budget=budget,
        clock=bm_clock,
        max_wait=60,
        cache=None,
    ) as s:
        # Spend the server's quota from "another user" (no client budget involved).
        for _ in range(150):
            async with bm.Session(
                bm.ApiKey(DEMO_API_KEY),
                base_url=bm_server.url,
                budget=bm.MemoryBudget(),
                cache=None,
            ) as other:
                await other.reports()
        with pytest.raises(bm.BudgetExhausted) as info:
            await s.reports()
    assert bm_server.emulator.requests[-1].status == 429
    assert info.value.next_free_at is not None
    snap = await budget.snapshot(s.account)
    assert snap.blocked_until is not None
    assert snap.blocked_until > bm_clock.time() + 60


async def test_the_budgets_own_max_wait_applies_unless_the_session_says_otherwise(
    bm_server: EmulatorServer, bm_clock: VirtualClock
) -> None:
    budget = bm.MemoryBudget(limit=1, max_wait=0, clock=bm_clock)
    async with bm.Session(
        bm.ApiKey(DEMO_API_KEY), base_url=bm_server.url, budget=budget, clock=bm_clock, cache=None
    ) as s:
        await s.reports()
        with pytest.raises(bm.BudgetExhausted):
            await s.filters("6f40b845-fb28-4547-b73b-e11ce29f481b")
    waiting = bm.MemoryBudget(limit=1, max_wait=0, clock=bm_clock)
    async with bm.Session(
        bm.ApiKey(DEMO_API_KEY),
        base_url=bm_server.url,
        budget=waiting,
        clock=bm_clock,
        max_wait=2 * 86400,
        cache=None,
    ) as s:
        start = bm_clock.time()
        await s.reports()
        await s.filters("6f40b845-fb28-4547-b73b-e11ce29f481b")  # waits a day for the token
        assert bm_clock.time() - start == pytest.approx(86400, abs=1)
    assert len(bm_server.emulator.requests) == 3


def test_sessions_on_the_default_budget_wait_at_most_five_minutes() -> None:
    s = bm.Session(bm.ApiKey(DEMO_API_KEY), base_url="http://127.0.0.1:9/OData.ashx")
    assert isinstance(s.budget, bm.SQLiteBudget)
    assert s.budget.max_wait == 300.0

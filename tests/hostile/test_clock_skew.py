"""A process with a wrong wall clock cannot overspend the budget (issue #14, failure 5).

The SQLite store ages an entry of the reader's boot by the boot clock too: it leaves the window
only when both clocks say it is old. A process 24 h ahead therefore sees the others' spending as
recent, a process 24 h behind cannot make its own look old, and entries of another boot (or of
a version-1 file) age by the wall clock as before. Redis takes the time from the server.

In-process cases use a ``VirtualClock`` with a boot id and its ``skewed()`` view (one machine,
one boot, two wall clocks); the last cases run real processes against the emulator, one with
its clock 24 h ahead, and count the spending in the emulator's log.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
from redis import Redis as SyncRedis

import brightmetrics_async as bm
from brightmetrics_async.testing import (
    DEMO_API_KEY,
    Emulator,
    EmulatorConfig,
    EmulatorServer,
    VirtualClock,
    serve,
)
from tests._redis_fixture import redis_server as redis_server
from tests._together import run_together

from ._hostile import GUID

pytestmark = pytest.mark.anyio

ACCOUNT = "acme"
DAY = 86400.0


def count_rows(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM spent").fetchone()[0])


async def spend(budget: bm.Budget, n: int) -> None:
    for _ in range(n):
        await budget.acquire(ACCOUNT, max_wait=0)


async def test_a_process_a_day_ahead_does_not_prune_the_others_spending(tmp_path: Path) -> None:
    path = tmp_path / "budget.sqlite3"
    right = VirtualClock(boot_id="boot-1")
    ahead = right.skewed(DAY)
    async with bm.SQLiteBudget(path, clock=right) as first:
        await spend(first, 150)
    right.advance(60)
    async with bm.SQLiteBudget(path, clock=ahead) as skewed:
        with pytest.raises(bm.BudgetExhausted) as info:
            await skewed.acquire(ACCOUNT, max_wait=0)
        assert info.value.next_free_at == pytest.approx(ahead.time() + DAY - 60)
        snap = await skewed.snapshot(ACCOUNT)
        assert snap.spent == 150
        assert count_rows(path) == 150  # nothing pruned
        # It waits the true remaining time (by the boot clock), then spends.
        right.advance(DAY - 60)
        await skewed.acquire(ACCOUNT, max_wait=0)
    assert count_rows(path) == 1


async def test_a_process_a_day_behind_cannot_make_its_spending_look_old(tmp_path: Path) -> None:
    path = tmp_path / "budget.sqlite3"
    right = VirtualClock(boot_id="boot-1")
    async with bm.SQLiteBudget(path, clock=right.skewed(-DAY)) as behind:
        await spend(behind, 150)
    async with bm.SQLiteBudget(path, clock=right) as budget:
        with pytest.raises(bm.BudgetExhausted):
            await budget.acquire(ACCOUNT, max_wait=0)
        assert (await budget.snapshot(ACCOUNT)).spent == 150
    assert count_rows(path) == 150


async def test_an_entry_leaves_only_when_both_clocks_agree(tmp_path: Path) -> None:
    path = tmp_path / "budget.sqlite3"
    clock = VirtualClock(boot_id="boot-1")
    async with bm.SQLiteBudget(path, limit=2, period=600, clock=clock) as budget:
        await spend(budget, 1)
        # A row whose boot clock says half an hour old but whose wall time says now (a boot
        # clock shifted by a time namespace, or an edit): still counted.
        boot, up = clock.since_boot() or ("", 0.0)
        with contextlib.closing(sqlite3.connect(path)) as conn, conn:
            conn.execute(
                "INSERT INTO spent VALUES (?, ?, ?, ?)",
                (ACCOUNT, round(clock.time() * 1e6), boot, round((up - 1800) * 1e6)),
            )
        with pytest.raises(bm.BudgetExhausted):
            await budget.acquire(ACCOUNT, max_wait=0)
        clock.advance(600)
        await spend(budget, 2)


async def test_entries_of_another_boot_age_by_the_wall_clock(tmp_path: Path) -> None:
    path = tmp_path / "budget.sqlite3"
    before = VirtualClock(boot_id="boot-1")
    async with bm.SQLiteBudget(path, limit=3, clock=before) as budget:
        await spend(budget, 3)
    after = VirtualClock(before.time() + 600, boot_id="boot-2")  # rebooted ten minutes later
    async with bm.SQLiteBudget(path, limit=3, clock=after) as budget:
        with pytest.raises(bm.BudgetExhausted):
            await budget.acquire(ACCOUNT, max_wait=0)
        after.advance(DAY - 600)
        await spend(budget, 3)


V1 = """
CREATE TABLE spent (account TEXT NOT NULL, at_us INTEGER NOT NULL);
CREATE INDEX spent_account_at ON spent (account, at_us);
CREATE TABLE blocks (account TEXT PRIMARY KEY, until_us INTEGER NOT NULL);
PRAGMA user_version = 1;
"""


async def test_a_version_1_file_is_upgraded_with_its_entries(tmp_path: Path) -> None:
    path = tmp_path / "budget.sqlite3"
    clock = VirtualClock(boot_id="boot-1")
    now_us = round(clock.time() * 1e6)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.executescript(V1)
        with conn:
            conn.executemany(
                "INSERT INTO spent VALUES (?, ?)",
                [(ACCOUNT, now_us - i * 10**6) for i in range(4)] + [("other", now_us)],
            )
            conn.execute("INSERT INTO blocks VALUES (?, ?)", (ACCOUNT, now_us + 10**6))
    async with bm.SQLiteBudget(path, limit=5, clock=clock) as budget:
        snap = await budget.snapshot(ACCOUNT)
        assert snap.spent == 4
        assert snap.blocked_until == pytest.approx(clock.time() + 1)
        clock.advance(1)
        await budget.acquire(ACCOUNT, max_wait=0)
        with pytest.raises(bm.BudgetExhausted):
            await budget.acquire(ACCOUNT, max_wait=0)
        assert (await budget.snapshot("other")).spent == 1
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (2,)
        rows = conn.execute("SELECT account, boot, boot_us IS NULL FROM spent").fetchall()
    assert sorted(rows, key=str) == sorted(
        [(ACCOUNT, None, 1)] * 4 + [("other", None, 1), (ACCOUNT, "boot-1", 0)], key=str
    )


@pytest.mark.parametrize(
    ("boot", "boot_us", "match"),
    [
        (b"\x07", 0, "boot id"),
        ("boot-1", "soon", "boot clock"),
        ("boot-1", float("inf"), "boot clock"),
        ("boot-1", None, "boot clock"),
        (None, 5, "boot id"),
        ("boot-1", "{ahead}", "future by this boot's clock"),
    ],
)
async def test_corrupt_boot_columns_are_a_budget_store_error(
    tmp_path: Path, boot: object, boot_us: object, match: str
) -> None:
    path = tmp_path / "budget.sqlite3"
    clock = VirtualClock(boot_id="boot-1")
    async with bm.SQLiteBudget(path, clock=clock) as budget:
        await spend(budget, 1)
    up = (clock.since_boot() or ("", 0.0))[1]
    if boot_us == "{ahead}":
        boot_us = round((up + 3600) * 1e6)
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(
            "INSERT INTO spent VALUES (?, ?, ?, ?)",
            (ACCOUNT, round(clock.time() * 1e6), boot, boot_us),
        )
    async with bm.SQLiteBudget(path, clock=clock) as budget:
        with pytest.raises(bm.BudgetStoreError, match=match):
            await budget.acquire(ACCOUNT, max_wait=0)
        with pytest.raises(bm.BudgetStoreError, match=match):
            await budget.snapshot(ACCOUNT)
    assert count_rows(path) == 2


def test_the_system_clock_reads_the_boot_clock() -> None:
    first = bm.SystemClock().since_boot()
    if not Path("/proc/sys/kernel/random/boot_id").exists():
        assert first is None
        return
    assert first is not None
    boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    again = bm.SystemClock().since_boot()
    assert again is not None
    assert first[0] == again[0] == boot_id
    assert 0 < first[1] <= again[1]


# -- Redis: the server's clock --------------------------------------------------------------------


@pytest.mark.redis
async def test_redis_ignores_a_client_clock_a_day_ahead(
    redis_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = SyncRedis.from_url(redis_server)
    client.flushdb()
    prefix = "skew:"
    async with bm.RedisBudget(redis_server, key_prefix=prefix, limit=150) as first:
        for _ in range(150):
            await first.acquire(ACCOUNT, max_wait=0)
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + DAY)  # this process is a day ahead
    async with bm.RedisBudget(redis_server, key_prefix=prefix, limit=150) as skewed:
        with pytest.raises(bm.BudgetExhausted):
            await skewed.acquire(ACCOUNT, max_wait=0)
        snap = await skewed.snapshot(ACCOUNT)
    monkeypatch.undo()
    assert snap.spent == 150
    assert client.zcard(f"{prefix}{{{ACCOUNT}}}:log") == 150  # nothing pruned
    client.flushdb()
    client.close()


# -- real processes, counted by the emulator ----------------------------------------------------

WORKER = """
import json, sys, time
import anyio
import brightmetrics_async as bm

url, path, guid, ahead, attempts = sys.argv[1:6]

class Ahead(bm.SystemClock):
    # This process's wall clock runs a day ahead (its boot clock is the machine's).
    def time(self):
        return time.time() + 86400.0

async def main():
    clock = Ahead() if ahead == "1" else bm.SystemClock()
    budget = bm.SQLiteBudget(path, clock=clock, max_wait=0)
    outcome = "done"
    async with bm.Session(
        bm.ApiKey(sys.argv[6]), base_url=url, budget=budget, clock=clock, account="acme",
        cache=None, check_filters=False, retry=bm.RetryPolicy(attempts=1),
    ) as s:
        await budget.snapshot("acme")  # open the store before the race starts
        print("ready", flush=True)
        if sys.stdin.readline().strip() != "go":
            raise SystemExit("no go")
        for _ in range(int(attempts)):
            try:
                await s.download(guid, format="csv")
            except bm.BrightmetricsError as exc:
                outcome = type(exc).__name__
                break
        sent = s.requests_sent
    await budget.aclose()
    print(json.dumps({"sent": sent, "outcome": outcome}), flush=True)

anyio.run(main)
"""


async def run_workers(
    url: str, path: Path, *, ahead: list[bool], attempts: int
) -> list[dict[str, object]]:
    """Start one process per entry of ``ahead`` (True: clock a day ahead), release them
    together, return what each reports."""
    argvs = [
        [WORKER, url, str(path), GUID, "1" if a else "0", str(attempts), DEMO_API_KEY]
        for a in ahead
    ]

    def wait_all() -> list[dict[str, object]]:
        results: list[dict[str, object]] = run_together(argvs, timeout=120)
        return results

    # The emulator answers in this event loop while the workers run in a thread.
    return await anyio.to_thread.run_sync(wait_all)


@pytest.fixture
async def server() -> AsyncIterator[EmulatorServer]:
    emulator = Emulator(EmulatorConfig(quota_limit=None))  # only our budget limits spending
    async with serve(emulator) as running:
        yield running


@pytest.mark.skipif(
    bm.SystemClock().since_boot() is None, reason="needs a boot id and CLOCK_BOOTTIME (Linux)"
)
async def test_real_processes_one_a_day_ahead_spend_at_most_150(
    tmp_path: Path, server: EmulatorServer
) -> None:
    url, log = server.url, server.emulator.requests
    # One after the other: the process a day ahead arrives after 150 were spent.
    first = tmp_path / "first.sqlite3"
    [right] = await run_workers(url, first, ahead=[False], attempts=150)
    assert right == {"sent": 150, "outcome": "done"}
    [skewed] = await run_workers(url, first, ahead=[True], attempts=150)
    assert skewed == {"sent": 0, "outcome": "BudgetExhausted"}
    assert len(log) == 150
    # Both at once on a fresh file: never more than 150 in total.
    log.clear()
    both = await run_workers(url, tmp_path / "both.sqlite3", ahead=[False, True], attempts=150)
    assert len(log) == sum(int(str(r["sent"])) for r in both) == 150
    # The right process stops at an entry from the future (BudgetStoreError) or at the limit;
    # the one ahead counts the other's spending (by the boot clock) and stops at the limit.
    assert both[0]["outcome"] in {"BudgetStoreError", "BudgetExhausted", "done"}
    assert both[1]["outcome"] in {"BudgetExhausted", "done"}

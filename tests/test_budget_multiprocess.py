"""Several real processes share one budget: no lost updates, no off-by-one, no amnesia.

Each worker is ``python -c WORKER``: it opens the budget, says "ready", waits for "go"
on stdin (so all workers race at once), tries ``attempts`` acquisitions with
``max_wait=0`` and prints how many were granted and refused as JSON. Time is the real
system clock (SQLite) or the Redis server's ``TIME``: the test spends far less than the
24-hour window, so no token comes back while it runs.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from brightmetrics_async._budget import RedisBudget, SQLiteBudget
from tests._redis_fixture import redis_server as redis_server  # for getfixturevalue()
from tests._together import run_together

WORKER = """
import json, sys
import anyio
from brightmetrics_async._budget import RedisBudget, SQLiteBudget
from brightmetrics_async._errors import BudgetExhausted

kind, location, prefix, account, attempts = sys.argv[1:6]

def make():
    if kind == "sqlite":
        return SQLiteBudget(location, limit=150)
    return RedisBudget(location, key_prefix=prefix, limit=150)

async def main():
    granted = refused = 0
    async with make() as budget:
        await budget.snapshot(account)  # open the store before the race starts
        print("ready", flush=True)
        if sys.stdin.readline().strip() != "go":
            raise SystemExit("no go")
        for _ in range(int(attempts)):
            try:
                await budget.acquire(account, max_wait=0)
                granted += 1
            except BudgetExhausted:
                refused += 1
    print(json.dumps({"granted": granted, "refused": refused}), flush=True)

anyio.run(main)
"""


def race(
    kind: str, location: str, prefix: str, *, workers: int, attempts: int
) -> list[dict[str, int]]:
    """Start ``workers`` processes, release them together, return their counts."""
    argv = [WORKER, kind, location, prefix, "acme", str(attempts)]
    results: list[dict[str, int]] = run_together([argv] * workers, timeout=45)
    return results


def spend_in_subprocess(path: Path, count: int) -> None:
    script = (
        "import anyio, sys\n"
        "from brightmetrics_async._budget import SQLiteBudget\n"
        "async def main():\n"
        "    async with SQLiteBudget(sys.argv[1], limit=150) as budget:\n"
        "        for _ in range(int(sys.argv[2])):\n"
        "            await budget.acquire('acme', max_wait=0)\n"
        "anyio.run(main)\n"
    )
    subprocess.run([sys.executable, "-c", script, str(path), str(count)], check=True, timeout=45)


@pytest.mark.slow
@pytest.mark.anyio
async def test_eight_processes_share_one_sqlite_budget(tmp_path: Path) -> None:
    path = tmp_path / "budget.sqlite3"  # created by the racers themselves
    results = race("sqlite", str(path), "", workers=8, attempts=40)
    assert sum(r["granted"] for r in results) == 150
    assert sum(r["refused"] for r in results) == 8 * 40 - 150
    assert sum(1 for r in results if r["granted"]) > 1  # they really did share it
    async with SQLiteBudget(path, limit=150) as budget:
        snap = await budget.snapshot("acme")
    assert (snap.spent, snap.remaining) == (150, 0)


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.anyio
async def test_four_processes_share_one_redis_budget(request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("redis_server")
    prefix = f"test:{uuid.uuid4().hex}:"
    results = race("redis", url, prefix, workers=4, attempts=80)
    assert sum(r["granted"] for r in results) == 150
    assert sum(r["refused"] for r in results) == 4 * 80 - 150
    async with RedisBudget(url, key_prefix=prefix, limit=150) as budget:
        snap = await budget.snapshot("acme")
    assert (snap.spent, snap.remaining) == (150, 0)


@pytest.mark.anyio
async def test_a_restarted_process_sees_what_was_spent(tmp_path: Path) -> None:
    path = tmp_path / "budget.sqlite3"
    spend_in_subprocess(path, 100)
    # A new process: this one, on the same file.
    async with SQLiteBudget(path, limit=150) as budget:
        snap = await budget.snapshot("acme")
        assert (snap.spent, snap.remaining) == (100, 50)
        for _ in range(50):
            await budget.acquire("acme", max_wait=0)
    with pytest.raises(subprocess.CalledProcessError):
        spend_in_subprocess(path, 1)  # a third process finds nothing left

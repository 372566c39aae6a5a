"""Tampered budget stores: corrupt, out-of-range or future-dated values are a BudgetStoreError
naming the store (never a bare ValueError, never an endless loop, never a silent reset), and a
SQLite file deleted or replaced under a running process is refused."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis as SyncRedis

import brightmetrics_async as bm
from brightmetrics_async._budget._ledger import MAX_US
from brightmetrics_async.testing import VirtualClock
from tests._redis_fixture import redis_server as redis_server

from ._hostile import GUID, hostile, unreachable

pytestmark = pytest.mark.anyio

ACCOUNT = "acme"
START_US = round(VirtualClock().time() * 10**6)
DAY = 86400.0


def rows_of(path: Path) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return conn.execute("SELECT account, at_us FROM spent ORDER BY rowid").fetchall()


def tamper(path: Path, sql: str, *args: object) -> None:
    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.execute(sql, args)
    finally:
        conn.close()


async def fresh_sqlite(tmp_path: Path, clock: VirtualClock) -> Path:
    path = tmp_path / "budget.sqlite3"
    async with bm.SQLiteBudget(path, limit=5, clock=clock) as budget:
        await budget.acquire(ACCOUNT)
    return path


@pytest.mark.parametrize(
    "value",
    [2**62, float("inf"), -1, "soon", b"\x00", 1.5, MAX_US + 1, START_US + 3600 * 10**6],
    ids=["2**62", "REAL inf", "negative", "text", "blob", "REAL", "past 2200", "an hour ahead"],
)
async def test_corrupt_sqlite_entries_are_a_budget_store_error(
    tmp_path: Path, value: object
) -> None:
    clock = VirtualClock()
    path = await fresh_sqlite(tmp_path, clock)
    tamper(path, "INSERT INTO spent (account, at_us) VALUES ('acme', ?)", value)
    before = rows_of(path)
    async with bm.SQLiteBudget(path, limit=5, clock=clock) as budget:
        with pytest.raises(bm.BudgetStoreError) as info:
            await budget.acquire(ACCOUNT, max_wait=0)
        assert info.value.store == str(path)
        assert str(path) in info.value.message
        with pytest.raises(bm.BudgetStoreError):
            await budget.snapshot(ACCOUNT)
    assert rows_of(path) == before  # nothing pruned, nothing spent, nothing reset


@pytest.mark.parametrize("value", [float("inf"), "later", 2**62, -5])
async def test_a_corrupt_sqlite_block_is_a_budget_store_error(
    tmp_path: Path, value: object
) -> None:
    clock = VirtualClock()
    path = await fresh_sqlite(tmp_path, clock)
    tamper(path, "INSERT INTO blocks (account, until_us) VALUES ('acme', ?)", value)
    async with bm.SQLiteBudget(path, limit=5, clock=clock) as budget:
        with pytest.raises(bm.BudgetStoreError):
            await budget.acquire(ACCOUNT, max_wait=0)
        with pytest.raises(bm.BudgetStoreError):
            await budget.snapshot(ACCOUNT)


async def test_entries_from_a_clock_a_day_ahead_are_refused_not_counted_or_pruned(
    tmp_path: Path,
) -> None:
    path = tmp_path / "budget.sqlite3"
    right, ahead = VirtualClock(), VirtualClock()
    ahead.advance(DAY)
    async with bm.SQLiteBudget(path, limit=5, clock=ahead) as skewed:
        for _ in range(5):
            await skewed.acquire(ACCOUNT)
    async with bm.SQLiteBudget(path, limit=5, clock=right) as budget:
        with pytest.raises(bm.BudgetStoreError, match="in the future"):
            await budget.acquire(ACCOUNT, max_wait=0)
    assert len(rows_of(path)) == 5
    # A few seconds of disagreement between processes is normal and accepted.
    async with bm.SQLiteBudget(tmp_path / "b2.sqlite3", limit=5, clock=right) as budget:
        near = VirtualClock()
        near.advance(30)
        async with bm.SQLiteBudget(budget.path, limit=5, clock=near) as other:
            await other.acquire(ACCOUNT)
        await budget.acquire(ACCOUNT)
        assert (await budget.snapshot(ACCOUNT)).spent == 2


@pytest.mark.parametrize("how", ["deleted", "replaced"])
async def test_a_budget_file_deleted_or_replaced_in_use_is_refused(
    tmp_path: Path, how: str
) -> None:
    clock = VirtualClock()
    path = tmp_path / "budget.sqlite3"
    async with bm.SQLiteBudget(path, limit=150, clock=clock) as first:
        for _ in range(150):
            await first.acquire(ACCOUNT)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        if how == "replaced":
            other = tmp_path / "other.sqlite3"
            async with bm.SQLiteBudget(other, clock=clock) as elsewhere:
                await elsewhere.snapshot(ACCOUNT)
            os.replace(other, path)
        # A second process starts on the new (empty) file and may spend its 150 ...
        async with bm.SQLiteBudget(path, limit=150, clock=clock) as second:
            await second.acquire(ACCOUNT)
        # ... but the first one refuses to go on with its ghost of the old file.
        with pytest.raises(bm.BudgetStoreError, match="deleted or replaced"):
            await first.acquire(ACCOUNT, max_wait=0)
        with pytest.raises(bm.BudgetStoreError):
            await first.snapshot(ACCOUNT)


async def test_a_session_on_a_tampered_store_sends_nothing(tmp_path: Path) -> None:
    clock = VirtualClock()
    path = await fresh_sqlite(tmp_path, clock)
    tamper(path, "INSERT INTO spent (account, at_us) VALUES (?, 'x')", "shared")
    budget = bm.SQLiteBudget(path, limit=5, clock=clock)
    async with hostile(unreachable, clock=clock, budget=budget, account="shared") as (s, service):
        with pytest.raises(bm.BudgetStoreError):
            await s.download(GUID, format="csv")
        assert service.recorded.targets == []
        assert s.requests_sent == 0
    await budget.aclose()


# -- Redis --------------------------------------------------------------------------------------


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    client = SyncRedis.from_url(redis_server)
    client.flushdb()
    yield redis_server
    client.flushdb()
    client.close()


def keys(prefix: str = "brightmetrics:budget:") -> tuple[str, str]:
    return f"{prefix}{{{ACCOUNT}}}:log", f"{prefix}{{{ACCOUNT}}}:block"


def commands(url: str) -> int:
    client = SyncRedis.from_url(url)
    try:
        return int(client.info("stats")["total_commands_processed"])
    finally:
        client.close()


@pytest.mark.redis
@pytest.mark.parametrize("value", ["1e400", "-1e400", "nan", "abc", "-5", "1.5", str(2**62)])
async def test_a_corrupt_redis_block_is_refused_at_once(redis_url: str, value: str) -> None:
    client = SyncRedis.from_url(redis_url)
    client.set(keys()[1], value)
    before = commands(redis_url)
    async with bm.RedisBudget(redis_url, limit=5) as budget:
        with pytest.raises(bm.BudgetStoreError, match="block") as info:
            await budget.acquire(ACCOUNT, max_wait=0)
        assert "redis://127.0.0.1" in info.value.store
        with pytest.raises(bm.BudgetStoreError):
            await budget.snapshot(ACCOUNT)
        if value in ("abc", "nan"):  # a 429 recorded on top of a value that is no number
            with pytest.raises(bm.BudgetStoreError):
                await budget.block_until(ACCOUNT, 1e9)
    assert commands(redis_url) - before < 30  # not 63,000 in a loop
    assert client.get(keys()[1]) == value.encode()  # not reset
    client.close()


@pytest.mark.redis
@pytest.mark.parametrize(
    ("member", "score"),
    [("9999999999999999-x", "+inf"), ("future-x", "{future}"), ("garbage", "{now}")],
)
async def test_corrupt_redis_entries_are_refused(redis_url: str, member: str, score: str) -> None:
    client = SyncRedis.from_url(redis_url)
    now_us = int(client.time()[0]) * 1_000_000
    value = score.format(future=now_us + int(DAY * 1e6), now=now_us)
    client.zadd(keys()[0], {member: value})
    async with bm.RedisBudget(redis_url, limit=5) as budget:
        with pytest.raises(bm.BudgetStoreError):
            await budget.snapshot(ACCOUNT)
        if member != "garbage":  # a bad member name with a sane score only breaks snapshots
            with pytest.raises(bm.BudgetStoreError, match="future"):
                await budget.acquire(ACCOUNT, max_wait=0)
    assert client.zcard(keys()[0]) == 1  # nothing pruned or reset
    client.close()


@pytest.mark.parametrize("store", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
async def test_max_wait_bounds_the_wait_whatever_the_store_holds(
    tmp_path: Path, request: pytest.FixtureRequest, store: str
) -> None:
    """A block edited to lie near the year 2200 (a valid time) with ``max_wait=60``: refused
    at once, without sleeping, and the store is left as it was."""
    clock = VirtualClock()
    far_us = MAX_US - 10**6
    budget: bm.Budget
    if store == "sqlite":
        path = await fresh_sqlite(tmp_path, clock)
        tamper(path, "INSERT INTO blocks (account, until_us) VALUES ('acme', ?)", far_us)
        budget = bm.SQLiteBudget(path, limit=5, clock=clock)
    else:
        url = request.getfixturevalue("redis_url")
        with contextlib.closing(SyncRedis.from_url(url)) as client:
            client.set(keys()[1], str(far_us))
        budget = bm.RedisBudget(url, limit=5, clock=clock)
    async with budget:
        with pytest.raises(bm.BudgetExhausted) as info:
            await budget.acquire(ACCOUNT, max_wait=60)
        assert info.value.next_free_at == pytest.approx(far_us / 1e6)
        assert clock.sleeps == 0
        assert clock.time() == VirtualClock().time()
        assert (await budget.snapshot(ACCOUNT)).blocked_until == pytest.approx(far_us / 1e6)

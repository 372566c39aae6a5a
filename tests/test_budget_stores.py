"""Store-specific behaviour: files, schema, Redis keys and time, errors, repr, laziness."""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import anyio
import platformdirs
import pytest
from redis import Redis as SyncRedis

import brightmetrics_async._budget as budget_pkg
from brightmetrics_async._budget import (
    Budget,
    MemoryBudget,
    RedisBudget,
    SQLiteBudget,
    default_budget_path,
)
from brightmetrics_async._budget._redis import redact_url
from brightmetrics_async._errors import (
    BudgetExhausted,
    BudgetStoreError,
    ConfigurationError,
    TransportError,
)
from tests._redis_fixture import redis_server as redis_server
from tests.test_budget_conformance import START, FakeClock

SECRET = "s3cr3t-Pa55"


def test_exports() -> None:
    for name in budget_pkg.__all__:
        assert getattr(budget_pkg, name) is not None
    for cls in (MemoryBudget, SQLiteBudget, RedisBudget):
        assert issubclass(cls, Budget)
    assert {"Budget", "MemoryBudget", "SQLiteBudget", "RedisBudget", "default_budget_path"} <= set(
        budget_pkg.__all__
    )


@pytest.mark.parametrize(
    "url",
    [
        f"redis://:{SECRET}@cache.example:6379/0",
        f"redis://worker:{SECRET}@cache.example/2",
        f"rediss://worker:{SECRET}@cache.example:6380",
        f"redis://cache.example/0?password={SECRET}&socket_timeout=5",
        f"unix:///run/redis.sock?db=1&password={SECRET}",
    ],
)
def test_repr_never_shows_a_redis_password(url: str) -> None:
    budget = RedisBudget(url, limit=10)
    for text in (repr(budget), budget.url, redact_url(url)):
        assert SECRET not in text
        assert "***" in text
    assert "cache.example" in repr(budget) or "redis.sock" in repr(budget)
    assert "limit=10" in repr(budget)
    assert "worker" in redact_url(f"redis://worker:{SECRET}@h/0")  # the user name stays


def test_repr_of_other_stores(tmp_path: Path) -> None:
    assert repr(MemoryBudget(3, 60.0)) == "MemoryBudget(limit=3, period=60.0)"
    text = repr(SQLiteBudget(tmp_path / "b.sqlite3", limit=5))
    assert str(tmp_path / "b.sqlite3") in text
    assert "limit=5" in text


def test_default_path_and_lazy_construction(tmp_path: Path) -> None:
    assert default_budget_path() == (
        platformdirs.user_state_path("brightmetrics-async") / "budget.sqlite3"
    )
    assert SQLiteBudget().path == default_budget_path()
    target = tmp_path / "a" / "b" / "budget.sqlite3"
    budget = SQLiteBudget(target, limit=2, clock=FakeClock())
    assert not target.parent.exists()  # the constructor did no I/O

    async def use() -> None:
        await budget.acquire("acme")
        await budget.aclose()

    anyio.run(use)
    assert target.exists()
    # Used again from another event loop: the budget reopens lazily.
    anyio.run(use)
    with contextlib.closing(sqlite3.connect(target)) as conn:
        assert conn.execute("SELECT COUNT(*) FROM spent").fetchone() == (2,)


def test_memory_budget_is_not_bound_to_an_event_loop() -> None:
    budget = MemoryBudget(2, 60.0, clock=FakeClock())
    anyio.run(budget.acquire, "acme")
    anyio.run(budget.acquire, "acme")
    with pytest.raises(BudgetExhausted):
        anyio.run(lambda: budget.acquire("acme", max_wait=0))


@pytest.mark.anyio
async def test_sqlite_schema_wal_and_pruning(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "budget.sqlite3"
    async with SQLiteBudget(path, limit=3, period=100.0, clock=clock) as budget:
        await budget.acquire("acme")
        await budget.acquire("acme")
        await budget.block_until("acme", START + 10)
        with contextlib.closing(sqlite3.connect(path)) as conn:
            assert conn.execute("PRAGMA user_version").fetchone() == (2,)
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
            assert {"spent", "blocks", "spent_account_at"} <= tables
            assert conn.execute("SELECT COUNT(*) FROM spent").fetchone() == (2,)
        clock.advance(100)
        await budget.acquire("acme")  # prunes the two expired rows and the expired block
        with contextlib.closing(sqlite3.connect(path)) as conn:
            rows = conn.execute("SELECT account, at_us FROM spent").fetchall()
            assert rows == [("acme", round((START + 100) * 1_000_000))]
            assert conn.execute("SELECT COUNT(*) FROM blocks").fetchone() == (0,)


@pytest.mark.anyio
async def test_sqlite_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "budget.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA user_version = 99")
    async with SQLiteBudget(path) as budget:
        with pytest.raises(BudgetStoreError, match="schema 99") as info:
            await budget.snapshot("acme")
        assert info.value.store == str(path)
        with pytest.raises(BudgetStoreError, match="schema 99"):
            await budget.acquire("acme")
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (99,)  # left as it was


@pytest.mark.anyio
async def test_sqlite_errors_become_transport_errors(tmp_path: Path) -> None:
    async with SQLiteBudget(tmp_path) as budget:  # a directory, not a file
        with pytest.raises(TransportError):
            await budget.acquire("acme")


@pytest.mark.anyio
async def test_unreachable_redis_is_a_transport_error_without_the_password() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once closed
    async with RedisBudget(f"redis://:{SECRET}@127.0.0.1:{port}/0") as budget:
        with pytest.raises(TransportError) as info:
            await budget.acquire("acme")
    assert isinstance(info.value, OSError)
    assert SECRET not in str(info.value)


@pytest.mark.redis
@pytest.mark.anyio
async def test_redis_uses_server_time_by_default(request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("redis_server")
    prefix = f"test:{uuid.uuid4().hex}:"
    async with RedisBudget(url, key_prefix=prefix, limit=2, period=3600.0) as budget:
        before = time.time()
        first = await budget.acquire("acme")
        await budget.acquire("acme")
        # The server runs on this machine, so its clock is ours (give or take a second).
        assert before - 1 <= first <= time.time() + 1
        with pytest.raises(BudgetExhausted) as info:
            await budget.acquire("acme", max_wait=0)
        assert info.value.next_free_at == pytest.approx(first + 3600.0, abs=1e-6)
        snap = await budget.snapshot("acme")
        assert snap.spent == 2
        assert snap.spent_times[0] == first
        await budget.block_until("acme", time.time() + 30)
    sync = SyncRedis.from_url(url)
    try:
        log_key, block_key = f"{prefix}{{acme}}:log", f"{prefix}{{acme}}:block"
        assert sync.zcard(log_key) == 2
        assert 3600_000 < sync.pttl(log_key) <= 3660_000  # idle accounts expire
        assert 0 < sync.pttl(block_key) <= 90_000
    finally:
        sync.close()


@pytest.mark.redis
@pytest.mark.anyio
async def test_redis_errors_become_transport_errors(request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("redis_server")
    prefix = f"test:{uuid.uuid4().hex}:"
    sync = SyncRedis.from_url(url)
    try:
        sync.set(f"{prefix}{{acme}}:log", "not a sorted set")
    finally:
        sync.close()
    async with RedisBudget(url, key_prefix=prefix) as budget:
        with pytest.raises(TransportError, match="WRONGTYPE"):
            await budget.acquire("acme")


def test_the_package_imports_without_redis_installed() -> None:
    script = (
        "import sys\n"
        "sys.modules['redis'] = None  # as if the extra were not installed\n"
        "from brightmetrics_async._budget import MemoryBudget, RedisBudget\n"
        "from brightmetrics_async._errors import ConfigurationError\n"
        "MemoryBudget()\n"
        "try:\n"
        "    RedisBudget()\n"
        "except ConfigurationError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True, timeout=30
    ).stdout
    assert "brightmetrics-async[redis]" in out


@pytest.mark.anyio
async def test_times_out_of_range_are_refused() -> None:
    budget = MemoryBudget(clock=FakeClock())
    for until in (1e300, -1.0, float("nan")):
        with pytest.raises(ConfigurationError):
            await budget.block_until("acme", until)
    with pytest.raises(ConfigurationError):
        MemoryBudget(period=1e12)
    assert (await budget.snapshot("acme")).blocked_until is None

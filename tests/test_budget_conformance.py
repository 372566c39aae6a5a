"""One conformance suite for every budget store (memory, SQLite, real Redis).

Time is a :class:`FakeClock` whose ``sleep`` advances it, so days pass instantly and a
test can assert exactly how long a store made a caller wait.
"""

from __future__ import annotations

import contextlib
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio.lowlevel
import pytest

from brightmetrics_async._budget import Budget, MemoryBudget, RedisBudget, SQLiteBudget
from brightmetrics_async._errors import BudgetExhausted, ConfigurationError
from tests._redis_fixture import redis_server as redis_server  # for getfixturevalue()

START = 1_700_000_000.0
DAY = 86400.0
KINDS = ["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)]


class FakeClock:
    """A clock in integer microseconds (exact, like the stores); ``sleep`` advances it."""

    def __init__(self, start: float = START) -> None:
        self.us = round(start * 1_000_000)
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.us / 1_000_000

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.us += max(0, round(seconds * 1_000_000))
        await anyio.lowlevel.checkpoint()

    def advance(self, seconds: float) -> None:
        self.us += round(seconds * 1_000_000)


class StoreFactory:
    """Builds budgets of one kind, all sharing one backing store (file or key prefix)."""

    def __init__(self, kind: str, location: str) -> None:
        self.kind = kind
        self.location = location

    def make(self, **kwargs: Any) -> Budget:
        if self.kind == "memory":
            return MemoryBudget(**kwargs)
        if self.kind == "sqlite":
            return SQLiteBudget(self.location, **kwargs)
        return RedisBudget(self.location, key_prefix=f"test:{uuid.uuid4().hex}:", **kwargs)

    def reopen(self, first: Budget, **kwargs: Any) -> Budget:
        """A second budget on the SAME store as ``first`` (memory: the same object)."""
        if isinstance(first, RedisBudget):
            return RedisBudget(self.location, key_prefix=first._key_prefix, **kwargs)
        if isinstance(first, SQLiteBudget):
            return SQLiteBudget(first.path, **kwargs)
        return first


@contextlib.contextmanager
def store_factory(kind: str, request: pytest.FixtureRequest) -> Iterator[StoreFactory]:
    """A factory for ``kind``; SQLite files live in a fresh temporary directory."""
    if kind == "redis":
        yield StoreFactory(kind, request.getfixturevalue("redis_server"))
        return
    with tempfile.TemporaryDirectory(prefix="bm-budget-") as tmp:
        yield StoreFactory(kind, str(Path(tmp, "sub", "budget.sqlite3")))


@pytest.fixture(params=KINDS)
def store(request: pytest.FixtureRequest) -> Iterator[StoreFactory]:
    with store_factory(request.param, request) as factory:
        yield factory


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@contextlib.asynccontextmanager
async def opened(store: StoreFactory, **kwargs: Any) -> AsyncIterator[Budget]:
    async with store.make(**kwargs) as budget:
        yield budget


pytestmark = pytest.mark.anyio


async def test_grants_up_to_limit_then_refuses_without_waiting(
    store: StoreFactory, clock: FakeClock
) -> None:
    async with opened(store, limit=3, period=DAY, clock=clock) as budget:
        grants = []
        for _ in range(3):
            grants.append(await budget.acquire("acme", max_wait=0))
            clock.advance(10)
        assert grants == [START, START + 10, START + 20]
        with pytest.raises(BudgetExhausted) as info:
            await budget.acquire("acme", max_wait=0)
        assert info.value.next_free_at == START + DAY  # the oldest token's return
        assert info.value.remaining == 0
        assert "acme" in info.value.message
        assert clock.sleeps == []


async def test_token_comes_back_exactly_one_period_later(
    store: StoreFactory, clock: FakeClock
) -> None:
    async with opened(store, limit=2, period=100.0, clock=clock) as budget:
        await budget.acquire("acme")
        clock.advance(30)
        await budget.acquire("acme")
        clock.advance(70 - 1e-6)  # one microsecond early
        with pytest.raises(BudgetExhausted) as info:
            await budget.acquire("acme", max_wait=0)
        assert info.value.next_free_at == START + 100
        clock.advance(1e-6)
        assert await budget.acquire("acme", max_wait=0) == START + 100
        # The next one frees when the grant at START + 30 comes back.
        with pytest.raises(BudgetExhausted) as info:
            await budget.acquire("acme", max_wait=0)
        assert info.value.next_free_at == START + 130


async def test_waits_when_a_token_frees_within_max_wait(
    store: StoreFactory, clock: FakeClock
) -> None:
    async with opened(store, limit=2, period=DAY, clock=clock, max_wait=DAY) as budget:
        await budget.acquire("acme")
        clock.advance(100)
        await budget.acquire("acme")
        clock.advance(50)
        # Default max_wait (the constructor's): waits until the first token is back.
        assert await budget.acquire("acme") == START + DAY
        assert clock.sleeps == [DAY - 150]
        # An explicit max_wait one microsecond too short fails at once, without waiting.
        with pytest.raises(BudgetExhausted) as info:
            await budget.acquire("acme", max_wait=100 - 1e-6)
        assert info.value.next_free_at == START + DAY + 100
        assert clock.sleeps == [DAY - 150]
        assert await budget.acquire("acme", max_wait=100) == START + DAY + 100


async def test_never_waits_while_a_token_is_free(store: StoreFactory, clock: FakeClock) -> None:
    async with opened(store, limit=5, period=DAY, clock=clock) as budget:
        for _ in range(5):
            assert await budget.acquire("acme", max_wait=None) == START
        assert clock.sleeps == []


async def test_reserve_is_for_interactive_requests_only(
    store: StoreFactory, clock: FakeClock
) -> None:
    async with opened(store, limit=5, reserve=2, period=DAY, clock=clock) as budget:
        assert (await budget.snapshot("acme")).remaining == 3
        for _ in range(3):
            await budget.acquire("acme", max_wait=0)
            clock.advance(1)
        with pytest.raises(BudgetExhausted) as info:
            await budget.acquire("acme", max_wait=0)
        assert info.value.next_free_at == START + DAY
        assert (await budget.snapshot("acme")).remaining == 0
        for _ in range(2):
            await budget.acquire("acme", max_wait=0, interactive=True)
        with pytest.raises(BudgetExhausted) as info:
            await budget.acquire("acme", max_wait=0, interactive=True)
        assert info.value.next_free_at == START + DAY
        # A non-interactive caller needs three tokens back (5 spent, cap 3).
        with pytest.raises(BudgetExhausted) as info:
            await budget.acquire("acme", max_wait=0)
        assert info.value.next_free_at == START + 2 + DAY


async def test_snapshot_fields(store: StoreFactory, clock: FakeClock) -> None:
    async with opened(store, limit=4, reserve=1, period=DAY, clock=clock) as budget:
        snap = await budget.snapshot("acme")
        assert (snap.account, snap.limit, snap.period, snap.reserve) == ("acme", 4, DAY, 1)
        assert (snap.spent, snap.remaining, snap.next_free_at, snap.blocked_until) == (
            0,
            3,
            None,
            None,
        )
        assert snap.at == START
        await budget.acquire("acme")
        clock.advance(60)
        await budget.acquire("acme")
        snap = await budget.snapshot("acme")
        assert (snap.spent, snap.remaining, snap.next_free_at) == (2, 1, START + DAY)
        assert snap.spent_times == (START, START + 60)
        assert snap.at == START + 60
        clock.advance(DAY - 60)  # the first token is back
        snap = await budget.snapshot("acme")
        assert (snap.spent, snap.remaining, snap.next_free_at) == (1, 2, START + 60 + DAY)


async def test_reset_forgets_tokens_and_block(store: StoreFactory, clock: FakeClock) -> None:
    async with opened(store, limit=2, period=DAY, clock=clock) as budget:
        await budget.acquire("acme")
        await budget.acquire("acme")
        await budget.block_until("acme", START + 3600)
        await budget.reset("acme")
        snap = await budget.snapshot("acme")
        assert (snap.spent, snap.remaining, snap.blocked_until) == (0, 2, None)
        assert await budget.acquire("acme", max_wait=0) == START


async def test_block_until_blocks_then_clears(store: StoreFactory, clock: FakeClock) -> None:
    async with opened(store, limit=10, period=DAY, clock=clock) as budget:
        await budget.block_until("acme", START + 60)
        with pytest.raises(BudgetExhausted) as info:
            await budget.acquire("acme", max_wait=0)
        assert info.value.next_free_at == START + 60
        assert "blocked" in info.value.message
        snap = await budget.snapshot("acme")
        assert (snap.blocked_until, snap.remaining, snap.spent) == (START + 60, 0, 0)
        # Waiting is allowed when the block ends within max_wait.
        assert await budget.acquire("acme", max_wait=60) == START + 60
        assert clock.sleeps == [60]
        snap = await budget.snapshot("acme")
        assert (snap.blocked_until, snap.remaining, snap.spent) == (None, 9, 1)


async def test_block_is_never_shortened(store: StoreFactory, clock: FakeClock) -> None:
    async with opened(store, limit=10, period=DAY, clock=clock) as budget:
        await budget.block_until("acme", START + 100)
        await budget.block_until("acme", START + 50)
        await budget.block_until("acme", START - 5)  # already over: ignored
        assert (await budget.snapshot("acme")).blocked_until == START + 100
        await budget.block_until("acme", START + 200)  # lengthening is fine
        assert (await budget.snapshot("acme")).blocked_until == START + 200


async def test_block_and_full_budget_wait_for_the_later(
    store: StoreFactory, clock: FakeClock
) -> None:
    async with opened(store, limit=1, period=100.0, clock=clock) as budget:
        await budget.acquire("acme")
        await budget.block_until("acme", START + 40)
        with pytest.raises(BudgetExhausted) as info:
            await budget.acquire("acme", max_wait=0)
        assert info.value.next_free_at == START + 100
        await budget.block_until("acme", START + 150)
        with pytest.raises(BudgetExhausted) as info:
            await budget.acquire("acme", max_wait=149)
        assert info.value.next_free_at == START + 150
        assert clock.sleeps == []


async def test_block_is_shared_by_every_budget_on_the_store(
    store: StoreFactory, clock: FakeClock
) -> None:
    async with opened(store, limit=10, period=DAY, clock=clock) as first:
        await first.acquire("acme")
        async with store.reopen(first, limit=10, period=DAY, clock=clock) as second:
            await second.block_until("acme", START + 30)
            with pytest.raises(BudgetExhausted):
                await first.acquire("acme", max_wait=0)
            snap = await second.snapshot("acme")
            assert (snap.spent, snap.blocked_until) == (1, START + 30)


async def test_accounts_are_isolated(store: StoreFactory, clock: FakeClock) -> None:
    async with opened(store, limit=2, period=DAY, clock=clock) as budget:
        await budget.acquire("acme")
        await budget.acquire("acme")
        await budget.block_until("acme", START + 10)
        assert await budget.acquire("globex", max_wait=0) == START
        snap = await budget.snapshot("globex")
        assert (snap.spent, snap.remaining, snap.blocked_until) == (1, 1, None)
        await budget.reset("globex")
        assert (await budget.snapshot("acme")).spent == 2


async def test_arguments_are_validated(store: StoreFactory, clock: FakeClock) -> None:
    for bad in (
        {"limit": 0},
        {"limit": True},
        {"period": 0.0},
        {"period": float("nan")},
        {"reserve": 5, "limit": 5},
        {"reserve": -1},
        {"max_wait": -1.0},
    ):
        with pytest.raises(ConfigurationError):
            store.make(**bad)
    async with opened(store, limit=2, period=DAY, clock=clock) as budget:
        with pytest.raises(ConfigurationError):
            await budget.acquire("")
        with pytest.raises(ConfigurationError):
            await budget.acquire("acme", max_wait=-0.5)
        with pytest.raises(ConfigurationError):
            await budget.block_until("acme", float("inf"))
        assert (await budget.snapshot("acme")).spent == 0


async def test_concurrent_acquisitions_never_exceed_the_limit(
    store: StoreFactory, clock: FakeClock
) -> None:
    granted: list[float] = []
    refused = 0

    async def one(budget: Budget) -> None:
        nonlocal refused
        try:
            granted.append(await budget.acquire("acme", max_wait=0))
        except BudgetExhausted:
            refused += 1

    async with (
        opened(store, limit=7, period=DAY, clock=clock) as budget,
        anyio.create_task_group() as tg,
    ):
        for _ in range(20):
            tg.start_soon(one, budget)
    assert (len(granted), refused) == (7, 13)


class StoppedClock(FakeClock):
    """Time stands still and ``sleep`` never returns on its own."""

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await anyio.sleep_forever()


async def test_reset_wakes_waiting_acquirers(store: StoreFactory) -> None:
    clock = StoppedClock()
    granted: list[float] = []

    async def wait_for_token(budget: Budget) -> None:
        granted.append(await budget.acquire("acme", max_wait=None))

    async with opened(store, limit=1, period=DAY, clock=clock) as budget:
        await budget.acquire("acme")
        async with anyio.create_task_group() as tg:
            tg.start_soon(wait_for_token, budget)
            while not clock.sleeps:  # until the waiter is asleep
                await anyio.lowlevel.checkpoint()
            assert clock.sleeps == [DAY]
            await budget.reset("acme")
    assert granted == [START]

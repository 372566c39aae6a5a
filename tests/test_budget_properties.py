"""Property tests: the two invariants of the sliding-window log, on every store.

For any sequence of acquisitions (interactive or not, failing fast or waiting),
server blocks and clock moves:

1. no window of ``period`` seconds holds more than ``limit`` grants;
2. an acquisition is never refused, nor made to wait, while a token is free for it,
   and a waiting acquisition is granted at the first instant one is.

The oracle below is written independently of ``_ledger``: it counts grants in windows.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brightmetrics_async._budget import Budget
from brightmetrics_async._errors import BudgetExhausted
from tests._redis_fixture import redis_server as redis_server  # for getfixturevalue()
from tests.test_budget_conformance import FakeClock, store_factory

PERIOD_US = 100_000_000  # 100 s
PERIOD = PERIOD_US / 1_000_000


@dataclass
class Oracle:
    """What the budget should have done, in integer microseconds."""

    limit: int
    reserve: int
    grants: list[int] = field(default_factory=list)  # sorted
    blocked_until: int = 0

    def live(self, at: int) -> int:
        """Grants in the window (at - period, at]."""
        return bisect.bisect_right(self.grants, at) - bisect.bisect_right(
            self.grants, at - PERIOD_US
        )

    def free(self, at: int, *, interactive: bool) -> bool:
        cap = self.limit if interactive else self.limit - self.reserve
        return at >= self.blocked_until and self.live(at) < cap

    def worst_window(self) -> int:
        """The most grants in any half-open window [t, t + period)."""
        return max(
            (bisect.bisect_left(self.grants, t + PERIOD_US) - i for i, t in enumerate(self.grants)),
            default=0,
        )


@dataclass(frozen=True)
class Advance:
    us: int


@dataclass(frozen=True)
class Acquire:
    interactive: bool
    max_wait_us: int | None


@dataclass(frozen=True)
class Block:
    offset_us: int


advance = st.builds(
    Advance,
    st.one_of(
        st.sampled_from([0, 1, PERIOD_US - 1, PERIOD_US, PERIOD_US + 1]),
        st.integers(0, 2 * PERIOD_US),
    ),
)
acquire = st.builds(
    Acquire,
    st.booleans(),
    st.sampled_from([0, 0, 1, PERIOD_US // 2, PERIOD_US, None]),
)
block = st.builds(Block, st.integers(-PERIOD_US, 2 * PERIOD_US))
operations = st.lists(st.one_of(advance, acquire, acquire, acquire, block), max_size=40)


@dataclass(frozen=True)
class Scenario:
    limit: int
    reserve: int
    ops: list[Advance | Acquire | Block]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    # Everything is drawn here, before the async test body runs: a draw inside it could
    # raise Hypothesis's StopTest (a BaseException) through the event loop.
    limit = draw(st.integers(1, 5))
    reserve = draw(st.integers(0, limit - 1))
    return Scenario(limit, reserve, draw(operations))


async def check(kind: str, request: pytest.FixtureRequest, scenario: Scenario) -> None:
    limit, reserve, ops = scenario.limit, scenario.reserve, scenario.ops
    clock = FakeClock()
    oracle = Oracle(limit, reserve)
    with store_factory(kind, request) as factory:
        async with factory.make(limit=limit, reserve=reserve, period=PERIOD, clock=clock) as b:
            for op in ops:
                if isinstance(op, Advance):
                    clock.us += op.us
                elif isinstance(op, Block):
                    until = clock.us + op.offset_us
                    await b.block_until("acme", until / 1_000_000)
                    oracle.blocked_until = max(oracle.blocked_until, until)
                else:
                    await one_acquisition(b, clock, oracle, op.interactive, op.max_wait_us)
            snap = await b.snapshot("acme")
            assert snap.spent == oracle.live(clock.us)
    assert oracle.worst_window() <= limit


async def one_acquisition(
    budget: Budget, clock: FakeClock, oracle: Oracle, interactive: bool, max_wait_us: int | None
) -> None:
    before = clock.us
    was_free = oracle.free(before, interactive=interactive)
    max_wait = None if max_wait_us is None else max_wait_us / 1_000_000
    refused: BudgetExhausted | None = None
    try:
        granted_at = round(
            await budget.acquire("acme", max_wait=max_wait, interactive=interactive) * 1_000_000
        )
    except BudgetExhausted as exc:
        refused = exc
    if refused is not None:
        assert not was_free, "refused while a token was free"
        assert max_wait_us is not None
        assert clock.us == before, "waited and then refused"
        # Tokens only come back as time passes, so none is free at the deadline either.
        assert not oracle.free(before + max_wait_us, interactive=interactive)
        assert refused.next_free_at is not None
        next_free = round(refused.next_free_at * 1_000_000)
        assert next_free > before + max_wait_us
        assert oracle.free(next_free, interactive=interactive)
        assert not oracle.free(next_free - 1, interactive=interactive)
        return
    assert granted_at == clock.us
    if was_free:
        assert granted_at == before, "made to wait while a token was free"
    else:
        # Granted at the first instant a token was free, within max_wait.
        assert max_wait_us is None or granted_at - before <= max_wait_us
        assert oracle.free(granted_at, interactive=interactive)
        assert not oracle.free(granted_at - 1, interactive=interactive)
    bisect.insort(oracle.grants, granted_at)


def _settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )


@pytest.mark.anyio
@_settings(300)
@given(scenario=scenarios())
async def test_sliding_window_invariants_memory(
    request: pytest.FixtureRequest, scenario: Scenario
) -> None:
    await check("memory", request, scenario)


# Fewer examples: every SQLite grant is an fsync'ed commit (a few ms on a real disk).
@pytest.mark.anyio
@_settings(50)
@given(scenario=scenarios())
async def test_sliding_window_invariants_sqlite(
    request: pytest.FixtureRequest, scenario: Scenario
) -> None:
    await check("sqlite", request, scenario)


@pytest.mark.anyio
@pytest.mark.redis
@_settings(60)
@given(scenario=scenarios())
async def test_sliding_window_invariants_redis(
    request: pytest.FixtureRequest, scenario: Scenario
) -> None:
    await check("redis", request, scenario)

"""An in-process budget: a deque of timestamps per account.

Theory of operation
-------------------
Each account has a deque of live grant timestamps (integer microseconds, ascending)
and an optional block end. An acquisition drops timestamps at or before ``now - period``
from the left, asks :func:`._ledger.decide`, and appends ``now`` when granted. That
critical section never awaits, so on one event loop nothing can run inside it: no lock
is needed, and the fast path costs little more than the deque work.

Use it for one process only: other processes (and restarts) do not see it. For a
daily quota that means a restart forgets what was spent; prefer
:class:`~brightmetrics_async._budget.SQLiteBudget` for anything long-lived.
"""

from __future__ import annotations

import bisect
from collections import deque

from .._clock import Clock
from ._base import DEFAULT, Budget, Default
from ._ledger import MAX_US, US_PER_SECOND, Decision, StoreState, decide, to_us

__all__ = ["MemoryBudget"]


class MemoryBudget(Budget):
    """A sliding-window budget held in this process's memory (see :class:`Budget`).

    Not shared between processes and lost on restart. Serve it from one event loop.

    Raises:
        ConfigurationError: invalid ``limit``, ``period``, ``reserve`` or ``max_wait``.
    """

    def __init__(
        self,
        limit: int = 150,
        period: float = 86400.0,
        *,
        reserve: int = 0,
        max_wait: float | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(
            limit=limit, period=period, reserve=reserve, max_wait=max_wait, clock=clock
        )
        self._logs: dict[str, deque[int]] = {}
        self._blocks: dict[str, int] = {}
        # A subclass that wraps acquire() is asked through it, never around it (the general
        # path, always).
        self._fast = type(self).acquire is MemoryBudget.acquire

    def __repr__(self) -> str:
        return f"MemoryBudget({self._repr_fields()})"

    async def acquire(
        self,
        account: str,
        *,
        max_wait: float | Default | None = DEFAULT,
        interactive: bool = False,
    ) -> float:
        """:meth:`Budget.acquire` (see there); a free token is granted without its loop."""
        if max_wait is DEFAULT or _valid_wait(max_wait):
            granted = self.spend_now(account, interactive=interactive)
            if granted is not None:
                return granted
        return await super().acquire(account, max_wait=max_wait, interactive=interactive)

    def spend_now(self, account: str, *, interactive: bool = False) -> float | None:
        """Spend a token if one is free now and no block is in force; its grant time, else
        None (then :meth:`acquire` decides, waits or refuses).

        Decides exactly as :func:`._ledger.decide` does when a token is free: one token is
        spent per request, and this path costs a fraction of the general one
        (benchmarks/limiter.py). A first acquisition or an odd clock also answers None.
        """
        log = self._logs.get(account)
        if log is None or not self._fast:
            return None
        now_us = round(self._clock.time() * US_PER_SECOND)
        if not 0 <= now_us <= MAX_US:
            return None  # an odd clock: the general path decides
        if log and log[-1] > now_us:
            return None  # the clock went back: the general path decides
        cutoff = now_us - self._period_us
        while log and log[0] <= cutoff:
            log.popleft()
        blocked = self._blocks.get(account)
        cap = self._limit if interactive else self._limit - self._reserve
        if len(log) < cap and (blocked is None or blocked <= now_us):
            log.append(now_us)
            return now_us / US_PER_SECOND
        return None

    def _live(self, account: str, now_us: int) -> deque[int]:
        log = self._logs.get(account)
        if log is None:
            log = self._logs[account] = deque()
        cutoff = now_us - self._period_us
        while log and log[0] <= cutoff:
            log.popleft()
        return log

    async def _attempt(self, account: str, cap: int) -> Decision:
        # No await from here to the return: atomic on the event loop (module docstring).
        now_us = to_us(self._clock.time())
        log = self._live(account, now_us)
        decision = decide(
            log,
            now_us=now_us,
            period_us=self._period_us,
            cap=cap,
            blocked_until_us=self._blocks.get(account),
        )
        if decision.granted:
            if not log or log[-1] <= now_us:
                log.append(now_us)
            else:  # the wall clock stepped back: keep the log sorted
                bisect.insort(log, now_us)
        return decision

    async def _read(self, account: str) -> StoreState:
        now_us = to_us(self._clock.time())
        log = self._live(account, now_us)
        return StoreState(now_us, tuple(log), self._blocks.get(account))

    async def _reset(self, account: str) -> None:
        self._logs.pop(account, None)
        self._blocks.pop(account, None)

    async def _block(self, account: str, until_us: int) -> None:
        if until_us > self._blocks.get(account, until_us - 1):
            self._blocks[account] = until_us

    async def aclose(self) -> None:
        """Nothing to release: the log stays in memory for as long as the object lives."""


def _valid_wait(max_wait: float | None) -> bool:
    """Whether ``max_wait`` is one the general path accepts (else it raises there)."""
    return max_wait is None or (
        type(max_wait) in (int, float) and max_wait >= 0  # NaN compares False
    )

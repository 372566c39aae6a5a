"""The budget interface, and the wait-or-fail loop every store shares.

Theory of operation
-------------------
A store implements four primitives: an atomic check-and-spend (:meth:`Budget._attempt`,
one transaction or one Lua script), a read for snapshots, a reset and a block. This
module owns everything else, so the stores cannot disagree about it:

* argument validation, once, in the constructor and at each call;
* the acquire loop: try; when granted, return the grant time; when refused, compute
  how long until the earliest possible grant. If that instant lies beyond ``max_wait``
  (measured from the first try, in the store's own time) raise
  :class:`~brightmetrics_async._errors.BudgetExhausted` at once, without waiting;
  else sleep with the injected clock and try again -- another process may have taken
  the token meanwhile, hence a loop, bounded by the same deadline;
* :meth:`Budget.reset` wakes this object's sleeping acquirers so they retry at once.
  (A reset made through another object or process is seen when they next wake.)
"""

from __future__ import annotations

import abc
import enum
import math
from datetime import UTC, datetime
from types import TracebackType
from typing import Final, Self

import anyio

from .._clock import Clock, SystemClock
from .._errors import BudgetExhausted, ConfigurationError
from .._models import BudgetSnapshot
from . import _ledger
from ._ledger import Decision, StoreState, check_decision, checked_time, from_us, to_us

__all__ = ["DEFAULT", "Budget", "Default"]


class Default(enum.Enum):
    """Type of :data:`DEFAULT`, the "use the budget's own ``max_wait``" marker."""

    DEFAULT = "DEFAULT"


DEFAULT: Final = Default.DEFAULT


def _check_max_wait(max_wait: float | None) -> float | None:
    if max_wait is None:
        return None
    if isinstance(max_wait, bool) or not isinstance(max_wait, int | float) or math.isnan(max_wait):
        raise ConfigurationError(f"max_wait must be None or seconds >= 0, got {max_wait!r}")
    if max_wait < 0:
        raise ConfigurationError(f"max_wait must be None or seconds >= 0, got {max_wait!r}")
    return None if math.isinf(max_wait) else float(max_wait)


def _check_account(account: str) -> None:
    if not isinstance(account, str) or not account:
        raise ConfigurationError(f"account must be a non-empty string, got {account!r}")


def _iso(us: int) -> str:
    return datetime.fromtimestamp(from_us(us), UTC).isoformat(timespec="seconds")


class Budget(abc.ABC):
    """A shared request budget: at most ``limit`` requests in ANY ``period`` seconds.

    The vendor allows 150 requests per company account in any 24-hour period, counted
    over all users. This is a sliding-window *log*: every spent token's timestamp is kept
    and a token comes back exactly ``period`` seconds after it was spent. A classic token
    bucket of 150 refilling at 150 per 24 h is NOT used on purpose: it lets 150 through at
    once and then refills about 150 more during the same 24 hours, so close to 300 could
    land in one window the vendor counts. With a log, every window of ``period`` seconds
    holds at most ``limit`` grants, and a request is never refused, nor made to wait,
    while a token is free for it.

    ``reserve`` tokens are kept back for interactive use: a non-interactive acquisition
    cannot spend the last ``reserve`` tokens. ``max_wait`` is the default bound on how
    long :meth:`acquire` waits for a token (``None``: as long as needed).

    Account names are stored in clear in the backing store and appear in error
    messages: they must not be secrets (use the company name or a stable label).

    Constructors do no I/O and bind to no event loop; stores open lazily on first use.
    Use ``async with`` or :meth:`aclose` to release their connections.

    Raises:
        ConfigurationError: ``limit < 1``, ``period <= 0``, ``reserve`` outside
            ``0 <= reserve < limit`` or a negative ``max_wait``.
    """

    def __init__(
        self,
        *,
        limit: int = 150,
        period: float = 86400.0,
        reserve: int = 0,
        max_wait: float | None = None,
        clock: Clock | None = None,
    ) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigurationError(f"limit must be an integer >= 1, got {limit!r}")
        period = checked_time(period, what="period")
        if period <= 0 or to_us(period) < 1:
            raise ConfigurationError(f"period must be > 0 seconds, got {period!r}")
        if isinstance(reserve, bool) or not isinstance(reserve, int) or not 0 <= reserve < limit:
            raise ConfigurationError(f"reserve must be an integer in [0, limit), got {reserve!r}")
        if clock is not None and not isinstance(clock, Clock):
            raise ConfigurationError(f"clock must provide time() and sleep(), got {clock!r}")
        self._limit = limit
        self._period = period
        self._period_us = to_us(period)
        self._reserve = reserve
        self._max_wait = _check_max_wait(max_wait)
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._sleepers: set[anyio.CancelScope] = set()

    @property
    def limit(self) -> int:
        """Tokens per window (150 for the vendor's API)."""
        return self._limit

    @property
    def period(self) -> float:
        """Window length in seconds (86400.0 for the vendor's API)."""
        return self._period

    @property
    def reserve(self) -> int:
        """Tokens only interactive acquisitions may spend."""
        return self._reserve

    @property
    def max_wait(self) -> float | None:
        """Default bound, in seconds, on how long :meth:`acquire` waits (None: unbounded)."""
        return self._max_wait

    @property
    def clock(self) -> Clock:
        """The clock used to wait (and, except for server-time Redis, to read the time)."""
        return self._clock

    async def acquire(
        self,
        account: str,
        *,
        max_wait: float | Default | None = DEFAULT,
        interactive: bool = False,
    ) -> float:
        """Spend one token of ``account`` before sending a request; return the grant time.

        If no token is free, or a server 429 blocks the account, wait with the clock
        until one frees up when that is within ``max_wait`` seconds (default: the
        budget's own ``max_wait``). Non-interactive acquisitions cannot use the last
        ``reserve`` tokens.

        Raises:
            BudgetExhausted: no token frees up within ``max_wait``; raised without
                waiting. ``next_free_at`` says when one will.
            ConfigurationError: empty account or negative ``max_wait``.
            TransportError: the backing store failed.
            BudgetStoreError: the store holds corrupt or future-dated values, or its file
                was deleted or replaced; nothing is reset.
        """
        _check_account(account)
        bound = self._max_wait if max_wait is DEFAULT else _check_max_wait(max_wait)
        cap = self._limit if interactive else self._limit - self._reserve
        deadline_us: int | None = None
        slept = 0.0
        while True:
            # A store that answers nonsense (corrupt values) is refused, never looped on.
            decision = check_decision(await self._attempt(account, cap), store=self.store_name)
            if decision.granted:
                return from_us(decision.now_us)
            if deadline_us is None:
                deadline_us = -1 if bound is None else decision.now_us + to_us(bound)
            wait = from_us(max(decision.next_free_us - decision.now_us, 1))
            # Bounded in the store's time AND in the time slept here, whatever the store says.
            if deadline_us >= 0 and (
                decision.next_free_us > deadline_us or (bound is not None and slept + wait > bound)
            ):
                raise self._exhausted(account, decision, cap)
            # At least 1 µs, so a store whose clock has not moved cannot make this spin.
            await self._wait(wait)
            slept += wait

    def spend_now(self, account: str, *, interactive: bool = False) -> float | None:
        """Spend a token at once if this store can without waiting or I/O; its grant time,
        or None: call :meth:`acquire`. Stores that need I/O always answer None."""
        return None

    async def _wait(self, seconds: float) -> None:
        # reset() on this object cancels the scope: the waiter retries at once instead of
        # sleeping on while the tokens it waits for are free again.
        with anyio.CancelScope() as scope:
            self._sleepers.add(scope)
            try:
                await self._clock.sleep(seconds)
            finally:
                self._sleepers.discard(scope)

    def _exhausted(self, account: str, decision: Decision, cap: int) -> BudgetExhausted:
        if decision.blocked_until_us is not None:
            why = f"blocked by the server until {_iso(decision.blocked_until_us)}"
        else:
            why = f"{decision.spent} of {cap} usable tokens spent in the last {self._period:g} s"
        return BudgetExhausted(
            f"request budget of account {account!r} exhausted: {why}; "
            f"next token free at {_iso(decision.next_free_us)}",
            next_free_at=from_us(decision.next_free_us),
            remaining=0,
        )

    async def snapshot(self, account: str) -> BudgetSnapshot:
        """Return the state of ``account``'s budget now.

        Raises:
            ConfigurationError: empty account.
            TransportError: the backing store failed.
        """
        _check_account(account)
        state = await self._read(account)
        return _ledger.snapshot(
            account,
            state.live,
            now_us=state.now_us,
            limit=self._limit,
            period=self._period,
            reserve=self._reserve,
            blocked_until_us=state.blocked_until_us,
        )

    async def reset(self, account: str) -> None:
        """Forget ``account``'s spent tokens and any block, as after the web UI's reset button.

        Raises:
            ConfigurationError: empty account.
            TransportError: the backing store failed.
        """
        _check_account(account)
        await self._reset(account)
        for scope in list(self._sleepers):
            scope.cancel()

    async def block_until(self, account: str, until: float) -> None:
        """Record that a server 429 asked ``account`` to wait until ``until`` (Unix time).

        The block lives in the shared store, so every process of the account pauses.
        An existing later block is never shortened.

        Raises:
            ConfigurationError: empty account or non-finite ``until``.
            TransportError: the backing store failed.
        """
        _check_account(account)
        until = checked_time(until, what="until")
        # Round up: a block one microsecond short would let a request through too early.
        await self._block(account, math.ceil(until * 1_000_000))

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Release the store's connections; the budget reopens them if used again."""

    @abc.abstractmethod
    async def _attempt(self, account: str, cap: int) -> Decision:
        """Atomically: prune, check the block and the count against ``cap``, spend if allowed."""

    @abc.abstractmethod
    async def _read(self, account: str) -> StoreState:
        """Read the live timestamps and the block, without spending."""

    @abc.abstractmethod
    async def _reset(self, account: str) -> None:
        """Delete the account's timestamps and block."""

    @abc.abstractmethod
    async def _block(self, account: str, until_us: int) -> None:
        """Set the account's block to ``max(existing, until_us)``."""

    @property
    def store_name(self) -> str:
        """What names this store in errors (a path, a redacted URL; never a secret)."""
        return type(self).__name__

    def _repr_fields(self) -> str:
        return f"limit={self._limit}, period={self._period!r}"

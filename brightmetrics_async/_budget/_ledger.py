"""The sliding-window log as pure, synchronous functions shared by every store.

Theory of operation
-------------------
A budget of ``limit`` tokens per ``period`` is kept as a *log*: one timestamp per token
spent. A token spent at ``t`` is *live* while ``t > now - period`` and comes back exactly
at ``t + period``. A request may spend a token when no server block is in force and
fewer than ``cap`` tokens are live, where ``cap`` is ``limit`` for interactive requests
and ``limit - reserve`` otherwise.

Invariants (checked by the property tests):

* every window of ``period`` seconds holds at most ``limit`` grants, because a grant
  only happens while fewer than ``limit`` grants lie in the ``period`` before it;
* a request is never refused while a token is free for it (no block, fewer than
  ``cap`` live tokens).

When a request is refused, the earliest instant it could succeed is when enough old
tokens have come back for the live count to drop below ``cap`` -- the
``(n - cap)``-th oldest live token plus ``period`` -- or the end of the block,
whichever is later.

Time is kept in integer microseconds. In floating point ``(t + period) - period`` need
not equal ``t``, so a waiter woken at ``t + period`` could find its token still live
and spin; integers make "comes back exactly ``period`` later" exact in every store
(SQLite INTEGER columns, Redis scores, which are doubles exact up to 2**53 µs, about
285 years).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

import attrs

from .._errors import BudgetStoreError, ConfigurationError
from .._models import BudgetSnapshot

__all__ = [
    "FUTURE_SKEW_US",
    "MAX_SECONDS",
    "MAX_US",
    "check_decision",
    "check_live",
    "check_time_us",
    "Decision",
    "StoreState",
    "checked_time",
    "decide",
    "from_us",
    "snapshot",
    "to_us",
]

US_PER_SECOND = 1_000_000


def to_us(seconds: float) -> int:
    """Convert float seconds to integer microseconds (nearest)."""
    return round(seconds * US_PER_SECOND)


def from_us(us: int) -> float:
    """Convert integer microseconds back to float seconds (round-trips with :func:`to_us`)."""
    return us / US_PER_SECOND


# Largest time accepted, in seconds: stores keep microseconds, and Redis scores are
# doubles, exact only up to 2**53 µs (year 2255). Year 2200 leaves room for a period.
MAX_SECONDS = 7_258_118_400.0


def checked_time(value: float, *, what: str) -> float:
    """Return ``value`` as a float if it is a finite number in ``[0, MAX_SECONDS]``.

    Raises:
        ConfigurationError: ``value`` is not a real number in that range.
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 <= value <= MAX_SECONDS  # also rejects NaN
    ):
        raise ConfigurationError(
            f"{what} must be a number of seconds in [0, {MAX_SECONDS:g}], got {value!r}"
        )
    return float(value)


class Decision(NamedTuple):
    """The outcome of one check-and-spend (a named tuple: one is made per request).

    ``spent`` counts live tokens after the decision; ``next_free_us`` is ``now_us`` when
    granted, else the earliest instant the same request could be granted (assuming no
    one else spends meanwhile); ``blocked_until_us`` is a server block still in force.
    """

    granted: bool
    now_us: int
    spent: int
    next_free_us: int
    blocked_until_us: int | None = None


def decide(
    live: Sequence[int],
    *,
    now_us: int,
    period_us: int,
    cap: int,
    blocked_until_us: int | None,
) -> Decision:
    """Decide whether one more token may be spent at ``now_us``.

    ``live`` holds the live timestamps (``t > now_us - period_us``) in ascending order;
    the caller appends ``now_us`` to its log when the decision is granted.
    """
    n = len(live)
    if blocked_until_us is not None and blocked_until_us <= now_us:
        blocked_until_us = None  # an expired block is no block
    if n < cap and blocked_until_us is None:
        return Decision(True, now_us, n + 1, now_us)
    free_us = now_us if n < cap else live[n - cap] + period_us
    if blocked_until_us is not None:
        free_us = max(free_us, blocked_until_us)
    return Decision(False, now_us, n, free_us, blocked_until_us)


def snapshot(
    account: str,
    live: Sequence[int],
    *,
    now_us: int,
    limit: int,
    period: float,
    reserve: int,
    blocked_until_us: int | None,
) -> BudgetSnapshot:
    """Build the public snapshot from a store's live timestamps (ascending).

    ``remaining`` is what a non-interactive request could use now: 0 while a server
    block is in force, else ``limit - reserve - spent`` (never negative).
    """
    blocked = blocked_until_us
    if blocked is not None and blocked <= now_us:
        blocked = None  # an expired block is no block
    spent = len(live)
    remaining = 0 if blocked is not None else max(0, limit - reserve - spent)
    return BudgetSnapshot(
        account=account,
        limit=limit,
        period=period,
        spent=spent,
        remaining=remaining,
        reserve=reserve,
        next_free_at=from_us(live[0] + to_us(period)) if live else None,
        blocked_until=from_us(blocked) if blocked is not None else None,
        at=from_us(now_us),
        spent_times=tuple(from_us(t) for t in live),
    )


@attrs.frozen
class StoreState:
    """What a store read for a snapshot: its time, the live timestamps (ascending) and
    the block, all in integer microseconds."""

    now_us: int
    live: tuple[int, ...]
    blocked_until_us: int | None


# -- corruption checks (stores are files and keys anyone on the machine may edit) ----------

#: Largest time accepted from a store, in microseconds.
MAX_US = to_us(MAX_SECONDS)
#: How far ahead of the reader's clock a spent entry may lie (clocks of two processes or
#: machines disagree a little). Anything later is corruption or a badly skewed clock: it is
#: neither counted nor pruned, the store is refused.
FUTURE_SKEW_US = 300 * US_PER_SECOND


def _bad(store: str, what: str) -> BudgetStoreError:
    return BudgetStoreError(
        f"budget store {store}: {what}; refusing to use it (nothing was reset: fix or delete "
        "the entries, or reset the account explicitly)",
        store=store,
    )


def check_time_us(value: object, *, store: str, what: str) -> int:
    """``value`` if it is an integer number of microseconds in ``[0, MAX_US]``.

    Raises :class:`BudgetStoreError` for text, REAL values (infinities included), bools and
    out-of-range integers.
    """
    if type(value) is not int or not 0 <= value <= MAX_US:
        raise _bad(store, f"{what} holds {_shown(value)}, not a time in microseconds")
    return value


def check_live(values: Iterable[object], *, now_us: int, store: str) -> tuple[int, ...]:
    """The spent timestamps of a store, ascending, after the corruption checks.

    Raises :class:`BudgetStoreError` for a malformed value or one more than
    :data:`FUTURE_SKEW_US` after ``now_us``.
    """
    live = sorted(check_time_us(v, store=store, what="a spent entry") for v in values)
    if live and live[-1] > now_us + FUTURE_SKEW_US:
        ahead = (live[-1] - now_us) / US_PER_SECOND
        raise _bad(
            store,
            f"a spent entry lies {ahead:.0f} s in the future (a process with a clock ahead, or "
            "an edit)",
        )
    return tuple(live)


def check_decision(decision: Decision, *, store: str) -> Decision:
    """``decision`` if consistent: times in range, a refusal frees up strictly later.

    Raises :class:`BudgetStoreError` otherwise (a store that would make a waiter spin).
    """
    check_time_us(decision.now_us, store=store, what="the store's time")
    if not decision.granted:
        free = decision.next_free_us
        if type(free) is not int or not decision.now_us < free <= 2 * MAX_US:
            raise _bad(store, "a refusal with no sensible time for the next free token")
    return decision


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"

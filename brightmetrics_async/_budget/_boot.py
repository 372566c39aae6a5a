"""Ageing spent entries by the boot's clock as well as the wall clock (pure functions).

Theory of operation
-------------------
A process whose wall clock runs a day ahead sees every entry of the others as a day old: by
the wall clock alone it would prune them and spend the whole budget again. On one machine
there is a clock no process can set: the kernel's ``CLOCK_BOOTTIME``, one timeline per boot
(named by the boot id). A store shared by the processes of one machine records, with each
entry, the wall time, the boot id and the boot clock's reading (:class:`Reading`).

An entry written during the reader's boot has two ages, one per clock; it stays in the
window until *both* say it is older than the period (a wrong wall clock, or a boot clock
shifted by a time namespace, can only make it stay longer, never leave early). Its
*effective* time, the one the sliding-window ledger works with, is therefore
``max(wall time, reader's wall time - boot-clock age)``. Entries of another boot (or of a
file written before this scheme, or by a clock without a boot clock) age by the wall clock
as before. A boot-clock reading ahead of the reader's by more than the allowed skew is
corruption, like a wall time in the future.
"""

from __future__ import annotations

import math

import attrs

from .._clock import BootClock, Clock
from ._ledger import FUTURE_SKEW_US, US_PER_SECOND, _bad, check_time_us, to_us

__all__ = ["Reading", "effective_us", "read_clock"]


@attrs.frozen
class Reading:
    """One reading of a clock: wall microseconds, and the boot id and boot-clock
    microseconds when the clock has a boot clock (else both None)."""

    wall_us: int
    boot: str | None = None
    boot_us: int | None = None


def read_clock(clock: Clock) -> Reading:
    """Read ``clock`` (its boot clock too when it is a :class:`BootClock` that has one)."""
    wall_us = to_us(clock.time())
    since = clock.since_boot() if isinstance(clock, BootClock) else None
    if since is None:
        return Reading(wall_us)
    boot, seconds = since
    if not isinstance(boot, str) or not boot or not (isinstance(seconds, float | int)):
        return Reading(wall_us)
    if not math.isfinite(seconds) or seconds < 0:
        return Reading(wall_us)
    return Reading(wall_us, boot, to_us(seconds))


def effective_us(at: object, boot: object, boot_us: object, now: Reading, *, store: str) -> int:
    """The time, on ``now``'s wall clock, from which a spent entry ages (see the module).

    Raises :class:`BudgetStoreError` for a malformed entry or a boot-clock reading in the
    future.
    """
    at_us = check_time_us(at, store=store, what="a spent entry")
    if boot is None and boot_us is None:
        return at_us
    if not isinstance(boot, str) or not boot:
        raise _bad(store, "a spent entry's boot id is not text")
    then = check_time_us(boot_us, store=store, what="a spent entry's boot clock")
    if now.boot_us is None or boot != now.boot:
        return at_us
    if then > now.boot_us + FUTURE_SKEW_US:
        ahead = (then - now.boot_us) / US_PER_SECOND
        raise _bad(store, f"a spent entry lies {ahead:.0f} s in the future by this boot's clock")
    return max(at_us, now.wall_us - (now.boot_us - then))

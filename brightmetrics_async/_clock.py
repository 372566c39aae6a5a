"""Time, injected.

Every component that waits or reads the time takes a :class:`Clock`, so tests can move
through hours and days without really waiting. Time is float seconds since the Unix
epoch (wall clock) because budgets and job expiries must survive restarts and be
comparable across processes.

A wall clock can be wrong in one process and right in another (a process started under
``faketime``, a clock stepped by hand). Stores shared by the processes of one machine
therefore also record the boot's own clock when the clock offers one
(:class:`BootClock`): the kernel's boot id and the seconds since that boot
(``CLOCK_BOOTTIME`` on Linux), which every process of a boot reads alike and nobody can
set. Two readings of one boot give a true elapsed time whatever the wall clocks say.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

import anyio

__all__ = ["BootClock", "Clock", "SystemClock", "system_since_boot"]


@runtime_checkable
class Clock(Protocol):
    """What the library needs of a clock: the time, and a way to wait."""

    def time(self) -> float:
        """Seconds since the Unix epoch."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (a value <= 0 still yields to the event loop)."""
        ...


@runtime_checkable
class BootClock(Clock, Protocol):
    """A clock that can also say how long the machine has been up (optional for clocks)."""

    def since_boot(self) -> tuple[str, float] | None:
        """``(boot id, seconds since that boot)``, or None where the system offers none."""
        ...


_BOOT_ID = "/proc/sys/kernel/random/boot_id"
_boot_id: str | bool | None = False  # False: not read yet


def system_since_boot() -> tuple[str, float] | None:
    """The kernel's boot id and ``CLOCK_BOOTTIME`` (Linux), else None.

    ``CLOCK_BOOTTIME`` is ``CLOCK_MONOTONIC`` plus the time suspended: one clock for every
    process of a boot, which does not jump when the wall clock is set.
    """
    global _boot_id
    if _boot_id is False:
        try:
            with open(_BOOT_ID, encoding="ascii") as file:
                _boot_id = file.read().strip() or None
        except (OSError, ValueError):
            _boot_id = None
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    if not isinstance(_boot_id, str) or boottime is None:
        return None
    return _boot_id, time.clock_gettime(boottime)


class SystemClock:
    """The real clock: :func:`time.time` and :func:`anyio.sleep`."""

    __slots__ = ()

    #: :func:`time.time` itself: read several times per request, so no wrapper frame.
    time = staticmethod(time.time)

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(max(0.0, seconds))

    def since_boot(self) -> tuple[str, float] | None:
        return system_since_boot()

    def __repr__(self) -> str:
        return "SystemClock()"

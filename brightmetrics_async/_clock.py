"""Time, injected.

Every component that waits or reads the time takes a :class:`Clock`, so tests can move
through hours and days without really waiting. Time is float seconds since the Unix
epoch (wall clock) because budgets and job expiries must survive restarts and be
comparable across processes.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

import anyio

__all__ = ["Clock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """What the library needs of a clock: the time, and a way to wait."""

    def time(self) -> float:
        """Seconds since the Unix epoch."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (a value <= 0 still yields to the event loop)."""
        ...


class SystemClock:
    """The real clock: :func:`time.time` and :func:`anyio.sleep`."""

    __slots__ = ()

    #: :func:`time.time` itself: read several times per request, so no wrapper frame.
    time = staticmethod(time.time)

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(max(0.0, seconds))

    def __repr__(self) -> str:
        return "SystemClock()"

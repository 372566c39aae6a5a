"""A virtual clock for tests: hours pass in microseconds.

Theory of operation
-------------------
Virtual time ``now`` only moves forward, and only in two ways:

* ``advance(seconds)`` / ``advance_to(t)``: the test moves time explicitly; every sleeper whose
  wake time is reached is woken, in wake-time order.
* autojump (on by default): a driver task watches the event loop. When nothing has happened for
  ``autojump_idle`` real seconds - no sleeper was added or woken and the loop's ready queue stayed
  empty across three consecutive checks - time jumps to the earliest sleeper's wake time. Requests
  in flight over loopback keep the loop busy, so time does not jump under them (like trio's
  ``MockClock(autojump_threshold=...)``).

The clock satisfies the library's ``Clock`` protocol (``time()`` and ``async sleep()``) without
importing it, and the emulator takes ``clock.time`` as its time source, so client and server share
one virtual timeline. Sleeping costs nothing while waiting: each sleeper is one future in a heap.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable

__all__ = ["SkewedClock", "VirtualClock", "scaled"]

_DEFAULT_START = 1_767_225_600.0  # 2026-01-01T00:00:00Z


class VirtualClock:
    """A deterministic clock for tests; ``time()`` is Unix seconds of virtual time."""

    def __init__(
        self,
        start: float = _DEFAULT_START,
        *,
        autojump: bool = True,
        autojump_idle: float = 0.005,
        boot_id: str | None = None,
    ) -> None:
        self._now = float(start)
        # Virtual machine uptime: an hour at ``start``. Without a boot id there is none.
        self._boot_id = boot_id
        self._booted = self._now - 3600.0
        self._autojump = autojump
        self._idle = autojump_idle
        self._heap: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._activity = 0
        self._driver: asyncio.Task[None] | None = None
        self.sleeps = 0  # how many sleep() calls were made (statistics for tests)

    def __repr__(self) -> str:
        return f"VirtualClock(now={self._now!r}, sleepers={len(self._heap)})"

    def time(self) -> float:
        """Virtual Unix time in seconds."""
        return self._now

    def since_boot(self) -> tuple[str, float] | None:
        """``(boot_id, virtual seconds since boot)`` when built with a ``boot_id``, else None
        (the library's optional ``BootClock``: the clock every process of one boot shares)."""
        if self._boot_id is None:
            return None
        return self._boot_id, self._now - self._booted

    def skewed(self, seconds: float) -> SkewedClock:
        """A view of this clock whose wall time is ``seconds`` ahead (behind if negative): a
        process of the same machine and boot with a wrong wall clock."""
        return SkewedClock(self, seconds)

    @property
    def sleepers(self) -> int:
        """How many tasks are asleep on this clock."""
        return sum(1 for *_, fut in self._heap if not fut.done())

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of virtual time (0 or less just yields)."""
        self.sleeps += 1
        self._activity += 1
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._heap, (self._now + seconds, next(self._seq), fut))
        if self._autojump and (self._driver is None or self._driver.done()):
            self._driver = loop.create_task(self._drive())
        try:
            await fut
        finally:
            self._activity += 1

    def advance(self, seconds: float) -> None:
        """Move virtual time forward by ``seconds`` and wake the sleepers that are due."""
        if seconds < 0:
            raise ValueError("a clock only moves forward")
        self.advance_to(self._now + seconds)

    def advance_to(self, when: float) -> None:
        """Move virtual time forward to ``when`` (never backwards)."""
        self._now = max(self._now, when)
        while self._heap and self._heap[0][0] <= self._now:
            _, _, fut = heapq.heappop(self._heap)
            if not fut.done():
                fut.set_result(None)

    def _earliest(self) -> float | None:
        while self._heap and self._heap[0][2].done():  # cancelled sleepers
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    async def _drive(self) -> None:
        loop = asyncio.get_running_loop()
        quiet = 0
        seen = self._activity
        while True:
            await asyncio.sleep(self._idle)
            earliest = self._earliest()
            if earliest is None:
                return
            ready = len(getattr(loop, "_ready", ()))
            if self._activity == seen and ready == 0:
                quiet += 1
            else:
                quiet = 0
                seen = self._activity
            if quiet >= 3:
                quiet = 0
                self.advance_to(earliest)
                seen = self._activity


class SkewedClock:
    """Another process's view of a :class:`VirtualClock`: the same boot and the same sleeps,
    the wall time off by ``offset`` seconds."""

    def __init__(self, base: VirtualClock, offset: float) -> None:
        self.base = base
        self.offset = float(offset)

    def __repr__(self) -> str:
        return f"SkewedClock({self.base!r}, offset={self.offset!r})"

    def time(self) -> float:
        """The base clock's time plus the offset."""
        return self.base.time() + self.offset

    def since_boot(self) -> tuple[str, float] | None:
        """The base clock's boot clock (not skewed: one clock for the whole machine)."""
        return self.base.since_boot()

    async def sleep(self, seconds: float) -> None:
        """Sleep on the base clock."""
        await self.base.sleep(seconds)


def scaled(clock: Callable[[], float], speed: float) -> Callable[[], float]:
    """``clock`` running ``speed`` times faster from the moment of the call (``speed`` 1: as is).

    Raises ValueError if ``speed`` is not positive.
    """
    if not speed > 0:
        raise ValueError("a clock's speed must be positive")
    if speed == 1:
        return clock
    origin = clock()

    def now() -> float:
        return origin + (clock() - origin) * speed

    return now

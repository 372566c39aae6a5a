"""Concurrent identical requests share one request and its answer (no aiohttp here).

Theory of operation
-------------------
:meth:`SingleFlight.do` runs ``call()`` for the first caller of a key (the *leader*); callers
with the same key arriving while it runs (*followers*) wait for it and get its value, or its
error, instead of running their own. The key is forgotten as soon as the call ends: this is
not a cache, only a merge of requests that are in flight at once. When the leader is
cancelled, its followers are not: one of them runs the call again as the new leader.

:func:`flights` gives the one instance of the current event loop, so every session of the
process shares it (held weakly per loop: nothing is bound to a loop at import). The
transport keys requests by method, URL, headers (the credential included, as a digest) and the
reader of the answer, so only truly identical requests meet.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

import anyio

__all__ = ["Call", "SingleFlight", "flights"]

V = TypeVar("V")


class Call:
    """A call led by one caller (:meth:`SingleFlight.lead`), settled by it once."""

    __slots__ = ("_calls", "_key", "done", "error", "followers", "value")

    def __init__(self, calls: dict[Hashable, Call], key: Hashable) -> None:
        self._calls, self._key = calls, key
        # Made by the first follower: a call nobody waits for (nearly all of them) makes no
        # event, as an anyio.Event costs more than the rest of the bookkeeping together.
        self.done: anyio.Event | None = None
        self.value: Any = None
        self.error: BaseException | None = None
        self.followers = 0

    def settle(self, value: Any = None, error: BaseException | None = None) -> None:
        """The call ended with ``value`` or ``error``: its followers get it, and the key is
        forgotten (a later caller runs it again)."""
        self.value, self.error = value, error
        del self._calls[self._key]
        if self.done is not None:
            self.done.set()


class SingleFlight:
    """Merge concurrent calls that have the same key (see the module docstring)."""

    def __init__(self) -> None:
        self._calls: dict[Hashable, Call] = {}
        self.shared = 0  # calls answered by another caller's request (for tests and stats)

    def __repr__(self) -> str:
        return f"<SingleFlight in_flight={len(self._calls)} shared={self.shared}>"

    async def do(self, key: Hashable, call: Callable[..., Awaitable[V]], *args: Any) -> V:
        """The value of ``call(*args)``, run once for all concurrent callers of ``key``.

        Raises what ``call`` raised (followers get the leader's error).
        """
        while (mine := self.lead(key)) is None:
            running = self._calls[key]
            running.followers += 1
            done = running.done
            if done is None:
                done = running.done = anyio.Event()
            await done.wait()
            if isinstance(running.error, anyio.get_cancelled_exc_class()):
                continue  # the leader was cancelled, not us: run it ourselves
            self.shared += 1
            if running.error is not None:
                raise running.error
            value: V = running.value
            return value
        try:
            result = await call(*args)
        except BaseException as exc:
            mine.settle(error=exc)
            raise
        mine.settle(result)
        return result

    def lead(self, key: Hashable) -> Call | None:
        """Claim ``key``: the :class:`Call` to :meth:`Call.settle` once its work ends
        (whatever way it ends), or None when another caller runs it (then :meth:`do` waits
        for its answer). :meth:`do` in two halves, for a caller that does the work in its
        own frame."""
        if key in self._calls:
            return None
        mine = self._calls[key] = Call(self._calls, key)
        return mine


#: One instance per event loop, held weakly by the loop: a finished loop is not kept alive.
_FLIGHTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SingleFlight] = (
    weakref.WeakKeyDictionary()
)


def flights() -> SingleFlight:
    """The :class:`SingleFlight` of the running event loop (created on first use).

    Keyed by the loop itself rather than an anyio run variable: looking one up makes anyio
    load its backend (about 8 ms of a process's CPU), which a session that only pages never
    needs otherwise.
    """
    loop = asyncio.get_running_loop()
    made = _FLIGHTS.get(loop)
    if made is None:
        made = _FLIGHTS[loop] = SingleFlight()
    return made

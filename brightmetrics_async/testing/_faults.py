"""Fault injection (placeholder until the full injector lands)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

__all__ = ["Faults"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Faults:
    """Scheduled faults; empty by default, so requests pass straight through."""

    def __init__(self, *, seed: int) -> None:
        self._seed = seed

    async def handle(
        self, request: web.Request, handler: Handler, *, now: float
    ) -> web.StreamResponse:
        """Answer ``request``, injecting a due fault if any."""
        return await handler(request)

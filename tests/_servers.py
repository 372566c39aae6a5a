"""Small programmable loopback servers for tests that need a misbehaving or foreign peer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import attrs
from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@attrs.define
class Recorded:
    """What a server received: raw request lines and headers, in order."""

    targets: list[str] = attrs.field(factory=list)
    headers: list[dict[str, str]] = attrs.field(factory=list)

    @property
    def authorizations(self) -> list[str | None]:
        return [h.get("Authorization") for h in self.headers]


@attrs.frozen
class Peer:
    url: str
    recorded: Recorded


@asynccontextmanager
async def peer(handler: Handler | None = None) -> AsyncIterator[Peer]:
    """Serve ``handler`` (default: 200 ``{"value": []}``) on 127.0.0.1:0, recording requests."""
    recorded = Recorded()

    async def default(_: web.Request) -> web.StreamResponse:
        return web.json_response({"value": []})

    async def record(request: web.Request) -> web.StreamResponse:
        recorded.targets.append(request.raw_path)
        recorded.headers.append(dict(request.headers))
        return await (handler or default)(request)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield Peer(f"http://127.0.0.1:{port}", recorded)
    finally:
        await runner.cleanup()

"""Serving an emulator over real HTTP on loopback (for tests) or any interface (for the CLI)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import attrs
from aiohttp import web

from ._app import Emulator
from ._config import EmulatorConfig

__all__ = ["EmulatorServer", "run_forever", "serve"]


@attrs.frozen
class EmulatorServer:
    """A running emulator: ``url`` is the OData service root, ``origin`` the scheme+host+port."""

    origin: str
    url: str
    emulator: Emulator


@asynccontextmanager
async def serve(
    emulator: Emulator | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[EmulatorServer]:
    """Serve ``emulator`` (a default one if None) until the block exits.

    ``port=0`` picks a free port; the real one is in the yielded server's ``url``.
    Raises OSError if the address cannot be bound.
    """
    emulator = emulator if emulator is not None else Emulator()
    runner = web.AppRunner(emulator.app(), handle_signals=False, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        if ":" in bound_host:  # IPv6 literal
            bound_host = f"[{bound_host}]"
        origin = f"http://{bound_host}:{bound_port}"
        yield EmulatorServer(origin, origin + emulator.config.root_path, emulator)
    finally:
        await runner.cleanup()


def run_forever(
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    seed: int = 0,
    config: EmulatorConfig | None = None,
    emulator: Emulator | None = None,
    on_ready: Callable[[EmulatorServer], None] | None = None,
) -> None:
    """Serve an emulator until interrupted (the ``brightmetrics emulator`` command).

    ``emulator`` wins over ``config``, which wins over ``seed``. ``on_ready`` is called once
    the port is bound (e.g. to print the URL). Raises OSError if the address cannot be bound;
    KeyboardInterrupt propagates to the caller after the server has shut down.
    """
    if emulator is None:
        emulator = Emulator(config if config is not None else EmulatorConfig(seed=seed))

    served = emulator

    async def main() -> None:
        async with serve(served, host=host, port=port) as server:
            if on_ready is not None:
                on_ready(server)
            await asyncio.Event().wait()

    asyncio.run(main())

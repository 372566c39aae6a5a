"""Helpers for the emulator's own tests: raw HTTP against ``serve()``, never the client library."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp

from brightmetrics_async.testing import (
    DEMO_API_KEY,
    Emulator,
    EmulatorConfig,
    EmulatorServer,
    VirtualClock,
    serve,
)

AGENT_DETAIL = "6f40b845-fb28-4547-b73b-e11ce29f481b"
CALLER_SEARCH = "68c8e362-b2c2-6f6d-498b-af782b253239"
SERVICE_SUMMARY = "03bd1235-eb2c-410f-a415-fefacd98df41"
HELPDESK = "0c15c8a5-128b-488b-8758-ef15868c3b5b"
ABANDONED = "b7e2d0a4-5c1f-4e8b-9a3d-2f6c8e1b4d70"
START = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def basic(user: str, secret: str) -> str:
    """A Basic Authorization header value."""
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


BEARER = {"Authorization": f"Bearer {DEMO_API_KEY}"}


@asynccontextmanager
async def running(
    config: EmulatorConfig | None = None, *, clock: VirtualClock | None = None
) -> AsyncIterator[tuple[EmulatorServer, aiohttp.ClientSession, VirtualClock]]:
    """Serve a fresh emulator on a manual virtual clock; yield it with a session."""
    clock = clock or VirtualClock(START, autojump=False)
    emulator = Emulator(config or EmulatorConfig(quota_limit=None), clock=clock.time)
    async with serve(emulator) as server, aiohttp.ClientSession() as session:
        yield server, session, clock

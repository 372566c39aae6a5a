"""Shared pieces of the reliability tests: an emulator + session on one virtual clock, with a
real SQLite budget file, and the post-conditions every fault test checks (no leak, no partial
file, budget spent equal to requests the server saw)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs

import brightmetrics_async as bm
from brightmetrics_async.testing import (
    DEMO_API_KEY,
    Emulator,
    EmulatorConfig,
    EmulatorServer,
    VirtualClock,
    serve,
)

SUMMARY = "03bd1235-eb2c-410f-a415-fefacd98df41"  # one page
CALLER_ID = "68c8e362-b2c2-6f6d-498b-af782b253239"  # several pages
AGENT_DETAIL = "6f40b845-fb28-4547-b73b-e11ce29f481b"  # several pages
# Deterministic retries: no jitter, a few tries, waits on the virtual clock only.
RETRY = bm.RetryPolicy(attempts=3, backoff=1.0, backoff_max=4.0, total=30.0, jitter=False)


@attrs.define
class Rig:
    """One emulator, one client session, one clock, one SQLite budget file."""

    clock: VirtualClock
    emulator: Emulator
    server: EmulatorServer
    session: bm.Session
    budget: bm.SQLiteBudget
    out: Path

    async def spent(self) -> int:
        return (await self.budget.snapshot(self.session.account)).spent

    async def logged(self) -> int:
        """Requests the emulator logged, once every handler that was still busy finished."""
        for _ in range(200):  # a slow handler logs when done, after the client gave up
            if len(self.emulator.requests) >= await self.spent():
                break
            await asyncio.sleep(0.01)
        return len(self.emulator.requests)


@asynccontextmanager
async def rig(
    tmp_path: Path,
    *,
    retry: bm.RetryPolicy = RETRY,
    timeouts: bm.Timeouts | None = None,
    auth: bm.ApiKey | bm.BasicAuth | None = None,
    clock: VirtualClock | None = None,
    **config: Any,
) -> AsyncIterator[Rig]:
    """Serve a fresh emulator and open a session on it, sharing a virtual clock."""
    clock = clock or VirtualClock()
    config.setdefault("quota_limit", None)
    emulator = Emulator(EmulatorConfig(**config), clock=clock.time)
    out = tmp_path / "out"
    out.mkdir(parents=True, exist_ok=True)
    async with (
        serve(emulator) as server,
        bm.SQLiteBudget(tmp_path / "budget.sqlite3", clock=clock) as budget,
        bm.Session(
            auth or bm.ApiKey(DEMO_API_KEY),
            base_url=server.url,
            clock=clock,
            budget=budget,
            retry=retry,
            timeouts=timeouts,
            max_wait=3600.0,
        ) as session,
    ):
        yield Rig(clock, emulator, server, session, budget, out)


def leftovers(directory: Path) -> list[Path]:
    """Temporary (partial) files left in ``directory``."""
    return sorted(p for p in directory.rglob("*") if p.name.endswith(".part"))


def acquired(session: bm.Session) -> int:
    """Connections the session's pool still holds (0 when nothing leaked)."""
    http = session.aiohttp_session
    if http is None or http.connector is None:
        return 0
    return len(http.connector._acquired)


def client_tasks() -> list[asyncio.Task[Any]]:
    """Pending tasks running the client library's code (the emulator's are not counted)."""
    package = str(Path(bm.__file__).parent)
    testing = str(Path(package) / "testing")
    found = []
    for task in asyncio.all_tasks():
        if task is asyncio.current_task() or task.done():
            continue
        coro: Any = task.get_coro()
        while coro is not None:
            code = getattr(coro, "cr_code", None) or getattr(coro, "gi_code", None)
            name = code.co_filename if code is not None else ""
            if name.startswith(package) and not name.startswith(testing):
                found.append(task)
                break
            coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return found

"""Shared fixtures. Async tests use anyio's pytest plugin on the asyncio backend.

The emulator's fixtures (``bm_clock``, ``bm_emulator_config``, ``bm_emulator``, ``bm_server``)
come from the package's own pytest plugin, as users get them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import brightmetrics_async as bm
from brightmetrics_async.testing import DEMO_API_KEY, Emulator, EmulatorServer, VirtualClock, serve

pytest_plugins = ["brightmetrics_async.testing.pytest_plugin"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def isolated_state(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Keep the default SQLite budget (and journal) out of the real user's state directory."""
    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(state / "config"))
    for name in (
        "BRIGHTMETRICS_API_KEY",
        "BRIGHTMETRICS_USER",
        "BRIGHTMETRICS_PASSWORD",
        "BRIGHTMETRICS_PASSWORD_HASH",
        "BRIGHTMETRICS_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    return state


@pytest.fixture
async def bm_server(
    bm_emulator: Emulator, request: pytest.FixtureRequest
) -> AsyncIterator[EmulatorServer]:
    """The plugin's ``bm_server``, plus a promise checked after every test: the emulator never
    answered 429, since clients on the default budget never overspend (tests that provoke a
    429 on purpose say so with ``@pytest.mark.allow_429``)."""
    async with serve(bm_emulator) as server:
        yield server
    if request.node.get_closest_marker("allow_429") is None:
        refused = [r.target for r in bm_emulator.requests if r.status == 429]
        assert not refused, f"the emulator answered 429 to {refused}"


@pytest.fixture
async def session(bm_server: EmulatorServer, bm_clock: VirtualClock) -> AsyncIterator[bm.Session]:
    """A client session on the emulator, with the default (SQLite) budget and the shared clock."""
    async with bm.Session(bm.ApiKey(DEMO_API_KEY), base_url=bm_server.url, clock=bm_clock) as s:
        yield s

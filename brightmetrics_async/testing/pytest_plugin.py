"""pytest fixtures for testing code against the emulator.

Enable with ``pytest_plugins = ["brightmetrics_async.testing.pytest_plugin"]`` in a
``conftest.py``. ``bm_server`` is an async fixture for anyio's pytest plugin: use it from tests
marked ``@pytest.mark.anyio``. Override ``bm_emulator_config`` to change the knobs::

    @pytest.fixture
    def bm_emulator_config():
        return EmulatorConfig(quota_limit=None, slice_seconds=86400)
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ._app import Emulator
from ._clock import VirtualClock
from ._config import EmulatorConfig
from ._server import EmulatorServer, serve

__all__ = ["bm_clock", "bm_emulator", "bm_emulator_config", "bm_server"]


@pytest.fixture
def bm_clock() -> VirtualClock:
    """A virtual clock the emulator reads; pass it to the client too so both share one time."""
    return VirtualClock()


@pytest.fixture
def bm_emulator_config() -> EmulatorConfig:
    """The emulator's configuration (override this fixture to change it)."""
    return EmulatorConfig()


@pytest.fixture
def bm_emulator(bm_emulator_config: EmulatorConfig, bm_clock: VirtualClock) -> Emulator:
    """A fresh emulator on ``bm_clock``'s time."""
    return Emulator(bm_emulator_config, clock=bm_clock.time)


@pytest.fixture
async def bm_server(bm_emulator: Emulator) -> AsyncIterator[EmulatorServer]:
    """``bm_emulator`` served on a free loopback port; ``bm_server.url`` is the OData root."""
    async with serve(bm_emulator) as server:
        yield server

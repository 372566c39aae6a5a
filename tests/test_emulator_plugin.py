"""The public surface: exports, the pytest plugin's fixtures, and serve()'s URLs."""

from __future__ import annotations

import aiohttp
import pytest

import brightmetrics_async.testing as testing
from brightmetrics_async.testing import (
    DEMO_API_KEY,
    Emulator,
    EmulatorServer,
    VirtualClock,
    pytest_plugin,
)

# The plugin's fixtures, as a user's ``pytest_plugins = [...]`` would provide them.
bm_clock = pytest_plugin.bm_clock
bm_emulator = pytest_plugin.bm_emulator
bm_emulator_config = pytest_plugin.bm_emulator_config
bm_server = pytest_plugin.bm_server

pytestmark = pytest.mark.anyio


def test_all_matches_exports() -> None:
    assert testing.__all__ == sorted(testing.__all__, key=lambda n: (not n.isupper(), n))
    public = {n for n in dir(testing) if not n.startswith("_")} - {"annotations"}
    modules = {n for n in public if type(getattr(testing, n)).__name__ == "module"}
    assert set(testing.__all__) == public - modules


def test_testing_never_imports_the_client() -> None:
    import ast
    from pathlib import Path

    for path in Path(testing.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                assert not node.module.startswith("brightmetrics_async"), path
            if isinstance(node, ast.ImportFrom) and node.level > 1:
                raise AssertionError(f"{path} imports from outside testing/")


async def test_fixtures(
    bm_server: EmulatorServer, bm_emulator: Emulator, bm_clock: VirtualClock
) -> None:
    assert bm_server.emulator is bm_emulator
    assert bm_server.url == bm_server.origin + "/OData.ashx"
    headers = {"Authorization": f"Bearer {DEMO_API_KEY}"}
    async with aiohttp.ClientSession() as session, session.get(bm_server.url, headers=headers) as r:
        assert r.status == 200
    assert bm_emulator.requests[0].at == bm_clock.time()
    bm_clock.advance(10)
    assert bm_emulator.clock() == bm_clock.time()

"""``examples/service.py`` as a user runs it: a subprocess against the emulator, each route hit,
OpenTelemetry on the console, then SIGTERM; a restart continues the recorded job."""

from __future__ import annotations

import os
import re
import signal
import sys
from pathlib import Path

import aiohttp
import anyio
import anyio.abc
import pytest

from brightmetrics_async.testing import (
    DEMO_API_KEY,
    Emulator,
    EmulatorConfig,
    EmulatorServer,
    VirtualClock,
    serve,
)

# The example prints OpenTelemetry spans on the console: it needs the otel extra and the SDK
# (in the test extra; absent from test-minimal).
pytest.importorskip("opentelemetry.sdk")
pytestmark = [pytest.mark.anyio, pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent
SUMMARY = "03bd1235-eb2c-410f-a415-fefacd98df41"
EXPORT = f"/reports/{SUMMARY}/export?format=csv&key=nightly"


async def start(server: EmulatorServer, state: Path, log: Path) -> tuple[anyio.abc.Process, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "XDG_STATE_HOME": str(state),
        "BRIGHTMETRICS_URL": server.url,
        "BRIGHTMETRICS_API_KEY": DEMO_API_KEY,
        "BRIGHTMETRICS_ACCOUNT": "acme",
        "OTEL": "console",
        "SHUTDOWN_GRACE": "0.2",
    }
    env.pop("REDIS_URL", None)
    with log.open("ab") as err:  # the child keeps its own copy of the descriptor
        proc = await anyio.open_process(
            [sys.executable, str(ROOT / "examples" / "service.py"), "--port", "0"],
            cwd=ROOT,
            env=env,
            stderr=err,
        )
    assert proc.stdout is not None
    line = b""
    with anyio.fail_after(30):
        while not line.endswith(b"\n"):
            chunk = await proc.stdout.receive(1)
            line += chunk
    text = line.decode().strip()
    assert text.startswith("listening on "), text
    return proc, text.removeprefix("listening on ")


async def stop(proc: anyio.abc.Process) -> bytes:
    proc.send_signal(signal.SIGTERM)
    assert proc.stdout is not None
    rest = b""
    with anyio.fail_after(30):
        try:
            while True:
                rest += await proc.stdout.receive()
        except anyio.EndOfStream:
            pass
        await proc.wait()
    return rest


async def test_the_example_service_serves_each_route_and_stops_cleanly(tmp_path: Path) -> None:
    clock = VirtualClock(autojump=False)
    emulator = Emulator(
        EmulatorConfig(quota_limit=None, job_seconds=20.0, job_retry_after=1.0), clock=clock.time
    )
    log = tmp_path / "service.log"
    async with serve(emulator) as server:
        proc, base = await start(server, tmp_path / "state", log)
        try:
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{base}/health") as resp:
                    assert resp.status == 200
                    assert await resp.json() == {"ok": True}
                first = second = None
                for _ in range(2):
                    async with http.get(f"{base}/reports/{SUMMARY}/rows?max_age=60") as resp:
                        assert resp.status == 200
                        second, first = first, await resp.json()
                assert first == second
                assert first is not None
                assert first["value"]
                assert len(emulator.requests) == 1  # the second answer came from the cache
                async with http.get(f"{base}/budget") as resp:
                    budget = await resp.json()
                assert budget["account"] == "acme"
                assert budget["spent"] == 1
                async with http.get(f"{base}/reports/nope/rows") as resp:
                    assert resp.status == 404
                # An export whose job is still running when the service is stopped...
                url = f"{base}{EXPORT}"
                async with anyio.create_task_group() as tg:

                    async def ask() -> None:
                        try:
                            async with http.get(url) as resp:
                                await resp.read()
                        except aiohttp.ClientError:
                            pass  # the service went away mid-request

                    tg.start_soon(ask)
                    with anyio.fail_after(30):
                        while not any(r.header("Prefer") for r in emulator.requests):
                            await anyio.sleep(0.02)
                    out = await stop(proc)
                    tg.cancel_scope.cancel()
            assert proc.returncode == 0
            assert b"stopped" in out
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        submitted = [r for r in emulator.requests if r.header("Prefer")]
        assert len(submitted) == 1
        # ...continues after a restart: asking again with its key resumes it.
        clock.advance(30)
        proc, base = await start(server, tmp_path / "state", log)
        try:
            async with aiohttp.ClientSession() as http, http.get(f"{base}{EXPORT}") as resp:
                assert resp.status == 200
                assert resp.content_type == "text/csv"
                assert (await resp.read()).count(b"\n") > 1
            await stop(proc)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert len([r for r in emulator.requests if r.header("Prefer")]) == 1
    text = log.read_text()
    assert "brightmetrics.request.kind" in text  # the console exporter's spans
    assert DEMO_API_KEY not in text
    for record in emulator.requests:
        assert record.header("traceparent") is None


def test_the_readme_section_names_the_example_s_routes() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## In a service", 1)[1].split("\n## ", 1)[0]
    service = (ROOT / "examples" / "service.py").read_text()
    paths = re.findall(r"curl '?localhost:8080(/[^?'\s]*)", section)
    assert len(paths) == 4
    routes = re.findall(r'add_get\("([^"]+)"', service)
    patterns = [re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", r) + "$") for r in routes]
    for path in paths:
        assert any(p.match(path) for p in patterns), path
    for name in ("RedisBudget", "RedisResultCache", "RedisJobKeys", "max_age", "key="):
        assert name in section
        assert name in service

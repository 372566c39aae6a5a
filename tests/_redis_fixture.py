"""A real, throw-away ``redis-server`` for tests.

:func:`redis_server` starts the installed binary on a free loopback port, in a temporary
directory, with persistence off, and yields its URL; it kills the server afterwards. Each
pytest-xdist worker is its own test session, so each starts its own server.
When the binary is missing the tests FAIL if the environment variable ``CI`` is set
(CI must run them) and skip otherwise.

Import the fixture into a test module (``from tests._redis_fixture import redis_server``)
or request it by name with ``request.getfixturevalue("redis_server")``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["redis_server", "running_redis_server"]

_START_TIMEOUT = 10.0


def _redis_binary() -> str:
    binary = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if binary is None:
        message = "redis-server is not installed"
        if os.environ.get("CI"):
            pytest.fail(f"{message}, and CI is set: the Redis tests must run in CI")
        pytest.skip(message)
    return binary


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _server_pid(port: int) -> int | None:
    """The process id of the redis-server answering on ``port`` (None: none answers yet).

    With several test processes (pytest-xdist workers) each starting its own server, a port
    probed free can be taken by another worker's server before ours binds it: ours then exits,
    and a plain PING would be answered by the other one. Asking for the pid tells them apart.
    """
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"INFO server\r\n")
            answer = b""
            while b"process_id:" not in answer or not answer.endswith(b"\r\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
    except OSError:
        return None
    found = re.search(rb"process_id:(\d+)", answer)
    return int(found.group(1)) if found else None


@contextlib.contextmanager
def running_redis_server() -> Iterator[str]:
    """Start a private redis-server and yield its ``redis://`` URL; stop it on exit."""
    binary = _redis_binary()
    with tempfile.TemporaryDirectory(prefix="bm-redis-") as workdir:
        # The port can be taken between probing and binding: try a few.
        for _attempt in range(5):
            port = _free_port()
            log = Path(workdir, f"redis-{port}.log")
            proc = subprocess.Popen(
                [
                    binary,
                    "--port", str(port),
                    "--bind", "127.0.0.1",
                    "--dir", workdir,
                    "--save", "",
                    "--appendonly", "no",
                    "--daemonize", "no",
                    "--logfile", str(log),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            try:
                deadline = time.monotonic() + _START_TIMEOUT
                while proc.poll() is None and time.monotonic() < deadline:
                    if _server_pid(port) == proc.pid:
                        break
                    time.sleep(0.01)  # waiting for a real server to start, not a test delay
                else:
                    continue  # exited (port taken?) or never answered: next port
                yield f"redis://127.0.0.1:{port}/0"
                return
            finally:
                proc.kill()
                proc.wait(timeout=10)
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
        pytest.fail(f"redis-server did not start; last log:\n{tail}")


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """The URL of a private redis-server that lives for the test session."""
    with running_redis_server() as url:
        yield url

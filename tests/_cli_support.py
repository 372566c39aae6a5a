"""Running the installed ``brightmetrics`` console script in a subprocess, for the CLI tests.

The emulator runs in the test's event loop (``serve()``), so every subprocess is run with
``anyio.run_process`` / ``anyio.open_process`` (or in a worker thread): the loop keeps
serving while the CLI talks to it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path

import anyio
import attrs

from brightmetrics_async.testing import (
    DEMO_API_KEY,
    Emulator,
    EmulatorConfig,
    EmulatorServer,
    serve,
)

SCRIPT = Path(sys.executable).parent / "brightmetrics"


@attrs.frozen
class Run:
    """A finished CLI run."""

    code: int
    out: str
    err: str

    @property
    def both(self) -> str:
        return self.out + self.err


def cli_env(**extra: str) -> dict[str, str]:
    """The test's environment (XDG dirs already point to temp dirs), wide and uncoloured."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIGHTMETRICS_")}
    env.update(COLUMNS="200", NO_COLOR="1", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def creds(server: EmulatorServer) -> list[str]:
    """The emulator's URL, and the demo API key read from stdin (``run_cli`` feeds it):
    secrets are never given as option values."""
    return ["--url", server.url, "--api-key-stdin"]


def key_env(server: EmulatorServer, key: str = DEMO_API_KEY, **extra: str) -> dict[str, str]:
    """An environment with the emulator's URL and an API key (for runs without stdin)."""
    return cli_env(BRIGHTMETRICS_URL=server.url, BRIGHTMETRICS_API_KEY=key, **extra)


async def run_cli(
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 40,
    stdin: str | None = None,
) -> Run:
    """Run the console script to completion (the event loop keeps serving meanwhile).

    ``stdin`` is fed to the process; with ``--api-key-stdin`` it defaults to the demo key.
    """
    if stdin is None and "--api-key-stdin" in args:
        stdin = DEMO_API_KEY + "\n"
    with anyio.fail_after(timeout):
        done = await anyio.run_process(
            [str(SCRIPT), *args],
            env=dict(env or cli_env()),
            check=False,
            input=None if stdin is None else stdin.encode(),
            stdin=subprocess.DEVNULL if stdin is None else None,
        )
    return Run(done.returncode, done.stdout.decode(), done.stderr.decode())


@contextlib.asynccontextmanager
async def emulator(
    config: EmulatorConfig | None = None, *, clock: Callable[[], float] = time.time
) -> AsyncIterator[EmulatorServer]:
    """An emulator on the real clock by default (the CLI subprocess lives in real time)."""
    async with serve(Emulator(config or EmulatorConfig(), clock=clock)) as server:
        yield server


@contextlib.contextmanager
def sigint_not_ignored() -> Iterator[None]:
    """A child inherits an ignored SIGINT (e.g. under a background shell): un-ignore it."""
    old = signal.getsignal(signal.SIGINT)
    if old is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        if old is signal.SIG_IGN:
            signal.signal(signal.SIGINT, old)


def run_in_pty(
    args: list[str],
    env: Mapping[str, str],
    timeout: float = 40,
    answers: Mapping[bytes, bytes] | None = None,
) -> tuple[int, bytes]:
    """Run the script with a pseudo-terminal as stdin/stdout/stderr; return code and output.

    ``answers`` maps a prompt to what is typed once it appears (each answered once).
    Waits only on the child's output, polled with a timeout.
    """
    pending = dict(answers or {})
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    proc = subprocess.Popen(
        [str(SCRIPT), *args], stdin=slave, stdout=slave, stderr=slave, env=dict(env), close_fds=True
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            if time.monotonic() > deadline:
                proc.kill()
                raise TimeoutError(f"no end of output within {timeout} s")
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
                seen = b"".join(chunks)
                for prompt in [p for p in pending if p in seen]:
                    os.write(master, pending.pop(prompt))
            elif proc.poll() is not None:
                break
        return proc.wait(timeout=10), b"".join(chunks)
    finally:
        os.close(master)

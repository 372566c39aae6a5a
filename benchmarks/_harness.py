"""The shared harness: figures and their targets, subprocesses, the machine, the table.

Every measurement of a client runs in a fresh ``python -m benchmarks._worker`` process, so its
CPU time and peak RSS are its own; servers run in processes of their own too
(:func:`bench_server`). A benchmark returns a :class:`Section`: its figures (each next to its
target, met or not) and notes saying how they were measured.
"""

from __future__ import annotations

import compileall
import contextlib
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

__all__ = [
    "REPO",
    "Figure",
    "Section",
    "bench_server",
    "machine",
    "median",
    "peak_rss_mb",
    "collect",
    "run_client",
    "start_process",
    "table",
]


@dataclass(frozen=True)
class Figure:
    """One measured figure: ``value`` as text, its ``target`` and whether it is ``met``
    (None: informational, no target)."""

    name: str
    value: str
    target: str = ""
    met: bool | None = None

    @property
    def status(self) -> str:
        return {True: "met", False: "NOT met", None: ""}[self.met]


@dataclass
class Section:
    """A benchmark's outcome: figures, notes (method, explanations) and raw numbers."""

    name: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, name: str, value: str, target: str = "", met: bool | None = None) -> None:
        self.figures.append(Figure(name, value, target, met))


def median(values: Sequence[float]) -> float:
    """The median (the figure of repeated runs: robust to one slow run)."""
    return float(statistics.median(values))


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


_STATE_HOME = tempfile.mkdtemp(prefix="brightmetrics-bench-state-")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env.setdefault("PYTHONHASHSEED", "0")
    # Never read or write the user's own budget and knowledge store: each run of the
    # benchmarks gets a state directory of its own (platformdirs honours XDG_STATE_HOME).
    env["XDG_STATE_HOME"] = _STATE_HOME
    return env


def compile_bytecode() -> None:
    """Compile every installed module and the repository's packages to bytecode, once.

    A client process should pay for importing a module, never for compiling its source: an
    installed package has its bytecode cached, but with ``PYTHONDONTWRITEBYTECODE`` set (or a
    read-only or ``--no-compile`` install) every fresh worker would compile again each module
    it imports lazily inside its timed span (anyio's asyncio backend, OpenTelemetry: about
    0.1 s of CPU), which a baseline that imports everything up front does not.
    """
    paths = sysconfig.get_paths()
    for folder in {paths["purelib"], paths["platlib"], str(REPO / "brightmetrics_async")}:
        compileall.compile_dir(folder, quiet=2, workers=0)
    compileall.compile_dir(str(REPO / "benchmarks"), quiet=2)


def run_client(target: str, params: dict[str, Any], *, timeout: float = 600.0) -> dict[str, Any]:
    """Run ``benchmarks.<module>:<function>(params)`` in a fresh process; return its dict.

    Raises RuntimeError (with the worker's stderr) when the worker fails.
    """
    return collect(start_process(["benchmarks._worker", target], params), timeout=timeout)


def start_process(args: Sequence[str], params: dict[str, Any]) -> subprocess.Popen[str]:
    """Start ``python -m <args>`` with ``params`` as JSON on its stdin; do not wait."""
    proc = subprocess.Popen(
        [sys.executable, "-m", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=_env(),
    )
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(params))
    proc.stdin.close()
    proc.stdin = None  # so communicate() does not touch the closed pipe
    return proc


def collect(proc: subprocess.Popen[str], *, timeout: float = 600.0) -> dict[str, Any]:
    """Wait for a worker started with :func:`start_process`; return its result dict.

    Raises RuntimeError (with the worker's stderr) when it fails.
    """
    out, err = proc.communicate(timeout=timeout)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"worker {proc.args!r} failed ({proc.returncode}):\n{err[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


_CALLGRIND = ("valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null")


def instructions(target: str, params: dict[str, Any], *, timeout: float = 900.0) -> int | None:
    """Instructions a worker run executes, counted by valgrind's callgrind (None without
    valgrind): unlike CPU time, the count hardly moves with the machine's load."""
    if shutil.which("valgrind") is None:
        return None
    proc = subprocess.run(
        [*_CALLGRIND, sys.executable, "-m", "benchmarks._worker", target],
        input=json.dumps(params),
        capture_output=True,
        text=True,
        cwd=REPO,
        env=_env(),
        timeout=timeout,
        check=False,
    )
    found = re.search(r"Collected : (\d+)", proc.stderr)
    if proc.returncode != 0 or found is None:
        raise RuntimeError(f"callgrind run of {target} failed:\n{proc.stderr[-3000:]}")
    return int(found.group(1))


@contextlib.contextmanager
def bench_server(config: dict[str, Any] | None = None) -> Iterator[str]:
    """Start the benchmark server (``benchmarks._server``) in its own process; yield its URL."""
    proc = start_process(["benchmarks._server"], config or {})
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            err = proc.stderr.read() if proc.stderr else ""
            raise RuntimeError(f"the benchmark server did not start:\n{err[-3000:]}")
        yield str(json.loads(line)["url"])
    finally:
        proc.kill()
        proc.wait(timeout=10)


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    try:
        import orjson

        orjson_version = orjson.__version__
    except ImportError:
        orjson_version = "not installed"
    import aiohttp

    return {
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count()),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "aiohttp": aiohttp.__version__,
        "orjson": orjson_version,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def table(sections: Sequence[Section]) -> list[str]:
    """The figures as a Markdown table."""
    out = ["| Benchmark | Figure | Value | Target | Status |", "|---|---|---|---|---|"]
    for section in sections:
        for fig in section.figures:
            out.append(
                f"| {section.name} | {fig.name} | {fig.value} | {fig.target} | {fig.status} |"
            )
    return out

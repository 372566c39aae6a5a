"""Worker processes started together: each says "ready", all get "go" at once."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from typing import Any


def run_together(argvs: Sequence[Sequence[str]], *, timeout: float) -> list[Any]:
    """Start ``python -c <argv...>`` for each of ``argvs``, wait until every one printed
    "ready", release them with "go" on stdin, and return the JSON each printed last
    (one line of it). A worker that fails fails the test; none is left running."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", *argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for argv in argvs
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.close()
        results = []
        for proc in procs:
            assert proc.stdout is not None
            out = proc.stdout.read()
            assert proc.wait(timeout=timeout) == 0
            results.append(json.loads(out.strip().splitlines()[-1]))
        return results
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None and not pipe.closed:
                    pipe.close()

"""Run one client measurement in this (fresh) process and print its result as one JSON line.

``python -m benchmarks._worker <module>:<function>`` with JSON params on stdin calls
``benchmarks.<module>.<function>(params)`` (a coroutine function is run with ``asyncio.run``),
adds this process's peak RSS and CPU time, and prints the dict. The orchestrator
(:func:`benchmarks._harness.run_client`) reads it back.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import resource
import sys
import time
from typing import Any


def main(argv: list[str]) -> None:
    target, params = argv[1], json.loads(sys.stdin.read())
    module_name, func_name = target.split(":")
    func = getattr(importlib.import_module(f"benchmarks.{module_name}"), func_name)
    if inspect.iscoroutinefunction(func):
        result: dict[str, Any] = asyncio.run(func(params))
    else:
        result = func(params)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result.setdefault("peak_rss_mb", usage.ru_maxrss / 1024.0)
    result.setdefault("process_cpu", time.process_time())
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv)

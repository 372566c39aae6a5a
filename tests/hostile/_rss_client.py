"""Client side of the peak-memory test: run every bomb against the default limits, print the
outcomes and this process's peak RSS as JSON. Usage: ``python _rss_client.py BASE_URL``."""

from __future__ import annotations

import asyncio
import json
import resource
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import brightmetrics_async as bm

GUID = "03bd1235-eb2c-410f-a415-fefacd98df41"


async def main(base_url: str) -> dict[str, Any]:
    outcomes: dict[str, str] = {}
    async with bm.Session(
        bm.ApiKey("k"),
        base_url=base_url,
        budget=bm.MemoryBudget(),
        check_filters=False,
        retry=bm.RetryPolicy(attempts=1),
    ) as s:

        async def rows(query: str) -> None:
            async with s.pages(GUID, start=f"{base_url}/{GUID}?{query}") as pages:
                [page async for page in pages]

        cases: dict[str, Callable[[], Awaitable[Any]]] = {
            "page": lambda: rows("gzip"),
            "page-deflate": lambda: rows("deflate"),
            "metadata": lambda: s.columns(GUID),
            "filter-metadata": lambda: s.filters(GUID),
            "submit": lambda: s.submit(GUID, format="csv"),
            "error": lambda: rows("error"),
        }
        for name, case in cases.items():
            try:
                await case()
                outcomes[name] = "ok"
            except bm.BrightmetricsError as exc:
                outcomes[name] = type(exc).__name__
            print(name, peak_rss_kb() // 1024, file=sys.stderr)
    return {"outcomes": outcomes, "peak_rss_mb": peak_rss_kb() / 1024}


def peak_rss_kb() -> int:
    """This process's peak RSS in KiB: VmHWM, which belongs to the process's own memory map.

    Not ``getrusage``: Linux keeps ``ru_maxrss`` across execve, so a client started from a
    large pytest process would report its parent's size at fork time, not its own peak.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # not Linux: the best there is


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1]))))

"""Client side of the peak-memory test: run bombs against the default limits, print the
outcomes and this process's peak RSS as JSON.

Usage: ``python _rss_client.py ORIGIN TMPDIR [CASE ...]``. The hostile server answers under
``ORIGIN/gzip/OData.ashx`` with gzip bombs and under ``ORIGIN/deflate/OData.ashx`` with deflate
bombs. Cases are ``<kind>-<encoding>`` (kinds: page, metadata, filter-metadata, submit, error,
export); without any, all of them run, one after the other, in this one process.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
from pathlib import Path
from typing import Any

import brightmetrics_async as bm

GUID = "03bd1235-eb2c-410f-a415-fefacd98df41"
MB = 1024 * 1024
KINDS = ("page", "metadata", "filter-metadata", "submit", "error", "export")
ENCODINGS = ("gzip", "deflate")
ALL = [f"{kind}-{encoding}" for encoding in ENCODINGS for kind in KINDS]


async def run(origin: str, tmp: Path, names: list[str]) -> dict[str, Any]:
    outcomes: dict[str, str] = {}
    peaks: dict[str, float] = {}
    for name in names:
        kind, encoding = name.rsplit("-", 1)
        base_url = f"{origin}/{encoding}/OData.ashx"
        async with bm.Session(
            bm.ApiKey("k"),
            base_url=base_url,
            budget=bm.MemoryBudget(),
            check_filters=False,
            retry=bm.RetryPolicy(attempts=1),
            cache=None,
        ) as s:
            try:
                await case(s, kind, base_url, tmp / f"{name}.csv")
                outcomes[name] = "ok"
            except bm.BrightmetricsError as exc:
                outcomes[name] = type(exc).__name__
        peaks[name] = peak_rss_kb() / 1024
    return {"outcomes": outcomes, "peaks_mb": peaks, "peak_rss_mb": peak_rss_kb() / 1024}


async def case(s: bm.Session, kind: str, base_url: str, target: Path) -> None:
    async def rows(query: str) -> None:
        async with s.pages(GUID, start=f"{base_url}/{GUID}?{query}") as pages:
            [page async for page in pages]

    if kind in ("page", "error"):
        await rows(kind)
    elif kind == "metadata":
        await s.columns(GUID)
    elif kind == "filter-metadata":
        await s.filters(GUID)
    elif kind == "submit":
        await s.submit(GUID, format="csv")
    else:  # an export with a limit: 64 MB, like a page (the bomb is 1 GB)
        await s.export(GUID, target, format="csv", max_bytes=64 * MB)


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
    origin, tmp, *names = sys.argv[1:]
    print(json.dumps(asyncio.run(run(origin, Path(tmp), names or ALL))))

"""Benchmark 2, memory: a large CSV export and millions of JSON rows in constant memory.

Each measurement runs in a fresh client process. Its RSS is read (``/proc/self/statm``) after
the imports and the session are set up, just before the transfer; its peak RSS
(``getrusage(RUSAGE_SELF).ru_maxrss``, the kernel's high-water mark over the process's life) is
read after. The figure is peak minus start: an upper bound on what the transfer added. Two
sizes per operation show whether the peak grows with the size.

The server (another process) streams the CSV chunked from one pre-rendered 64 KiB block, and
serves JSON pages of 1,000 pre-rendered rows, so it holds neither the export nor the rows. The
export goes to a temporary directory that is deleted afterwards. As a check that the method
sees memory growth, a naive aiohttp ``await resp.read()`` of the smaller CSV is measured too.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from ._harness import Section, bench_server, peak_rss_mb, run_client
from ._server import guid

API_KEY = "bench-key"
_MB = 1024 * 1024
LIMIT_MB = 100.0


def _rss_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / _MB


async def export_csv(params: dict[str, Any]) -> dict[str, Any]:
    """Client: ``Session.export`` of ``size`` bytes of CSV into a temporary directory."""
    import brightmetrics_async as bm

    size = int(params["size"])
    with tempfile.TemporaryDirectory(prefix="bm-bench-") as tmp:
        async with bm.Session(
            bm.ApiKey(API_KEY), base_url=params["url"], budget=bm.MemoryBudget(limit=10**9)
        ) as s:
            start = _rss_mb()
            started = time.perf_counter()
            path = await s.export(guid(0, size), Path(tmp, "export.csv"), format="csv")
            wall = time.perf_counter() - started
            written = path.stat().st_size
    if written != size:
        raise RuntimeError(f"the export has {written} bytes, not {size}")
    return {"start_mb": start, "peak_mb": peak_rss_mb(), "wall": wall, "bytes": written}


async def iterate_rows(params: dict[str, Any]) -> dict[str, Any]:
    """Client: every row of a report of ``pages`` pages of 1,000 rows via ``Session.rows``."""
    import brightmetrics_async as bm

    async with bm.Session(
        bm.ApiKey(API_KEY), base_url=params["url"], budget=bm.MemoryBudget(limit=10**9)
    ) as s:
        start = _rss_mb()
        started = time.perf_counter()
        n = 0
        async with s.rows(guid(0, int(params["pages"]))) as rows:
            async for _row in rows:
                n += 1
        wall = time.perf_counter() - started
    return {"start_mb": start, "peak_mb": peak_rss_mb(), "wall": wall, "rows": n}


async def naive_read(params: dict[str, Any]) -> dict[str, Any]:
    """Check of the method: aiohttp ``await resp.read()`` holds the whole body."""
    import aiohttp

    async with aiohttp.ClientSession() as http:
        start = _rss_mb()
        headers = {"Authorization": f"Bearer {API_KEY}", "Accept": "text/csv"}
        url = f"{params['url']}/{guid(0, int(params['size']))}"
        async with http.get(url, headers=headers) as r:
            body = await r.read()
    return {"start_mb": start, "peak_mb": peak_rss_mb(), "bytes": len(body)}


def run(*, quick: bool) -> Section:
    """Two sizes of each; the figure is the peak RSS above the start, target < 100 MB."""
    section = Section("memory", "2. Memory")
    sizes = [32 * _MB, 128 * _MB] if quick else [256 * _MB, 1024 * _MB]
    row_pages = [50, 200] if quick else [500, 2000]
    results: dict[str, dict[str, Any]] = {}
    with bench_server({"rows": 1000}) as url:
        for size in sizes:
            r = run_client("memory:export_csv", {"url": url, "size": size})
            results[f"export {size // _MB} MB"] = r
        for pages in row_pages:
            r = run_client("memory:iterate_rows", {"url": url, "pages": pages})
            if r["rows"] != pages * 1000:
                raise RuntimeError(f"read {r['rows']} rows, not {pages * 1000}")
            results[f"rows {pages * 1000:,}"] = r
        naive = run_client("memory:naive_read", {"url": url, "size": sizes[0]})
    deltas = {k: r["peak_mb"] - r["start_mb"] for k, r in results.items()}
    for key, r in results.items():
        extra = f", {r['bytes'] / _MB / r['wall']:.0f} MB/s" if "bytes" in r else ""
        section.add(
            f"{key}: peak RSS above start",
            f"{deltas[key]:.1f} MB (start {r['start_mb']:.0f} MB, peak {r['peak_mb']:.0f} MB"
            f"{extra})",
            f"< {LIMIT_MB:.0f} MB",
            deltas[key] < LIMIT_MB,
        )
    keys = list(results)
    for small, large in ((keys[0], keys[1]), (keys[2], keys[3])):
        growth = deltas[large] - deltas[small]
        section.add(
            f"size independence: {large} vs {small}",
            f"{growth:+.1f} MB for 4x the data",
            "< +10 MB",
            growth < 10.0,
        )
    naive_delta = naive["peak_mb"] - naive["start_mb"]
    section.add(
        f"check: naive resp.read() of {sizes[0] // _MB} MB",
        f"{naive_delta:.0f} MB above start",
        "(shows the method sees growth)",
    )
    section.raw = {"results": results, "naive": naive}
    section.notes += [
        "Start = current RSS of the fresh client process after imports and session set-up; "
        "peak = ru_maxrss after the transfer (covers the whole process life, so the figure is "
        "an upper bound).",
        "The CSV is streamed chunked by the server from one pre-rendered 64 KiB block; the "
        "export is written to a temporary directory (deleted afterwards) on the local disk.",
        "Rows: one report whose pages of 1,000 rows are chained by @odata.nextLink; each row "
        "is touched once and dropped.",
    ]
    return section

"""Benchmark 1, bulk throughput: many reports of JSON pages through the client, vs baselines.

The server (another process, :mod:`benchmarks._server`) serves ``reports`` reports of ``pages``
pre-rendered JSON pages of 1,000 rows, chained by ``@odata.nextLink``. Each client variant runs
in a fresh process and pulls every row with 16 requests in flight (the sequential ``requests``
loop excepted), touching each row once:

* ``Session.rows``: 16 tasks, each iterating ``s.rows(report)`` over a shared queue of reports;
* ``pull_many``: ``s.pull_many(reports, concurrency=16)``, counting each result's rows;
* ``Session.pages`` (for reference): 16 tasks iterating pages, each page's rows in a plain loop;
* (a) a hand-written aiohttp script with ``await resp.json()``;
* (b) the same with ``orjson.loads(await resp.read())``;
* (c) a sequential ``requests`` loop with ``resp.json()``.

Over loopback the server answers at once, so (c) loses little by waiting; the speed-up over (c)
is also measured against a second server that adds 20 ms to every request, as a WAN would.
When a target is missed, ``Session.rows`` is profiled (cProfile) and the profile is reported.

A second case measures the client's cost per *request* rather than per row: 2,000 pages of 10
rows (200 reports of 10 pages), 16 in flight, where the library's CPU per request is compared
with (b); the target is at most 10 us per request above it.

The library's sessions use ``MemoryBudget(limit=10**9)``: the real 150-a-day budget would stop
the benchmark after 150 pages, and its cost is measured separately (benchmark 5). They use
``cache=None``: with a knowledge store, ``pull_many`` would learn the page counts of the first
variants and then choose one asynchronous export per report (cheaper in requests), and this
benchmark measures the paging path.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

from ._harness import Section, bench_server, instructions, median, run_client
from ._server import guid

API_KEY = "bench-key"
CONCURRENCY = 16
LATENCY = 0.02  # seconds the second server adds per request (a WAN round trip)
HEADERS = {"Authorization": f"Bearer {API_KEY}", "Accept": "application/json"}

VARIANTS = {
    "lib_rows": "Session.rows",
    "lib_pull_many": "pull_many",
    "lib_pages": "Session.pages",
    "aiohttp_json": "(a) aiohttp + resp.json()",
    "aiohttp_orjson": "(b) aiohttp + orjson",
    "requests_seq": "(c) sequential requests",
}


def _guids(params: dict[str, Any]) -> list[str]:
    return [guid(i, params["pages"]) for i in range(params["reports"])]


def _result(started: float, cpu: float, rows: int, pages: int) -> dict[str, Any]:
    return {
        "wall": time.perf_counter() - started,
        "cpu": time.process_time() - cpu,
        "rows": rows,
        "pages": pages,
    }


async def lib_rows(params: dict[str, Any]) -> dict[str, Any]:
    """Client: ``Session.rows`` in 16 tasks."""
    import brightmetrics_async as bm

    todo = deque(_guids(params))
    counts = [0, 0]
    started, cpu = time.perf_counter(), time.process_time()
    async with bm.Session(
        bm.ApiKey(API_KEY),
        base_url=params["url"],
        budget=bm.MemoryBudget(limit=10**9),
        cache=None,
    ) as s:

        async def worker() -> None:
            while todo:
                rows = s.rows(todo.popleft())
                async with rows:
                    n = 0
                    async for _row in rows:
                        n += 1
                counts[0] += n
                counts[1] += rows.pages.pages_read

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return _result(started, cpu, counts[0], counts[1])


async def lib_pages(params: dict[str, Any]) -> dict[str, Any]:
    """Client: ``Session.pages`` in 16 tasks, rows iterated per page."""
    import brightmetrics_async as bm

    todo = deque(_guids(params))
    counts = [0, 0]
    started, cpu = time.perf_counter(), time.process_time()
    async with bm.Session(
        bm.ApiKey(API_KEY),
        base_url=params["url"],
        budget=bm.MemoryBudget(limit=10**9),
        cache=None,
    ) as s:

        async def worker() -> None:
            while todo:
                async with s.pages(todo.popleft()) as pages:
                    async for page in pages:
                        n = 0
                        for _row in page.rows:
                            n += 1
                        counts[0] += n
                        counts[1] += 1

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return _result(started, cpu, counts[0], counts[1])


async def lib_pull_many(params: dict[str, Any]) -> dict[str, Any]:
    """Client: ``Session.pull_many(..., concurrency=16)``."""
    import brightmetrics_async as bm

    rows = pages = 0
    started, cpu = time.perf_counter(), time.process_time()
    budget = bm.MemoryBudget(limit=10**9)
    async with (
        bm.Session(bm.ApiKey(API_KEY), base_url=params["url"], budget=budget, cache=None) as s,
        s.pull_many(_guids(params), concurrency=CONCURRENCY) as pull,
    ):
        async for result in pull:
            if result.error is not None:
                raise result.error
            assert isinstance(result.value, list)
            for _row in result.value:
                rows += 1
            pages += result.pages
    return _result(started, cpu, rows, pages)


async def _aiohttp(params: dict[str, Any], *, use_orjson: bool) -> dict[str, Any]:
    import aiohttp
    import orjson

    todo = deque(params["url"] + "/" + g for g in _guids(params))
    counts = [0, 0]
    started, cpu = time.perf_counter(), time.process_time()
    async with aiohttp.ClientSession() as http:

        async def worker() -> None:
            while todo:
                url: str | None = todo.popleft()
                while url:
                    async with http.get(url, headers=HEADERS) as resp:
                        resp.raise_for_status()
                        if use_orjson:
                            doc = orjson.loads(await resp.read())
                        else:
                            doc = await resp.json()
                    n = 0
                    for _row in doc["value"]:
                        n += 1
                    counts[0] += n
                    counts[1] += 1
                    url = doc.get("@odata.nextLink")

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return _result(started, cpu, counts[0], counts[1])


async def aiohttp_json(params: dict[str, Any]) -> dict[str, Any]:
    """Baseline (a): what a competent user writes with aiohttp."""
    return await _aiohttp(params, use_orjson=False)


async def aiohttp_orjson(params: dict[str, Any]) -> dict[str, Any]:
    """Baseline (b): the same with orjson."""
    return await _aiohttp(params, use_orjson=True)


def requests_seq(params: dict[str, Any]) -> dict[str, Any]:
    """Baseline (c): a sequential ``requests`` loop."""
    import requests

    rows = pages = 0
    started, cpu = time.perf_counter(), time.process_time()
    with requests.Session() as http:
        for g in _guids(params):
            url: str | None = params["url"] + "/" + g
            while url:
                resp = http.get(url, headers=HEADERS, timeout=60)
                resp.raise_for_status()
                doc = resp.json()
                for _row in doc["value"]:
                    rows += 1
                pages += 1
                url = doc.get("@odata.nextLink")
    return _result(started, cpu, rows, pages)


def profile_lib_rows(params: dict[str, Any]) -> dict[str, Any]:
    """``lib_rows`` under cProfile: where the client's time goes, by group and function."""
    import cProfile
    import pstats

    profile = cProfile.Profile()
    profile.enable()
    asyncio.run(lib_rows(params))
    profile.disable()
    groups: dict[str, float] = {}
    library: list[tuple[float, int, str]] = []
    stats: dict[Any, Any] = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    for (file, line, name), (_, calls, tottime, _, _) in stats.items():
        if "orjson" in name or name.endswith("loads>"):
            group = "JSON decoding"
        elif "brightmetrics_async" in file:
            group = "library code"
            where = f"{file.rsplit('brightmetrics_async/', 1)[-1]}:{line}({name})"
            library.append((tottime, calls, where))
        elif "benchmarks" in file:
            group = "row loop and row deallocation"
        else:
            group = "aiohttp, asyncio, sockets, other"
        groups[group] = groups.get(group, 0.0) + tottime
    library.sort(reverse=True)
    top = [f"{where} {t * 1e6 / calls:.1f} us x {calls:,}" for t, calls, where in library[:6]]
    return {"groups": groups, "top": top}


def run(*, quick: bool) -> Section:
    """Run every variant ``reps`` times, interleaved, in fresh processes; compare medians."""
    reports, pages, reps = (40, 10, 1) if quick else (200, 10, 5)
    expected_rows = reports * pages * 1000
    section = Section("bulk", "1. Bulk throughput")
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    with bench_server({"rows": 1000}) as url:
        params = {"url": url, "reports": reports, "pages": pages}
        run_client("bulk:aiohttp_orjson", {**params, "reports": 2})  # warm the server up
        for _ in range(reps):
            for variant in VARIANTS:
                result = run_client(f"bulk:{variant}", params)
                if result["rows"] != expected_rows or result["pages"] != reports * pages:
                    raise RuntimeError(f"{variant} read {result['rows']} rows, not {expected_rows}")
                runs[variant].append(result)
    wall = {v: median([r["wall"] for r in rs]) for v, rs in runs.items()}
    cpu = {v: median([r["cpu"] for r in rs]) for v, rs in runs.items()}
    us_row = {v: cpu[v] / expected_rows * 1e6 for v in VARIANTS}
    section.raw = {"wall_s": wall, "cpu_s": cpu, "cpu_us_per_row": us_row, "runs": runs}
    for lib in ("lib_rows", "lib_pull_many"):
        label = VARIANTS[lib]
        a, b = "aiohttp_json", "aiohttp_orjson"
        section.add(
            f"{label}: wall vs (a)",
            f"{wall[lib] / wall[a]:.2f}x ({wall[lib]:.2f} s vs {wall[a]:.2f} s)",
            "<= 1.00x",
            wall[lib] <= wall[a],
        )
        section.add(
            f"{label}: CPU/row vs (a)",
            f"{us_row[lib] / us_row[a]:.2f}x ({us_row[lib]:.2f} vs {us_row[a]:.2f} us)",
            "<= 1.00x",
            us_row[lib] <= us_row[a],
        )
        section.add(
            f"{label}: wall vs (b)",
            f"{wall[lib] / wall[b]:.2f}x ({wall[b]:.2f} s)",
            "<= 1.10x",
            wall[lib] <= 1.10 * wall[b],
        )
        section.add(
            f"{label}: CPU/row vs (b)",
            f"{us_row[lib] / us_row[b]:.2f}x ({us_row[b]:.2f} us)",
            "<= 1.05x",
            us_row[lib] <= 1.05 * us_row[b],
        )
        section.add(
            f"{label}: speed-up over (c)",
            f"{wall['requests_seq'] / wall[lib]:.1f}x ({wall['requests_seq']:.2f} s)",
            ">= 5x",
            wall["requests_seq"] >= 5 * wall[lib],
        )
    section.add(
        "Session.pages (reference): CPU/row vs (b)",
        f"{us_row['lib_pages'] / us_row['aiohttp_orjson']:.2f}x ({us_row['lib_pages']:.2f} us)",
    )
    # Over loopback the server answers at once and the client is CPU-bound: 16 requests in
    # flight cannot beat a sequential loop by much. Real requests cross a WAN: add 20 ms.
    far = {"url": "", "reports": 10 if quick else 20, "pages": pages}
    with bench_server({"rows": 1000, "delay": LATENCY}) as url:
        far["url"] = url
        lib_far = run_client("bulk:lib_rows", far)
        seq_far = run_client("bulk:requests_seq", far)
    section.add(
        f"Session.rows: speed-up over (c), {LATENCY * 1000:.0f} ms per request",
        f"{seq_far['wall'] / lib_far['wall']:.1f}x ({lib_far['wall']:.2f} s vs "
        f"{seq_far['wall']:.2f} s, {far['reports']} reports)",
        ">= 5x",
        seq_far["wall"] >= 5 * lib_far["wall"],
    )
    section.raw["latency"] = {"lib_rows": lib_far, "requests_seq": seq_far}
    _small_pages(section, quick=quick)
    seq = "requests_seq"
    section.notes.append(
        f"Over loopback the server answers at once and every client is CPU-bound on one core: "
        f"(c) spends {us_row[seq]:.2f} us of CPU per row and waits for the server "
        f"({wall[seq]:.2f} s wall for {cpu[seq]:.2f} s CPU), the library {us_row['lib_rows']:.2f}"
        f" us, so no amount of concurrency takes the speed-up much past "
        f"{wall[seq] / cpu['lib_rows']:.1f}x. The target is about overlapping network waits: "
        f"with {LATENCY * 1000:.0f} ms added to every request (a WAN round trip) it is "
        f"{seq_far['wall'] / lib_far['wall']:.1f}x."
    )
    section.notes.append(
        "pull_many returns each report's rows as one list, so 10,000 rows per report stay "
        "alive until the result is read and are freed cold; that, not the transport, is its "
        "difference from Session.rows."
    )
    if not all(f.met for f in section.figures if f.met is not None):
        with bench_server({"rows": 1000}) as url:
            prof = run_client("bulk:profile_lib_rows", {**params, "url": url, "reports": 40})
        total = sum(prof["groups"].values())
        shares = ", ".join(f"{g} {t / total * 100:.0f}%" for g, t in sorted(prof["groups"].items()))
        section.notes.append(
            f"Profile of Session.rows (cProfile, 40 reports; the profiler inflates per-call "
            f"costs): {shares}. Library functions by own time: {'; '.join(prof['top'])}."
        )
        section.raw["profile"] = prof
    section.notes += [
        f"{reports} reports x {pages} pages x 1,000 rows = {expected_rows:,} rows "
        f"(about {expected_rows * 190 / 1e6:.0f} MB of JSON), 16 requests in flight; "
        f"median of {reps} runs per variant, variants interleaved, each run in a fresh process.",
        "Wall time runs from before the first request to the last row; CPU is the client "
        "process's time.process_time() over the same span (the server is another process).",
        "Every variant touches each row once (`n += 1`); pull_many also collects each report's "
        "rows into a list, as it returns them.",
        "The library's sessions use MemoryBudget(limit=10**9) so the 150/day budget does not "
        "gate the pull; the budget's own cost is benchmark 5.",
        "CPU/row: " + ", ".join(f"{VARIANTS[v]} {us_row[v]:.2f} us" for v in VARIANTS) + ".",
    ]
    return section


SMALL_VARIANTS = ("lib_rows", "lib_pages", "aiohttp_orjson")


def _small_pages(section: Section, *, quick: bool) -> None:
    """2,000 pages of 10 rows, 16 in flight: the client's CPU per request above (b).

    The figure is the whole run's CPU divided by its requests, start-up included. Each
    variant also pulls 20 reports (200 requests) in runs interleaved with the others, so the
    CPU splits into what every further request costs (the slope between the two sizes) and
    what a process pays once (the intercept: lazy imports, the session, the first requests).
    """
    reports, small, pages, reps = 200, 20, 10, (3 if quick else 7)
    requests = reports * pages
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in SMALL_VARIANTS}
    short: dict[str, list[dict[str, Any]]] = {v: [] for v in SMALL_VARIANTS}
    with bench_server({"rows": 10}) as url:
        params = {"url": url, "reports": reports, "pages": pages}
        run_client("bulk:aiohttp_orjson", {**params, "reports": 20})  # warm the server up
        for _ in range(reps):
            for variant in SMALL_VARIANTS:
                for n, into in ((reports, runs), (small, short)):
                    result = run_client(f"bulk:{variant}", {**params, "reports": n})
                    if result["pages"] != n * pages or result["rows"] != n * pages * 10:
                        raise RuntimeError(
                            f"{variant} read {result['pages']} pages, not {n * pages}"
                        )
                    into[variant].append(result)
    cpu = {v: median([r["cpu"] for r in rs]) for v, rs in runs.items()}
    cpu_small = {v: median([r["cpu"] for r in rs]) for v, rs in short.items()}
    us_req = {v: cpu[v] / requests * 1e6 for v in SMALL_VARIANTS}
    slope = {v: (cpu[v] - cpu_small[v]) / ((reports - small) * pages) * 1e6 for v in cpu}
    fixed = {v: (cpu[v] - slope[v] * requests / 1e6) * 1000 for v in cpu}  # ms
    base = us_req["aiohttp_orjson"]
    for lib in ("lib_rows", "lib_pages"):
        above = us_req[lib] - base
        section.add(
            f"small pages: {VARIANTS[lib]} CPU/request above (b)",
            f"{above:+.1f} us ({us_req[lib]:.1f} vs {base:.1f} us)",
            "<= 10 us",
            above <= 10.0,
        )
    b = "aiohttp_orjson"
    for lib in ("lib_rows", "lib_pages"):
        section.add(
            f"small pages: {VARIANTS[lib]}, of which per further request / once per process",
            f"{slope[lib] - slope[b]:+.1f} us ({slope[lib]:.1f} vs {slope[b]:.1f} us) / "
            f"{fixed[lib] - fixed[b]:+.1f} ms ({fixed[lib]:.1f} vs {fixed[b]:.1f} ms)",
        )
    section.raw["small_pages"] = {
        "cpu_us_per_request": us_req,
        "marginal_us_per_request": slope,
        "fixed_ms": fixed,
        "runs": runs,
        "runs_20_reports": short,
    }
    if not quick:
        _small_pages_instructions(section, us_base=slope[b])
    section.notes.append(
        f"Small pages: {reports} reports x {pages} pages x 10 rows = {requests:,} requests, "
        f"16 in flight; median client CPU of {reps} runs per variant, interleaved, each in a "
        "fresh process, divided by the requests: "
        + ", ".join(f"{VARIANTS[v]} {us_req[v]:.1f} us" for v in SMALL_VARIANTS)
        + f". The split: runs of {small} reports too; per further request = the CPU between "
        f"the two sizes over the {(reports - small) * pages:,} requests between them; once per "
        "process = the rest. Every module is compiled to bytecode before the runs "
        "(_harness.compile_bytecode), as an installed package is."
    )


def _small_pages_instructions(section: Section, *, us_base: float) -> None:
    """The same comparison in instructions (callgrind), which the machine's load barely moves:
    runs of 20 and 120 reports (of 10 pages of 10 rows) per variant, the difference divided
    by the 1,000 requests between them, so start-up costs cancel out."""
    per: dict[str, float] = {}
    with bench_server({"rows": 10}) as url:
        for variant in ("lib_pages", "aiohttp_orjson"):
            counts = [
                instructions(f"bulk:{variant}", {"url": url, "reports": n, "pages": 10})
                for n in (20, 120)
            ]
            if counts[0] is None or counts[1] is None:
                section.notes.append("valgrind is not installed: no instruction counts.")
                return
            per[variant] = (counts[1] - counts[0]) / 1000
    lib, base = per["lib_pages"], per["aiohttp_orjson"]
    rate = us_base / base  # (b)'s microseconds per instruction per further request
    section.add(
        "small pages: Session.pages instructions/request above (b) (callgrind)",
        f"+{(lib - base) / 1000:.0f}K ({lib / 1000:.0f}K vs {base / 1000:.0f}K; "
        f"about {(lib - base) * rate:.0f} us at (b)'s rate)",
    )
    section.raw.setdefault("small_pages", {})["instructions_per_request"] = per

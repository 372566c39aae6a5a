"""Benchmark 5, limiter overhead: what one budget acquisition costs, per store.

* MemoryBudget: the cost of ``acquire()`` (``limit=10**9``, so it always grants) in a loop,
  net of awaiting an empty coroutine, and again "cold": one acquisition after each decode of a
  200 KB JSON page, as in a real pull, where the caches hold the page, not the limiter. Both
  are compared with one loopback aiohttp GET to the benchmark server measured in the same run.
* SQLiteBudget: acquisitions per second from 1 process, and from 8 processes on one file
  (each a fresh process; they start together and run for the same seconds). The file is on
  the local disk (``synchronous=FULL``: one fsync per grant). The store reads every live
  timestamp per acquisition, so the period is set so the log holds about 150 entries, as a
  full day of the vendor's limit does (a calibration run measures the rate first).
* RedisBudget: the same against a private ``redis-server`` on a free loopback port (skipped,
  with a note, when the binary is missing).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._harness import Section, bench_server, collect, median, run_client, start_process

ACCOUNT = "bench"
LIVE = 150  # live log entries the period is sized for (the vendor's daily limit)


async def memory_acquire(params: dict[str, Any]) -> dict[str, Any]:
    """Client: MemoryBudget.acquire in a hot loop and cold (after page decodes); a GET."""
    import aiohttp
    import orjson

    import brightmetrics_async as bm

    from ._server import detail_rows

    n = int(params["n"])
    budget = bm.MemoryBudget(limit=10**9)

    async def nothing(account: str) -> float:
        return 0.0

    hot, empty = [], []
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(n):
            await budget.acquire(ACCOUNT)
        hot.append((time.perf_counter() - t) / n)
        t = time.perf_counter()
        for _ in range(n):
            await nothing(ACCOUNT)
        empty.append((time.perf_counter() - t) / n)
    page = orjson.dumps({"value": detail_rows(1000, 3)})
    cold = []
    for _ in range(int(params["pages"])):
        orjson.loads(page)
        t = time.perf_counter()
        await budget.acquire(ACCOUNT)
        cold.append(time.perf_counter() - t)
    gets = []
    async with aiohttp.ClientSession() as http:
        for _ in range(int(params["gets"])):
            t = time.perf_counter()
            async with http.get(params["ping"]) as resp:
                await resp.read()
            gets.append(time.perf_counter() - t)
    return {
        "hot_us": median(hot) * 1e6,
        "empty_us": median(empty) * 1e6,
        "cold_us": median(cold) * 1e6,
        "get_us": median(gets) * 1e6,
    }


async def store_acquire(params: dict[str, Any]) -> dict[str, Any]:
    """Client: acquire from a SQLite or Redis budget during ``[start_at, start_at + seconds)``."""
    import brightmetrics_async as bm

    budget: bm.Budget
    if params["store"] == "sqlite":
        budget = bm.SQLiteBudget(params["path"], limit=10**9, period=params["period"])
    else:
        budget = bm.RedisBudget(
            params["url"], key_prefix="bench:", limit=10**9, period=params["period"]
        )
    async with budget:
        await budget.snapshot(ACCOUNT)  # open the store before the clock starts
        await asyncio.sleep(max(0.0, params["start_at"] - time.time()))
        end = params["start_at"] + params["seconds"]
        count = 0
        while time.time() < end:
            await budget.acquire(ACCOUNT)
            count += 1
        live = (await budget.snapshot(ACCOUNT)).spent
    return {"count": count, "live": live}


def _rate(store: str, procs: int, *, seconds: float, period: float, **where: str) -> dict[str, Any]:
    """Acquisitions per second of ``procs`` fresh processes running together."""
    start_at = time.time() + 1.5 + 0.2 * procs  # time for every process to import and open
    params = {"store": store, "seconds": seconds, "period": period, "start_at": start_at, **where}
    workers = [start_process(["benchmarks._worker", "limiter:store_acquire"], params)]
    workers += [
        start_process(["benchmarks._worker", "limiter:store_acquire"], params)
        for _ in range(procs - 1)
    ]
    results = [collect(w, timeout=120) for w in workers]
    total = sum(r["count"] for r in results)
    return {"rate": total / seconds, "live": max(r["live"] for r in results), "procs": procs}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def redis_server() -> Iterator[str | None]:
    """A private redis-server on a free loopback port (None if the binary is missing)."""
    binary = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if binary is None:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="bm-redis-") as workdir:
        port = _free_port()
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", workdir,
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock,
                ):
                    sock.sendall(b"PING\r\n")
                    if sock.recv(64).startswith(b"+PONG"):
                        break
                time.sleep(0.02)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.kill()
            proc.wait(timeout=10)


def _store_figures(
    section: Section, store: str, label: str, *, quick: bool, **where: str
) -> dict[str, Any]:
    seconds = 1.0 if quick else 3.0
    # Calibrate: the rate with an empty log sizes the period so the log holds about LIVE.
    calib = _rate(store, 1, seconds=0.5, period=86400.0, **where)
    period = LIVE / calib["rate"]
    out: dict[str, Any] = {"period": period}
    for procs in (1, 8):
        if store == "sqlite":
            where = {"path": str(Path(where["path"]).with_name(f"budget-{procs}.sqlite3"))}
        r = _rate(store, procs, seconds=seconds, period=period, **where)
        out[f"{procs} processes"] = r
        section.add(
            f"{label}, {procs} process{'es' if procs > 1 else ''}",
            f"{r['rate']:,.0f} acquisitions/s (log of ~{r['live']} live entries)",
        )
    return out


def run(*, quick: bool) -> Section:
    """MemoryBudget cost against a loopback GET; SQLite and Redis rates, 1 and 8 processes."""
    section = Section("limiter", "5. Limiter overhead")
    n, pages, gets = (20_000, 200, 300) if quick else (200_000, 2000, 2000)
    with bench_server() as url:
        ping = url.rsplit("/", 1)[0] + "/bench/ping"
        params = {"n": n, "pages": pages, "gets": gets, "ping": ping}
        mem = run_client("limiter:memory_acquire", params)
    net = mem["hot_us"] - mem["empty_us"]
    section.add(
        "MemoryBudget.acquire (limit=10**9), hot loop",
        f"{mem['hot_us']:.2f} us ({net:.2f} us net of an empty await; "
        f"{mem['hot_us'] / mem['get_us'] * 100:.1f}% of a loopback GET of {mem['get_us']:.0f} us)",
        "< 10 us",
        mem["hot_us"] < 10.0,
    )
    section.add(
        "MemoryBudget.acquire, cold (after each 200 KB page decode)",
        f"{mem['cold_us']:.2f} us ({mem['cold_us'] / mem['get_us'] * 100:.1f}% of the GET)",
        "< 10 us",
        mem["cold_us"] < 10.0,
    )
    section.add("MemoryBudget acquisitions per second (hot)", f"{1e6 / mem['hot_us']:,.0f} /s")
    section.raw["memory"] = mem
    with tempfile.TemporaryDirectory(prefix="bm-bench-", dir=Path.home()) as tmp:
        section.raw["sqlite"] = _store_figures(
            section, "sqlite", "SQLiteBudget", quick=quick, path=str(Path(tmp, "budget.sqlite3"))
        )
    with redis_server() as redis_url:
        if redis_url is None:
            section.notes.append("RedisBudget: skipped, no redis-server binary on this machine.")
        else:
            section.raw["redis"] = _store_figures(
                section, "redis", "RedisBudget", quick=quick, url=redis_url
            )
    section.notes += [
        f"MemoryBudget: median of 3 loops of {n:,} acquisitions; cold: median over {pages:,} "
        f"acquisitions, each right after decoding a 200 KB JSON page; the GET is the median "
        f"of {gets:,} sequential aiohttp GETs of an empty body from the benchmark server.",
        "SQLite and Redis: fresh processes that start together and acquire in a loop for "
        f"{1 if quick else 3} s; the period is set to 150 / (the rate measured with an empty "
        "log), so the log holds about as many live entries as a full day of the vendor's "
        "limit. The SQLite file is on the local disk, in the home directory (the default "
        "budget's file system).",
    ]
    return section

"""Benchmark 6, replicas sharing requests: three service replicas on one Redis.

Three fresh client processes (the replicas) share a :class:`RedisResultCache` and a
:class:`RedisBudget` on a private ``redis-server``; each answers its share of 1,000 concurrent
client requests for 5 reports (100 KB CSV each, from the benchmark server in its own process)
with ``download(..., max_age=600)``, then 1,000 more, one at a time, which are all cached
answers. Figures:

* upstream requests per 1,000 client requests (the benchmark server's own count; target: 5,
  one per report, whatever the replicas' interleaving);
* p50 / p99 latency of a cached answer (one Redis round trip, the copy and the bookkeeping),
  measured in the second wave, next to one loopback GET to the benchmark server measured in the
  same process (the cost the cache saves, before any WAN delay).

Latencies depend on the machine's load (the replicas, Redis and the server share its cores);
the ratio to the loopback GET is the figure to compare across machines.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import urllib.request
from typing import Any

from ._harness import Section, bench_server, collect, start_process
from .limiter import redis_server

REPLICAS = 3
REPORTS = 5
CLIENT_REQUESTS = 1000
PINGS = 200  # loopback GETs timed per replica (the server counts them too)


async def replica(params: dict[str, Any]) -> dict[str, Any]:
    """Client: one replica's share of the two waves."""
    import aiohttp

    import brightmetrics_async as bm

    from ._server import guid

    url, redis, n = params["url"], params["redis"], int(params["n"])
    reports = [guid(i, 100_000) for i in range(REPORTS)]
    async with (
        bm.RedisBudget(redis, limit=10**6) as budget,
        bm.RedisResultCache(redis) as cache,
        bm.Session(
            bm.ApiKey("bench"), base_url=url, account="bench", budget=budget, result_cache=cache
        ) as s,
    ):
        # Wave 1: concurrent, cold or coalesced.
        start = time.perf_counter()
        await asyncio.gather(
            *(s.download(reports[i % REPORTS], format="csv", max_age=600) for i in range(n))
        )
        wave1 = time.perf_counter() - start
        sent = s.requests_sent
        # Wave 2: cached answers, one at a time.
        cached: list[float] = []
        for i in range(params["cached"]):
            t = time.perf_counter()
            await s.download(reports[i % REPORTS], format="csv", max_age=600)
            cached.append(time.perf_counter() - t)
        assert s.requests_sent == sent, "a cached answer spent a request"
    async with aiohttp.ClientSession() as http:
        ping = url.split("/OData.ashx")[0] + "/bench/ping"
        gets = []
        for _ in range(PINGS):
            t = time.perf_counter()
            async with http.get(ping) as resp:
                await resp.read()
            gets.append(time.perf_counter() - t)
    return {"wave1": wave1, "sent": sent, "cached": cached, "get": statistics.median(gets)}


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(*, quick: bool = False) -> Section:
    """The replica scenario (see the module docstring)."""
    section = Section("replicas", "Replicas sharing requests through Redis")
    cached_each = 100 if quick else CLIENT_REQUESTS // REPLICAS + 1
    with redis_server() as redis:
        if redis is None:
            section.notes.append("skipped: no redis-server binary on this machine.")
            return section
        with bench_server({}) as url:
            shares = [
                CLIENT_REQUESTS // REPLICAS + (i < CLIENT_REQUESTS % REPLICAS) for i in range(3)
            ]
            procs = [
                start_process(
                    ["benchmarks._worker", "replicas:replica"],
                    {"url": url, "redis": redis, "n": share, "cached": cached_each},
                )
                for share in shares
            ]
            results = [collect(p, timeout=600) for p in procs]
            stats_url = url.split("/OData.ashx")[0] + "/bench/stats"
            with urllib.request.urlopen(stats_url, timeout=30) as resp:  # noqa: S310 - loopback
                seen = int(json.loads(resp.read())["requests"])
    # The server counts every request: the replicas' timed pings and this stats request aside.
    upstream = seen - PINGS * REPLICAS - 1
    cached = [x for r in results for x in r["cached"]]
    get = statistics.median(r["get"] for r in results)
    p50, p99 = _quantile(cached, 0.5), _quantile(cached, 0.99)
    assert upstream == sum(r["sent"] for r in results), "the server and the clients disagree"
    section.add(
        "upstream requests per 1,000 client requests (3 replicas, 5 reports)",
        str(upstream),
        "5",
        upstream == REPORTS,
    )
    section.add("cached answer p50", f"{p50 * 1e3:.2f} ms ({p50 / get:.1f}x a loopback GET)")
    section.add("cached answer p99", f"{p99 * 1e3:.2f} ms ({p99 / get:.1f}x a loopback GET)")
    section.notes += [
        f"{REPLICAS} replica processes, {sum(r['sent'] for r in results)} requests sent by them "
        f"in total; wave 1 took {max(r['wave1'] for r in results):.2f} s.",
        f"{len(cached)} cached answers timed one at a time (100 KB each); a loopback GET to the "
        f"benchmark server took {get * 1e3:.2f} ms (median of {PINGS} per replica).",
        "Redis, the server and the replicas share the machine's cores: latencies move with load.",
    ]
    section.raw = {"upstream": upstream, "p50": p50, "p99": p99, "get": get}
    return section

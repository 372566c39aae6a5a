"""One replica of a service, in its own process: ``python -m tests._replica_worker MODE ...``.

Modes:

* ``serve URL REDIS N`` - N concurrent ``download(..., max_age=600)`` of the five REPORTS (round
  robin) through a :class:`RedisResultCache` and a :class:`RedisBudget` on REDIS; prints one JSON
  line ``{"answers": N, "sizes": {report: size}, "sent": requests this replica sent}``.
* ``hold URL REDIS MARKER LEASE`` - takes the lease of REPORTS[0] and freezes itself (SIGSTOP)
  inside its fetch, before any request, after writing MARKER: the test SIGKILLs it there.
* ``submit URL KEYS_DB MARKER`` - ``submit(SUMMARY, format="csv", key=KEY)`` with the SQLite job
  key registry KEYS_DB; prints the job's status URL, then (unless MARKER is "-") writes MARKER
  and waits for the result (the test stops it with SIGTERM there); prints "done" with the
  result's size when it gets it. KEYS_DB may be a ``redis://`` URL (a Redis registry).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

import brightmetrics_async as bm
from brightmetrics_async._results import result_key
from brightmetrics_async.testing import DEMO_API_KEY

REPORTS = [
    "03bd1235-eb2c-410f-a415-fefacd98df41",
    "041cee41-ac5f-4455-a02d-022705afe417",
    "0c15c8a5-128b-488b-8758-ef15868c3b5b",
    "6f40b845-fb28-4547-b73b-e11ce29f481b",
    "68c8e362-b2c2-6f6d-498b-af782b253239",
]
SUMMARY = REPORTS[0]
KEY = "nightly-summary-2026-11-27"
ACCOUNT = "acme"


def session(url: str, **kw: object) -> bm.Session:
    return bm.Session(
        bm.ApiKey(DEMO_API_KEY),
        base_url=url,
        account=ACCOUNT,
        retry=bm.RetryPolicy(jitter=False),
        poll_policy=bm.PollPolicy.naive(),
        **kw,  # type: ignore[arg-type]
    )


async def serve(url: str, redis: str, n: int) -> None:
    async with (
        bm.RedisBudget(redis) as budget,
        bm.RedisResultCache(redis, lease=30.0) as cache,
        session(url, budget=budget, result_cache=cache) as s,
    ):

        async def one(i: int) -> tuple[str, int]:
            report = REPORTS[i % len(REPORTS)]
            return report, len(await s.download(report, format="csv", max_age=600))

        answers = await asyncio.gather(*(one(i) for i in range(n)))
        print(
            json.dumps({"answers": len(answers), "sizes": dict(answers), "sent": s.requests_sent})
        )


async def hold(url: str, redis: str, marker: str, lease: float) -> None:
    async with bm.RedisResultCache(redis, lease=lease) as cache:

        async def fetch() -> bytes:
            Path(marker).write_text("holding")
            os.kill(os.getpid(), signal.SIGSTOP)
            raise AssertionError("killed while frozen; never reached")

        async with bm.RedisBudget(redis) as budget, session(url, budget=budget) as s:
            # The key Session.download(REPORTS[0], format="csv", max_age=...) uses.
            request = await s.request(s.query(REPORTS[0], format="csv"))
            key = result_key(f"{s.account}|{s.base_url}", request.url, dict(request.headers))
            assert await cache.get(key, max_age=600, now=time.time()) is None  # the lease
            await fetch()


async def submit(url: str, keys_db: str, marker: str) -> None:
    store = (
        bm.RedisJobKeys(keys_db) if keys_db.startswith("redis://") else bm.SQLiteJobKeys(keys_db)
    )
    async with (
        store as keys,
        session(url, budget=bm.MemoryBudget(), job_keys=keys) as s,
    ):
        job = await s.submit(SUMMARY, format="csv", key=KEY)
        print(json.dumps({"status_url": job.status_url}), flush=True)
        if marker == "-":
            return
        Path(marker).write_text("waiting")
        body = await job.result()
        print(json.dumps({"done": len(body)}), flush=True)


def main(argv: list[str]) -> None:
    mode, url, *rest = argv
    if mode == "serve":
        asyncio.run(serve(url, rest[0], int(rest[1])))
    elif mode == "hold":
        asyncio.run(hold(url, rest[0], rest[1], float(rest[2])))
    else:
        asyncio.run(submit(url, rest[0], rest[1]))


if __name__ == "__main__":
    main(sys.argv[1:])

"""Benchmark 3, concurrent jobs: 10,000 asynchronous exports waited on in one process.

The server (another process) runs on an accelerated clock: virtual time is
``vstart + (time.time() - rstart) * scale``, and the client's :class:`ScaledClock` computes the
same, so a job of 15 virtual minutes takes a minute of real time while the client's scheduling,
connections and timers are all real. Every job is a distinct report (its GUID encodes the job's
duration and the Retry-After its server sends, 120-300 virtual s), so no job learns from
another's duration and each one's polls must equal
``PollPolicy().predict_polls(duration, retry_after=R)``; durations are drawn away from the
instants where a poll could land within the accumulated latency of the job's end (the
prediction assumes requests take no time). Retry-After of at least 120 s also leaves a quiet
window after the submission burst, before any first poll.

All jobs are submitted at once (``Session.submit`` in 10,000 tasks, then ``job.result()``).
Measured in the client process: its peak RSS; its CPU over a real interval while every job
waits (after the last submission, before the first poll is due); and, for every poll, its
lateness: the real time the server received it minus the real instant of the poll's due time
(``Job.next_poll_at``, virtual, mapped back to real time). That lateness includes loopback
transit and the server's accept queue, so it is an upper bound on the client's own lateness;
it is reported in real milliseconds (multiply by ``scale`` for virtual ones). Compressing time
raises the request rate ``scale``-fold, so the real lateness here is pessimistic for a client
running at 1x.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from ._harness import Section, bench_server, run_client
from ._server import guid

API_KEY = "bench-key"
RETRY_AFTER = (120, 300)  # virtual seconds: each job's server sends one value in this range
MARGIN = 5.0  # virtual seconds: durations avoid (t, t + MARGIN] for every planned poll t


class ScaledClock:
    """The library's Clock protocol on accelerated time (``scale`` virtual s per real s)."""

    def __init__(self, *, vstart: float, rstart: float, scale: float) -> None:
        self.vstart, self.rstart, self.scale = vstart, rstart, scale

    def time(self) -> float:
        return self.vstart + (time.time() - self.rstart) * self.scale

    def to_real(self, virtual: float) -> float:
        return self.rstart + (virtual - self.vstart) / self.scale

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.scale)


def workload(
    n: int, *, low: float, high: float, retry_after: tuple[int, int], seed: int = 1
) -> list[tuple[float, int]]:
    """``n`` jobs ``(duration, retry_after)``: durations in ``[low, high]`` virtual seconds,
    none in ``(t, t + MARGIN]`` of a poll ``t`` planned for it; Retry-After in ``retry_after``."""
    import brightmetrics_async as bm

    policy = bm.PollPolicy()
    rng = random.Random(seed)
    out: list[tuple[float, int]] = []
    while len(out) < n:
        ra = rng.randint(*retry_after)
        d = round(rng.uniform(low, high), 3)
        planned = policy.schedule(high + 3600, retry_after=ra)
        if not any(t < d <= t + MARGIN for t in planned):
            out.append((d, ra))
    return out


def job_guid(i: int, duration: float, retry_after: int) -> str:
    """The GUID telling the server this job's duration (ms) and Retry-After (s)."""
    return guid(i, (retry_after << 32) | round(duration * 1000))


async def wait_many(params: dict[str, Any]) -> dict[str, Any]:
    """Client: submit every job at once, wait for all; measure what the module doc says."""
    import aiohttp

    import brightmetrics_async as bm

    clock = ScaledClock(vstart=params["vstart"], rstart=params["rstart"], scale=params["scale"])
    work = params["workload"]
    n = len(work)
    dues: list[list[float]] = [[] for _ in range(n)]
    polls = [0] * n
    state = {"submitted": 0, "polled": 0, "done": 0}
    all_submitted = asyncio.Event()
    window: dict[str, float] = {}
    budget = bm.MemoryBudget(limit=10**9, clock=clock)
    async with bm.Session(
        bm.ApiKey(API_KEY), base_url=params["url"], clock=clock, budget=budget
    ) as s:

        async def one(i: int) -> None:
            job = await s.submit(job_guid(i, *work[i]))
            dues[i].append(job.next_poll_at or 0.0)

            def polled(j: bm.Job) -> None:
                state["polled"] += 1
                if j.next_poll_at is not None:
                    dues[i].append(j.next_poll_at)

            job.on_change(polled)
            state["submitted"] += 1
            if state["submitted"] == n:
                all_submitted.set()
            await job.result()
            polls[i] = job.polls
            state["done"] += 1

        async def watch_idle() -> None:
            await all_submitted.wait()
            start_wall = time.time()
            first_due = clock.to_real(min(d[0] for d in dues))
            end_wall = min(start_wall + 3.0, first_due - 0.25)
            polled, cpu = state["polled"], time.process_time()
            t0 = time.perf_counter()
            await asyncio.sleep(max(0.0, end_wall - time.time()))
            window.update(
                seconds=time.perf_counter() - t0,
                cpu=time.process_time() - cpu,
                polls_during=state["polled"] - polled,
                after_burst=start_wall - params["rstart"],
            )

        started = time.perf_counter()
        async with asyncio.TaskGroup() as tg:
            tg.create_task(watch_idle())
            for i in range(n):
                tg.create_task(one(i))
        wall = time.perf_counter() - started
    log_url = params["url"].rsplit("/", 1)[0] + "/bench/jobs"
    async with aiohttp.ClientSession() as http, http.get(log_url) as resp:
        log = await resp.json()
    lateness: list[float] = []
    server_polls = [0] * n
    for record in log.values():
        i = int(record["guid"][:8], 16)
        server_polls[i] = len(record["polls"])
        for arrived, due in zip(record["polls"], dues[i], strict=False):
            lateness.append(arrived - clock.to_real(due))
    return {
        "wall": wall,
        "done": state["done"],
        "polls": polls,
        "server_polls": server_polls,
        "lateness": lateness,
        "window": window,
    }


def run(*, quick: bool) -> Section:
    """10,000 jobs (1,000 with --quick) of 1 to 10 virtual minutes at 20x."""
    import brightmetrics_async as bm

    section = Section("jobs", "3. Concurrent jobs")
    n, scale, high = (1000, 30.0, 300.0) if quick else (10_000, 20.0, 600.0)
    work = workload(n, low=60.0, high=high, retry_after=RETRY_AFTER)
    # No job polls before its Retry-After (>= 120 virtual s): the quiet window after the burst.
    now = time.time()
    config = {"vstart": now, "rstart": now, "scale": scale}
    with bench_server(config) as url:
        r = run_client("jobs:wait_many", {"url": url, **config, "workload": work})
    policy = bm.PollPolicy()
    predicted = [policy.predict_polls(d, retry_after=ra) for d, ra in work]
    triples = zip(predicted, r["polls"], r["server_polls"], strict=True)
    exact = sum(p == q == s for p, q, s in triples)
    late = sorted(x * 1000 for x in r["lateness"])
    med = late[len(late) // 2]
    p99 = late[int(len(late) * 0.99)]
    w = r["window"]
    cpu_share = w["cpu"] / w["seconds"] * 100 if w.get("seconds") else float("nan")
    section.add("jobs completed", f"{r['done']:,} of {n:,}", "all", r["done"] == n)
    section.add(
        "polls per job = predict_polls(duration, retry_after)",
        f"{exact:,} of {n:,} jobs ({sum(r['polls']):,} polls, predicted {sum(predicted):,})",
        "all",
        exact == n,
    )
    section.add(
        "median poll lateness (real)",
        f"{med:.1f} ms (p99 {p99:.0f} ms, max {late[-1]:.0f} ms; "
        f"{med * scale / 1000:.2f} s virtual)",
        "< 20 ms",
        med < 20.0,
    )
    section.add("client peak RSS", f"{r['peak_rss_mb']:.0f} MB", "< 300 MB", r["peak_rss_mb"] < 300)
    section.add(
        "client CPU while every job waits",
        f"{cpu_share:.2f}% of one core over {w.get('seconds', 0):.1f} s "
        f"({w.get('polls_during', '?')} polls sent in it)",
        "near zero (< 1%)",
        cpu_share < 1.0 and w.get("polls_during") == 0 and w.get("seconds", 0) >= 0.5,
    )
    section.raw = {
        "wall": r["wall"],
        "window": w,
        "lateness_ms": {"median": med, "p99": p99, "max": late[-1], "min": late[0]},
    }
    section.notes += [
        f"{n:,} jobs of {min(d for d, _ in work):.0f}-{max(d for d, _ in work):.0f} virtual "
        f"seconds, each with its server's Retry-After of {RETRY_AFTER[0]}-{RETRY_AFTER[1]} s, "
        f"clock {scale:g}x (1 real s = {scale:g} virtual s); "
        f"the run took {r['wall']:.0f} s real; default PollPolicy() and a fresh JobHistory.",
        f"All submitted {w.get('after_burst', float('nan')):.1f} s after the start; the idle "
        "window runs from then until just before the first poll is due (at most 3 s).",
        "Lateness = server arrival time of each poll - the real instant of its due time; an "
        "upper bound on the client's lateness (includes loopback transit and the server).",
    ]
    return section

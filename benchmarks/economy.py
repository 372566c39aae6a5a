"""Benchmark 4, request economy: the requests a reference day costs, default vs naive client.

The reference day (30 report pulls, by title, each with a filter) runs on the real emulator
in virtual time (``VirtualClock``: hours pass in milliseconds; counting requests needs no real
waiting). Both clients run the same day against fresh emulators, each with an unlimited budget
and no server quota, so the count is what each *would* spend:

* default: one ``Session`` for the day (the service document, filter metadata and job
  durations are learned once), the default frugal ``PollPolicy()``;
* naive: a fresh ``Session`` per report (the title lookup and the filter metadata are fetched
  every time) and ``PollPolicy.naive()``: a poll every Retry-After (the emulator sends 5 s).

Requests are counted by the emulator, per kind.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import attrs

from ._harness import Section

HOUR = 3600.0


@attrs.frozen
class Pull:
    """One pull of the day: at ``hour``, ``title`` with ``filter``; ``export`` as a CSV job."""

    hour: float
    title: str
    filter: str
    export: bool = False


SUMMARY = "Service Summary"
AGENTS = "Agent Activity Summary - All (Saved MSC Agents)"
HELPDESK = "Helpdesk Workgroup Service-Level Summary w/o Wait Time"
DETAIL = "Agent Detail"
CALLERS = "Search by CallerID"
ABANDONED = "Abandoned Calls Detail (Connect)"

# Export durations, virtual seconds: (low, high), drawn by the emulator's seeded source.
JOB_SECONDS = {
    AGENTS: (10.0, 20.0),
    ABANDONED: (240.0, 360.0),
    CALLERS: (1500.0, 1800.0),
}


def reference_day() -> list[Pull]:
    """12 small summaries, 8 long detail reports (5-9 pages), 10 exports of 10 s to 30 min."""
    day: list[Pull] = []
    for hour in (1.0, 2.0, 3.0, 4.0):
        day.append(Pull(hour, AGENTS, "Agent_Name eq 'Sam Chen'", export=True))
    for hour in (1.5, 2.5, 3.5):
        day.append(Pull(hour, ABANDONED, "Queue_Name eq 'Sales'", export=True))
    for hour in (5.0, 6.0, 7.0):
        day.append(Pull(hour, CALLERS, "Call_Type eq 'Inbound'", export=True))
    for hour in (8.0, 11.0, 14.0, 17.0):
        day.append(Pull(hour, SUMMARY, "Media_Type eq 'Voice'"))
        day.append(Pull(hour + 0.25, AGENTS, "Agent_Name eq 'Sam Chen'"))
        day.append(Pull(hour + 0.5, HELPDESK, "Workgroup_Name eq 'Helpdesk Tier 1'"))
    for hour in (9.0, 13.0, 16.0):
        day.append(Pull(hour, DETAIL, "Media_Type eq 'Voice'"))
        day.append(Pull(hour + 0.5, CALLERS, "Call_Type eq 'Inbound'"))
    for hour in (10.0, 15.0):
        day.append(Pull(hour, ABANDONED, "Queue_Name eq 'Sales'"))
    return sorted(day, key=lambda p: p.hour)


def _kind(target: str, prefer: str | None) -> str:
    path, _, query = target.partition("?")
    if "/status/" in path:
        return "status polls"
    if path.endswith("/$metadata"):
        return "metadata"
    if path.rstrip("/").endswith("/OData.ashx"):
        return "service document"
    if prefer and "respond-async" in prefer:
        return "export submissions"
    return "next pages" if "$skiptoken" in query else "first pages"


async def _day(*, naive: bool, tmp: Path) -> dict[str, Any]:
    import brightmetrics_async as bm
    from brightmetrics_async.testing import (
        DEMO_ACCOUNT,
        DEMO_API_KEY,
        Emulator,
        EmulatorConfig,
        VirtualClock,
        serve,
    )

    clock = VirtualClock(autojump_idle=0.001)
    start = clock.time()
    by_guid = {
        r.guid: JOB_SECONDS[r.title]
        for r in Emulator().reports_for(DEMO_ACCOUNT)
        if r.title in JOB_SECONDS
    }
    emulator = Emulator(
        EmulatorConfig(quota_limit=None, job_seconds_by_report=by_guid), clock=clock.time
    )
    budget = bm.MemoryBudget(limit=10**9, clock=clock)
    policy = bm.PollPolicy.naive() if naive else bm.PollPolicy()
    rows = 0
    polls: list[int] = []
    async with serve(emulator) as server, AsyncExitStack() as stack:

        def new_session() -> bm.Session:
            return bm.Session(
                bm.ApiKey(DEMO_API_KEY),
                base_url=server.url,
                clock=clock,
                budget=budget,
                poll_policy=policy,
            )

        shared = None if naive else await stack.enter_async_context(new_session())
        for n, pull in enumerate(reference_day()):
            await clock.sleep(start + pull.hour * HOUR - clock.time())
            async with AsyncExitStack() as per_pull:
                s = (
                    shared
                    if shared is not None
                    else await per_pull.enter_async_context(new_session())
                )
                if pull.export:
                    job = await s.submit(pull.title, format="csv", filter=pull.filter)
                    await job.export(tmp / f"{'naive' if naive else 'default'}-{n}.csv")
                    polls.append(job.polls)
                else:
                    async with s.rows(pull.title, filter=pull.filter) as it:
                        async for _row in it:
                            rows += 1
    kinds = Counter(_kind(r.target, r.header("Prefer")) for r in emulator.requests)
    return {"total": len(emulator.requests), "kinds": dict(kinds), "rows": rows, "polls": polls}


def run(*, quick: bool) -> Section:
    """The same day for both clients (the day is small: --quick runs it whole)."""
    import asyncio

    section = Section("economy", "4. Request economy")
    with tempfile.TemporaryDirectory(prefix="bm-bench-") as tmp:
        default = asyncio.run(_day(naive=False, tmp=Path(tmp)))
        naive = asyncio.run(_day(naive=True, tmp=Path(tmp)))
    if default["rows"] != naive["rows"]:
        raise RuntimeError(f"the clients read {default['rows']} and {naive['rows']} rows")
    ratio = default["total"] / naive["total"]
    section.add(
        "default vs naive requests",
        f"{ratio:.3f}x ({default['total']} vs {naive['total']})",
        "<= 0.50x",
        ratio <= 0.5,
    )
    section.add(
        "default requests in the day", f"{default['total']}", "<= 150", default["total"] <= 150
    )
    kinds = sorted(set(default["kinds"]) | set(naive["kinds"]))
    breakdown = "; ".join(
        f"{k}: {default['kinds'].get(k, 0)} vs {naive['kinds'].get(k, 0)}" for k in kinds
    )
    section.notes += [
        "The day: 12 summaries (1 page each), 8 detail pulls (5-9 pages: the emulator's "
        "weekly slices over 30 or 60 days), 10 CSV exports (4 of 10-20 s, 3 of 4-6 min, 3 of "
        "25-30 min), all by title with a filter; virtual time, real emulator over loopback.",
        f"Requests by kind, default vs naive: {breakdown}.",
        f"Polls per export, default: {default['polls']}; naive: {naive['polls']}.",
        f"Both read the same {default['rows']:,} rows.",
    ]
    section.raw = {"default": default, "naive": naive}
    return section

"""Benchmark 6, warehouse sync: the requests a warm daily sync of the demo reports costs.

Every saved report of the demo account is synced into a DuckDB file with the dlt source, on
the real emulator over loopback in virtual time (``VirtualClock``). The first run loads 30
days (cold); the clock then moves one day and the same sync runs again (warm: watermarks
stored, a day of new calls arrived). Requests are counted by the emulator's log, next to the
rows the warm run loaded.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import Any

from ._harness import Section

DAY = 86400.0


class _Time:
    def __init__(self, clock: Any) -> None:
        self._clock = clock

    def time(self) -> float:
        return float(self._clock.time())

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)


async def _days(tmp: Path) -> dict[str, Any]:
    import anyio
    import dlt

    import brightmetrics_async as bm
    from brightmetrics_async.dlt import SOURCE_NAME, brightmetrics_source
    from brightmetrics_async.testing import (
        DEMO_API_KEY,
        Emulator,
        EmulatorConfig,
        VirtualClock,
        serve,
    )

    clock = VirtualClock(autojump=False)
    shared = _Time(clock)
    emulator = Emulator(EmulatorConfig(quota_limit=None), clock=clock.time)
    runs: list[dict[str, Any]] = []
    async with serve(emulator) as server:

        def run(since: str | None) -> dict[str, Any]:
            pipeline = dlt.pipeline(
                pipeline_name="bench_sync",
                destination=dlt.destinations.duckdb(str(tmp / "warehouse.duckdb")),
                dataset_name="reports",
                pipelines_dir=str(tmp / "pipelines"),
            )
            source = brightmetrics_source(
                None,
                auth=bm.ApiKey(DEMO_API_KEY),
                base_url=server.url,
                budget=bm.SQLiteBudget(tmp / f"budget-{len(runs)}.sqlite3", clock=shared),
                clock=shared,
                since=since,
            )
            pipeline.run(source)
            tables: dict[str, Any] = pipeline.state["sources"][SOURCE_NAME]["tables"]
            return tables

        for since in ("30d", None):
            before = len(emulator.requests)
            tables = await anyio.to_thread.run_sync(run, since)
            runs.append(
                {
                    "requests": len(emulator.requests) - before,
                    "rows": sum(t["last_run"]["rows"] for t in tables.values()),
                    "tables": len(tables),
                    "incremental": sum(t["last_run"]["incremental"] for t in tables.values()),
                }
            )
            clock.advance(DAY)
    return {"cold": runs[0], "warm": runs[1]}


def run(*, quick: bool) -> Section:
    """A cold and a warm daily sync (small enough that --quick runs it whole)."""
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    section = Section("sync", "6. Warehouse sync")
    with tempfile.TemporaryDirectory(prefix="bm-bench-") as tmp:
        result = asyncio.run(_days(Path(tmp)))
    cold, warm = result["cold"], result["warm"]
    section.add(
        "warm daily sync: requests (rows loaded)",
        f"{warm['requests']} ({warm['rows']:,} rows)",
        "<= 20",
        warm["requests"] <= 20,
    )
    section.add("cold 30-day sync: requests (rows)", f"{cold['requests']} ({cold['rows']:,} rows)")
    section.notes += [
        f"All {warm['tables']} demo reports: {warm['incremental']} detail reports merged on "
        "their date-time column, the others (summaries) replaced; emulator request log.",
        "A warm run spends the service document, the root $metadata, one filter schema per "
        "detail report and one page per table (a day fits one weekly slice).",
    ]
    section.raw = result
    return section

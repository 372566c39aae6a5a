"""The dlt source against the emulator over loopback, into real DuckDB files.

The emulator and the client share one ``VirtualClock``; dlt runs its pipeline in a worker
thread (its async resources get an event loop of their own there) while the test's loop keeps
serving. Each test uses its own ``pipelines_dir``; dlt's telemetry is off.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import anyio
import pytest

dlt = pytest.importorskip("dlt")
duckdb = pytest.importorskip("duckdb")

import brightmetrics_async as bm  # noqa: E402
from brightmetrics_async.dlt import (  # noqa: E402
    ROW_KEY,
    SOURCE_NAME,
    brightmetrics_source,
    plan_sync,
)
from brightmetrics_async.testing import (  # noqa: E402
    DEMO_API_KEY,
    Emulator,
    EmulatorConfig,
    EmulatorServer,
    VirtualClock,
    serve,
)

pytestmark = pytest.mark.anyio

REPORTS = ["Agent Detail", "Search by CallerID"]
TABLES = {"Agent Detail": "agent_detail", "Search by CallerID": "search_by_callerid"}


class SharedTime:
    """The virtual clock's time, readable from dlt's thread (sleeps only yield there)."""

    def __init__(self, clock: VirtualClock) -> None:
        self._clock = clock

    def time(self) -> float:
        return self._clock.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)


@pytest.fixture(autouse=True)
def _no_telemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")


_OPEN_BUDGETS: list[bm.Budget] = []


@pytest.fixture(autouse=True)
async def _close_budgets() -> AsyncIterator[None]:
    """The budgets these tests hand to the source are theirs to close (the source leaves a
    caller's budget open), so no SQLite connection outlives its test."""
    yield
    while _OPEN_BUDGETS:
        await _OPEN_BUDGETS.pop().aclose()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[EmulatorServer, VirtualClock]]:
    clock = VirtualClock(autojump=False)
    async with serve(Emulator(EmulatorConfig(), clock=clock.time)) as server:
        yield server, clock


def _options(server: EmulatorServer, clock: VirtualClock, tmp: Path, **kw: Any) -> dict[str, Any]:
    shared = SharedTime(clock)
    budget = bm.SQLiteBudget(tmp / "budget.sqlite3", clock=shared, max_wait=0)
    _OPEN_BUDGETS.append(budget)
    return {
        "auth": bm.ApiKey(DEMO_API_KEY),
        "base_url": server.url,
        "account": "acme-test",
        "budget": budget,
        "clock": shared,
        **kw,
    }


def _pipeline(tmp: Path) -> Any:
    return dlt.pipeline(
        pipeline_name="bm_test",
        destination=dlt.destinations.duckdb(str(tmp / "warehouse.duckdb")),
        dataset_name="calls",
        pipelines_dir=str(tmp / "pipelines"),
    )


async def _sync(tmp: Path, reports: Any, **options: Any) -> dict[str, Any]:
    """Create the pipeline and run the source in one worker thread; return the tables state."""

    def run() -> dict[str, Any]:
        pipeline = _pipeline(tmp)
        pipeline.run(brightmetrics_source(reports, **options))
        state: dict[str, Any] = pipeline.state["sources"][SOURCE_NAME]["tables"]
        return state

    return await anyio.to_thread.run_sync(run)


def _normal(row: dict[str, Any]) -> tuple[Any, ...]:
    out = []
    for key in sorted(row, key=lambda k: k.lower().replace("_", "")):
        value = row[key]
        if isinstance(value, dt.datetime):
            value = value.astimezone(dt.UTC)
        out.append((key.lower().replace("_", ""), value))
    return tuple(out)


def _table(tmp: Path, table: str) -> list[dict[str, Any]]:
    con = duckdb.connect(str(tmp / "warehouse.duckdb"), read_only=True)
    try:
        cursor = con.execute(f"SELECT * FROM calls.{table}")  # noqa: S608 - a test's own name
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    finally:
        con.close()
    return [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]


async def _pulled(
    server: EmulatorServer, clock: VirtualClock, tmp: Path, report: str, start: Any, end: Any
) -> list[dict[str, Any]]:
    """The same range through ``Session.rows`` (the reference)."""
    budget = bm.MemoryBudget(clock=SharedTime(clock))
    async with bm.Session(
        bm.ApiKey(DEMO_API_KEY), base_url=server.url, budget=budget, clock=SharedTime(clock)
    ) as s:
        expr = bm.where(Call_Date_Time=bm.between(start, end))
        return [r async for r in s.rows(report, filter=expr, typed=True)]


def _data_filters(server: EmulatorServer, since: int = 0) -> list[str]:
    out = []
    for record in server.emulator.requests[since:]:
        for part in record.query.split("&"):
            if part.startswith(("%24filter=", "$filter=")):
                out.append(unquote(part.partition("=")[2]))
    return out


async def test_first_sync_equals_a_pull_and_the_next_day_reads_only_from_the_watermark(
    world: tuple[EmulatorServer, VirtualClock], tmp_path: Path
) -> None:
    server, clock = world
    opts = _options(server, clock, tmp_path)
    state = await _sync(tmp_path, REPORTS, since="60d", **opts)
    start = dt.datetime.fromtimestamp(clock.time(), dt.UTC) - dt.timedelta(days=60)
    for title, table in TABLES.items():
        mark = dt.datetime.fromisoformat(state[table]["watermark"])
        assert mark == dt.datetime.fromtimestamp(clock.time(), dt.UTC)
        loaded = _table(tmp_path, table)
        expected = await _pulled(server, clock, tmp_path, title, start, mark)
        assert len(expected) > 500
        assert {_normal(r) for r in loaded} == {_normal(r) for r in expected}
        assert len(loaded) == len(expected)

    # A day later: a day of new calls exists, and only watermark - 1 h onwards is asked for.
    first_marks = {t: dt.datetime.fromisoformat(state[t]["watermark"]) for t in TABLES.values()}
    before = len(server.emulator.requests)
    clock.advance(86400)
    state = await _sync(tmp_path, REPORTS, **opts)
    filters = _data_filters(server, before)
    assert len(filters) == 2  # one data request per table: a day is one slice
    lower = str(bm.where(Call_Date_Time=bm.ge(first_marks["agent_detail"] - dt.timedelta(hours=1))))
    assert all(f.startswith(lower + " and Call_Date_Time le ") for f in filters), filters
    for title, table in TABLES.items():
        mark = dt.datetime.fromisoformat(state[table]["watermark"])
        assert mark == first_marks[table] + dt.timedelta(days=1)
        loaded = _table(tmp_path, table)
        expected = await _pulled(server, clock, tmp_path, title, start, mark)
        assert state[table]["last_run"]["rows"] > 0
        assert len(loaded) == len({_normal(r) for r in loaded})  # every call exactly once
        assert {_normal(r) for r in loaded} == {_normal(r) for r in expected}


async def test_a_budget_too_small_loads_the_oldest_part_and_the_next_run_fills_the_rest(
    world: tuple[EmulatorServer, VirtualClock], tmp_path: Path
) -> None:
    server, clock = world
    # Metadata costs 4 (service document, $metadata, two filter schemas); 150 - 4 - 143
    # leaves 3 requests for 9 weekly slices per table.
    opts = _options(server, clock, tmp_path)
    state = await _sync(tmp_path, REPORTS, since="60d", reserve=143, **opts)
    now = dt.datetime.fromtimestamp(clock.time(), dt.UTC)
    start = now - dt.timedelta(days=60)
    first = state["agent_detail"]
    assert first["last_run"] == {
        "rows": first["last_run"]["rows"],
        "requests": 3,
        "complete": False,
        "watermark": first["watermark"],
        "incremental": True,
    }
    mark = dt.datetime.fromisoformat(first["watermark"])
    assert start < mark < now
    assert "search_by_callerid" not in state  # nothing left for it: it did not run
    loaded = _table(tmp_path, "agent_detail")
    prefix = await _pulled(server, clock, tmp_path, "Agent Detail", start, mark)
    assert {_normal(r) for r in loaded} == {_normal(r) for r in prefix}

    # Budget restored: the next run completes the range with no gap and no duplicate.
    await opts["budget"].reset("acme-test")
    state = await _sync(tmp_path, REPORTS, since="60d", **opts)
    for title, table in TABLES.items():
        assert state[table]["last_run"]["complete"] is True
        mark = dt.datetime.fromisoformat(state[table]["watermark"])
        assert mark == now
        loaded = _table(tmp_path, table)
        expected = await _pulled(server, clock, tmp_path, title, start, mark)
        assert len(loaded) == len(expected)
        assert {_normal(r) for r in loaded} == {_normal(r) for r in expected}


async def test_summaries_are_replaced_and_typed_from_the_metadata(
    world: tuple[EmulatorServer, VirtualClock], tmp_path: Path
) -> None:
    server, clock = world
    opts = _options(server, clock, tmp_path)
    for _ in range(2):
        state = await _sync(tmp_path, ["Service Summary", "Agent Detail"], since="3d", **opts)
    assert state["service_summary"]["last_run"]["incremental"] is False
    rows = _table(tmp_path, "service_summary")
    assert len(rows) == state["service_summary"]["last_run"]["rows"] > 0  # replaced, not doubled
    assert all(isinstance(r["calls_offered"], int) for r in rows)
    assert all(isinstance(r["service_level"], float) for r in rows)
    detail = _table(tmp_path, "agent_detail")
    assert all(isinstance(r["call_date_time"], dt.datetime) for r in detail)
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    try:
        sql = f"SELECT count(*), count(DISTINCT {ROW_KEY}) FROM calls.agent_detail"  # noqa: S608
        keys = con.execute(sql)
        total, distinct = keys.fetchone() or (0, 0)
    finally:
        con.close()
    assert total == distinct == len(detail)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"overlap": "0h"}, "more than zero"),
        ({"overlap": dt.timedelta(hours=-1)}, "more than zero"),
        ({"since": "last tuesday"}, "cannot read the time"),
        ({"reserve": -1}, "reserve"),
    ],
)
async def test_bad_options_are_refused_before_any_request(
    world: tuple[EmulatorServer, VirtualClock], tmp_path: Path, kwargs: Any, match: str
) -> None:
    server, clock = world
    with pytest.raises(bm.ConfigurationError, match=match):
        await _sync(tmp_path, REPORTS, **_options(server, clock, tmp_path), **kwargs)
    assert server.emulator.requests == []


async def test_unknown_report_and_incremental_summary_are_refused_before_data(
    world: tuple[EmulatorServer, VirtualClock], tmp_path: Path
) -> None:
    server, clock = world
    async with bm.Session(**_options(server, clock, tmp_path)) as s:
        with pytest.raises(bm.NotFound):
            await plan_sync(s, ["No Such Report"])
        with pytest.raises(bm.ConfigurationError, match="no date-time column"):
            await plan_sync(s, ["Service Summary"], incremental=True)
        plan = await plan_sync(s, REPORTS, since="60d")
    assert [t.requests for t in plan.tables] == [9, 9]
    assert plan.complete
    data = [
        r for r in server.emulator.requests if "$metadata" not in r.target and r.path.count("-")
    ]
    assert data == []  # metadata only


async def test_importing_the_source_switches_dlt_telemetry_off() -> None:
    code = (
        "import brightmetrics_async.dlt\n"
        "from dlt.common.configuration import resolve_configuration\n"
        "from dlt.common.configuration.specs import RuntimeConfiguration\n"
        "print(resolve_configuration(RuntimeConfiguration()).dlthub_telemetry)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "RUNTIME__DLTHUB_TELEMETRY"}
    done = await anyio.run_process([sys.executable, "-c", code], env=env)
    assert done.stdout.decode().strip() == "False"
    env["RUNTIME__DLTHUB_TELEMETRY"] = "true"  # the user's choice is kept
    done = await anyio.run_process([sys.executable, "-c", code], env=env)
    assert done.stdout.decode().strip() == "True"

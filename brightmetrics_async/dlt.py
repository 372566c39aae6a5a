"""A dlt source: call-centre reports into DuckDB, Postgres, BigQuery... kept fresh incrementally.

Needs the ``dlt`` extra (``pip install 'brightmetrics-async[dlt]'``)::

    import dlt
    from brightmetrics_async.dlt import brightmetrics_source

    pipeline = dlt.pipeline("brightmetrics", destination="duckdb", dataset_name="calls")
    pipeline.run(brightmetrics_source(["Agent Detail", "Search by CallerID"], since="30d"))

One resource per report. A detail report with a date-time column is loaded incrementally on
it: each run asks for ``column ge watermark - overlap and column le now`` and merges on a hash
of the row (:data:`ROW_KEY`), so the overlap never duplicates; other reports are replaced.
Column types come from the root ``$metadata``. Before loading, the run is planned against the
budget left (keeping ``reserve`` requests): a range that does not fit loads its oldest part and
stores the watermark at its end; the next run continues from there. The watermarks live in
dlt's source state, committed with the data in the same load package, so a run killed at any
point loads nothing twice and misses nothing when it is run again.

Importing this module switches dlt's anonymous telemetry off unless
``RUNTIME__DLTHUB_TELEMETRY`` is already set.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

import anyio
import dlt
from dlt.extract import DltResource, DltSource

import brightmetrics_async as bm

from ._dates import parse_duration, parse_when
from ._sync_gather import make_plan
from ._sync_load import ROW_KEY, Connect, Ledger, table_pages
from ._sync_plan import (
    DEFAULT_OVERLAP,
    DEFAULT_RESERVE,
    SyncPlan,
    TablePlan,
    check_options,
)

__all__ = ["ROW_KEY", "SOURCE_NAME", "SyncPlan", "TablePlan", "brightmetrics_source", "plan_sync"]

#: The dlt source name: its state section holds the watermarks (``tables``).
SOURCE_NAME = "brightmetrics"

_DLT_TYPES = {
    "Edm.DateTimeOffset": "timestamp",
    "Edm.Date": "date",
    "Edm.Double": "double",
    "Edm.Single": "double",
    "Edm.Decimal": "decimal",
    "Edm.Int16": "bigint",
    "Edm.Int32": "bigint",
    "Edm.Int64": "bigint",
    "Edm.Byte": "bigint",
    "Edm.SByte": "bigint",
    "Edm.Boolean": "bool",
    "Edm.String": "text",
}

ReportsArg = Sequence[bm.Report | str] | bm.Report | str | None


def _overlap(value: dt.timedelta | str) -> dt.timedelta:
    return parse_duration(value) if isinstance(value, str) else value


def _when(
    value: str | dt.datetime | dt.date | None, clock: bm.Clock | None, *, end: bool = False
) -> dt.datetime | None:
    if value is None:
        return None
    now = (clock or bm.SystemClock()).time()
    return parse_when(value, now=now, end=end)


def _tables_state(pipeline: Any) -> Mapping[str, Any]:
    if pipeline is None:
        return {}
    state = pipeline.state.get("sources", {}).get(SOURCE_NAME, {})
    tables = state.get("tables", {})
    return tables if isinstance(tables, Mapping) else {}


async def plan_sync(
    session: bm.Session,
    reports: ReportsArg = None,
    *,
    pipeline: Any = None,
    since: str | dt.datetime | dt.date | None = None,
    until: str | dt.datetime | dt.date | None = None,
    overlap: dt.timedelta | str = DEFAULT_OVERLAP,
    reserve: int = DEFAULT_RESERVE,
    restart: bool = False,
    incremental: bool | None = None,
) -> SyncPlan:
    """What a sync would load and spend (the dry run), reading the watermarks of ``pipeline``.

    Spends only metadata requests: the service document, the root ``$metadata`` and the
    filter metadata of the reports with a date-time column (none of them twice per session).
    ``reports=None`` means every saved report. Raises :class:`ConfigurationError` for bad
    options (before any request), :class:`NotFound` for an unknown report.
    """
    span = _overlap(overlap)
    start = _when(since, session.clock)
    stop = _when(until, session.clock, end=True)
    check_options(overlap=span, reserve=reserve, since=start, until=stop)
    return await make_plan(
        session,
        _refs(reports),
        tables_state=_tables_state(pipeline),
        since=start,
        until=stop,
        overlap=span,
        reserve=reserve,
        restart=restart,
        incremental=incremental,
    )


def _columns(plan: TablePlan) -> dict[str, dict[str, Any]]:
    columns: dict[str, dict[str, Any]] = {
        name: {"data_type": _DLT_TYPES.get(edm, "text"), "nullable": True}
        for name, edm in plan.spec.columns.items()
    }
    if plan.incremental:
        columns[ROW_KEY] = {"data_type": "text", "nullable": False}
    return columns


def _resource(plan: TablePlan, connect: Connect, ledger: Ledger, index: int) -> DltResource:
    def state() -> dict[str, Any]:
        tables: dict[str, Any] = dlt.current.source_state().setdefault("tables", {})
        table: dict[str, Any] = tables.setdefault(plan.table, {})
        return table

    resource: DltResource = dlt.resource(  # type: ignore[call-overload]
        table_pages(plan, connect, state, ledger, index=index),
        name=plan.table,
        write_disposition="merge" if plan.incremental else "replace",
        primary_key=ROW_KEY if plan.incremental else (),
        columns=_columns(plan),
    )
    return resource


def _refs(reports: ReportsArg) -> list[bm.Report | str] | None:
    if reports is None:
        return None
    return [reports] if isinstance(reports, str | bm.Report) else list(reports)


def _plan_now(
    options: Mapping[str, Any], reports: ReportsArg, tables: Mapping[str, Any], **kwargs: Any
) -> SyncPlan:
    async def main() -> SyncPlan:
        async with bm.Session(**options) as session:
            return await make_plan(session, _refs(reports), tables_state=tables, **kwargs)

    # A thread of its own: the caller may be inside an event loop (a notebook, an app).
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(anyio.run, main).result()


def brightmetrics_source(
    reports: ReportsArg = None,
    *,
    auth: bm.BasicAuth | bm.ApiKey | None = None,
    base_url: str | None = None,
    account: str | None = None,
    budget: bm.Budget | None = None,
    max_wait: float | None = None,
    clock: bm.Clock | None = None,
    timeouts: bm.Timeouts | None = None,
    retry: bm.RetryPolicy | None = None,
    timezone: str | None = None,
    since: str | dt.datetime | dt.date | None = None,
    until: str | dt.datetime | dt.date | None = None,
    overlap: dt.timedelta | str = DEFAULT_OVERLAP,
    reserve: int = DEFAULT_RESERVE,
    restart: bool = False,
    incremental: bool | None = None,
    plan: SyncPlan | None = None,
    progress: Callable[[bm.PullEvent], None] | None = None,
) -> DltSource:
    """A dlt source with one resource per report (``None``: every saved report).

    ``reports`` are titles, GUIDs or :class:`Report` objects. The connection options are
    :class:`Session`'s. ``since`` (a date, a date-time, ``30d``, ``yesterday``...) is where a
    table with no watermark starts (default: 30 days ago); with ``restart=True`` every table
    reloads from it. ``until`` caps a run's end (default: now; a date means its end).
    ``overlap`` (``"1h"`` or a ``timedelta``) is read again on every run for late calls.
    ``reserve`` budget tokens are left unspent. ``incremental=True`` refuses
    reports without a date-time column, False replaces every table. ``plan`` (from
    :func:`plan_sync`) skips planning here. ``progress`` receives a :class:`PullEvent` per
    table started, page read and table done, from dlt's extraction thread.

    The plan is made when the source is created (metadata requests only; the watermarks are
    read from the active pipeline's state), so create the pipeline first. Raises
    :class:`ConfigurationError` for bad options before any request, :class:`NotFound` for an
    unknown report.
    """
    options: dict[str, Any] = {
        "auth": auth,
        "base_url": base_url,
        "account": account,
        "budget": budget,
        "clock": clock,
        "timeouts": timeouts,
        "retry": retry,
    }
    if max_wait is not None:
        options["max_wait"] = max_wait
    span = _overlap(overlap)
    start = _when(since, clock)
    stop = _when(until, clock, end=True)
    check_options(overlap=span, reserve=reserve, since=start, until=stop)
    connect = Connect(options, timezone, progress)

    @dlt.source(name=SOURCE_NAME, max_table_nesting=0)
    def source() -> list[DltResource]:
        chosen = plan
        if chosen is None:
            tables = dlt.current.source_state().get("tables", {})
            chosen = _plan_now(
                options,
                reports,
                tables,
                since=start,
                until=stop,
                overlap=span,
                reserve=reserve,
                restart=restart,
                incremental=incremental,
            )
        ledger = Ledger({t.table: t.requests for t in chosen.tables})
        # A table with nothing to request gets no resource: an empty "replace" resource
        # would empty its table.
        return [_resource(t, connect, ledger, i) for i, t in enumerate(chosen.tables) if t.requests]

    result: DltSource = source()
    return result

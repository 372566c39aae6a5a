"""Gathering the facts a sync plan needs, through a :class:`Session` (public API only).

Which reports, their column types (the root ``$metadata``, one request), their date-time
column (a ``Edm.DateTimeOffset`` column that is also a date-time filter property: the filter
metadata, one request per report that has such a column) and the budget left. Everything
here is checked before any data request: an unknown report raises :class:`NotFound`, a
report asked for incrementally without a date-time column :class:`ConfigurationError`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import brightmetrics_async as bm

from ._sync_load import read_state
from ._sync_plan import (
    DEFAULT_OVERLAP,
    DEFAULT_RESERVE,
    SyncPlan,
    TableSpec,
    check_options,
    plan_run,
    table_name,
)

__all__ = ["gather_specs", "make_plan"]

_DATETIME = "Edm.DateTimeOffset"


async def _full_report(session: bm.Session, ref: bm.Report | str) -> bm.Report:
    report = await session.report(ref)
    if report.title and report.name:
        return report
    for listed in await session.reports():  # a bare GUID: its title names the table
        if listed.url.lower() == report.url.lower():
            return listed
    raise bm.NotFound(f"no saved report {ref!r} in the service document", status=404)


async def gather_specs(
    session: bm.Session,
    reports: Sequence[bm.Report | str] | None,
    *,
    incremental: bool | None = None,
) -> list[TableSpec]:
    """One :class:`TableSpec` per report (``None``: every saved report), in order.

    ``incremental``: None loads incrementally where a report allows it and replaces the
    others; True requires a date-time column (else :class:`ConfigurationError`); False
    replaces every table.
    """
    if reports is None:
        chosen = await session.reports()
    else:
        if isinstance(reports, str | bm.Report):
            reports = [reports]
        chosen = [await _full_report(session, ref) for ref in reports]
    specs: list[TableSpec] = []
    seen: set[str] = set()
    for report in chosen:
        if any(report.url.lower() == s.report.url.lower() for s in specs):
            continue  # named twice
        columns = dict(await session.columns(report))
        date_column: str | None = None
        if incremental is not False and _DATETIME in columns.values():
            schema = await session.filters(report)
            date_column = next(
                (c for c, t in columns.items() if t == _DATETIME and schema.get(c) == _DATETIME),
                None,
            )
        if incremental and date_column is None:
            raise bm.ConfigurationError(
                f"{report.title!r} has no date-time column to load incrementally"
                " (a summary report is replaced on every run instead)"
            )
        name = table_name(report.title)
        if name in seen:  # two saved reports with one title
            name = f"{name}_{report.url.replace('-', '')[:8].lower()}"
        seen.add(name)
        specs.append(TableSpec(name, report, columns, date_column))
    return specs


async def make_plan(
    session: bm.Session,
    reports: Sequence[bm.Report | str] | None,
    *,
    tables_state: Mapping[str, Any],
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    overlap: dt.timedelta = DEFAULT_OVERLAP,
    reserve: int = DEFAULT_RESERVE,
    restart: bool = False,
    incremental: bool | None = None,
) -> SyncPlan:
    """Gather the specs and plan the run against the budget left now.

    The one place a run's cost is decided, so a better estimator (a dry run that knows page
    counts) replaces :func:`plan_run`'s estimate here.
    """
    check_options(overlap=overlap, reserve=reserve, since=since, until=until)  # no request yet
    specs = await gather_specs(session, reports, incremental=incremental)
    snapshot = await session.budget_status()
    now = dt.datetime.fromtimestamp(session.clock.time(), dt.UTC)
    states = {spec.table: read_state(tables_state.get(spec.table)) for spec in specs}
    return plan_run(
        specs,
        states=states,
        now=now,
        remaining=snapshot.remaining,
        reserve=reserve,
        overlap=overlap,
        since=since,
        until=until,
        restart=restart,
    )

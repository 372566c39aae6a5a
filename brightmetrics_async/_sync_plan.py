"""Planning a warehouse sync: which time range each table loads, and what it costs.

Pure and synchronous: the caller gathers the facts (the reports and their column types, the
stored watermarks, what is left of the budget, the time) and :func:`plan_run` decides.

Theory of operation
-------------------
A table is *incremental* when its report has a date-time column that is also a date-time
filter property: each run asks for ``column ge start and column le end`` where ``end`` is now
and ``start`` is the stored watermark minus the overlap (late calls arrive in that hour), or,
for a table with no watermark (or ``restart``), the ``since`` point (``until`` caps ``end``;
a table already past it has nothing to load). Other tables (summaries)
are *replaced* by one request for the report's default range.

Cost: a detail report comes in time slices, one request each. The slice length is not
documented, so a table assumes :data:`DEFAULT_SECONDS_PER_PAGE` until a run with several
pages has measured it (kept with the watermark). The counts go through the library's
:func:`estimate_requests` (so a later, better estimator slots in here). Tables are funded in
order from what the budget has left above ``reserve``; an incremental table that does not fit
loads the oldest part that does (``end`` moves back, ``complete`` is false) and the next run
continues from there. A table that gets nothing is skipped this run.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence

import attrs

import brightmetrics_async as bm  # the public API only: this module outlives core rewrites

__all__ = [
    "DEFAULT_HISTORY",
    "DEFAULT_OVERLAP",
    "DEFAULT_RESERVE",
    "DEFAULT_SECONDS_PER_PAGE",
    "SyncPlan",
    "TablePlan",
    "TableSpec",
    "TableState",
    "check_options",
    "plan_run",
    "table_name",
]

#: Late calls arrive within this much of the watermark; each run reads it again.
DEFAULT_OVERLAP = dt.timedelta(hours=1)
#: Budget tokens a sync leaves unspent unless told otherwise.
DEFAULT_RESERVE = 10
#: Where a table with no watermark and no ``since`` starts: this long before now.
DEFAULT_HISTORY = dt.timedelta(days=30)
#: The time slice a detail report's page is assumed to cover until one is measured.
DEFAULT_SECONDS_PER_PAGE = 7 * 86400.0


def table_name(title: str) -> str:
    """The table a report loads into: its title in snake case (``agent_detail``)."""
    name = re.sub(r"[^0-9A-Za-z]+", "_", title).strip("_").lower()
    return name or "report"


@attrs.frozen
class TableSpec:
    """One report to sync: its table, its columns and its incremental date column (or None)."""

    table: str
    report: bm.Report
    columns: Mapping[str, str] = attrs.field(hash=False)
    date_column: str | None = None


@attrs.frozen
class TableState:
    """What the destination remembers of a table: its watermark and measured page length."""

    watermark: dt.datetime | None = None
    seconds_per_page: float | None = None


@attrs.frozen
class TablePlan:
    """What one table does this run.

    ``start``/``end`` bound the request (None for a replaced table); ``requests`` is the
    planned cost; ``complete`` says the run reaches now; ``skipped`` that the budget gave it
    nothing. ``watermark`` is the stored one before the run. When the pages outnumber the
    plan (the slices are shorter than assumed), loading goes on while the budget keeps more
    than ``floor`` (the reserve) plus what the other tables' plans still need.
    """

    spec: TableSpec
    start: dt.datetime | None
    end: dt.datetime | None
    requests: int
    complete: bool
    watermark: dt.datetime | None = None
    seconds_per_page: float = DEFAULT_SECONDS_PER_PAGE
    floor: int = 0

    @property
    def table(self) -> str:
        """The table name."""
        return self.spec.table

    @property
    def incremental(self) -> bool:
        """True for a table loaded on its date column (merged), False for a replaced one."""
        return self.spec.date_column is not None

    @property
    def skipped(self) -> bool:
        """True when the budget left nothing for this table."""
        return self.requests == 0 and not self.complete


@attrs.frozen
class SyncPlan:
    """A run's plan: the tables, the budget it was fitted to, and the estimate behind it."""

    tables: tuple[TablePlan, ...]
    now: dt.datetime
    remaining: int
    reserve: int
    estimate: bm.Estimate

    @property
    def requests(self) -> int:
        """Data requests planned for the whole run."""
        return sum(t.requests for t in self.tables)

    @property
    def complete(self) -> bool:
        """True when every table reaches now."""
        return all(t.complete for t in self.tables)

    def message(self) -> str:
        """One sentence on whether the run fits the budget."""
        if self.complete:
            return (
                f"the sync fits the budget: {self.requests} requests planned, "
                f"{self.remaining} left, reserve {self.reserve}"
            )
        short = [t.table for t in self.tables if not t.complete]
        return (
            f"the budget ({self.remaining} left, reserve {self.reserve}) does not cover the "
            f"whole range of {', '.join(short)}: loading the oldest part that fits; run again "
            "when the budget has recovered to continue from there"
        )


def check_options(
    *,
    overlap: dt.timedelta,
    reserve: int,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> None:
    """Refuse bad options before any request.

    Raises :class:`ConfigurationError` for an overlap of zero or less, a negative reserve or
    a naive ``since`` or ``until``, or ``since`` after ``until``; ``TypeError`` for an overlap
    that is not a ``timedelta``.
    """
    if not isinstance(overlap, dt.timedelta):
        raise TypeError(f"overlap is a datetime.timedelta, not {type(overlap).__name__}")
    if overlap <= dt.timedelta(0):
        raise bm.ConfigurationError(f"the overlap must be more than zero, not {overlap}")
    if isinstance(reserve, bool) or not isinstance(reserve, int) or reserve < 0:
        raise bm.ConfigurationError("the reserve must be a whole number, zero or more")
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.utcoffset() is None:
            raise bm.ConfigurationError(f"{name} must be an aware datetime")
    if since is not None and until is not None and since > until:
        raise bm.ConfigurationError(f"since ({since.isoformat()}) is after until")


def _pages(start: dt.datetime, end: dt.datetime, seconds_per_page: float) -> int:
    span = max((end - start).total_seconds(), 0.0)
    return max(1, math.ceil(span / seconds_per_page))


def plan_run(
    specs: Sequence[TableSpec],
    *,
    states: Mapping[str, TableState],
    now: dt.datetime,
    remaining: int,
    reserve: int = DEFAULT_RESERVE,
    overlap: dt.timedelta = DEFAULT_OVERLAP,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    restart: bool = False,
) -> SyncPlan:
    """Plan a run (see the module docstring).

    Raises :class:`ConfigurationError` for an overlap of zero or less, a negative reserve,
    a naive ``now``, ``since`` or ``until``, a ``since`` after ``now`` or after ``until``.
    """
    check_options(overlap=overlap, reserve=reserve, since=since, until=until)
    if now.utcoffset() is None:
        raise bm.ConfigurationError("now must be an aware datetime")
    if since is not None and since > now:
        raise bm.ConfigurationError(f"since ({since.isoformat()}) is in the future")
    wanted: list[tuple[TableSpec, dt.datetime | None, dt.datetime | None, int, float]] = []
    for spec in specs:
        state = states.get(spec.table, TableState())
        per_page = state.seconds_per_page or DEFAULT_SECONDS_PER_PAGE
        if spec.date_column is None:
            wanted.append((spec, None, None, 1, per_page))
            continue
        start: dt.datetime
        if state.watermark is not None and not restart:
            start = state.watermark - overlap
        else:
            start = since if since is not None else now - DEFAULT_HISTORY
        end = min(now, until) if until is not None else now
        pages = _pages(start, end, per_page) if end > start else 0  # 0: nothing new before until
        wanted.append((spec, start, end, pages, per_page))
    estimate = bm.estimate_requests(
        [bm.PullItem(spec.report) for spec, *_ in wanted],
        policy=bm.PollPolicy(),
        known_pages={spec.report.url.lower(): max(1, pages) for spec, _, _, pages, _ in wanted},
        cached_metadata=True,  # the metadata was read while gathering the specs
    )
    left = max(0, remaining - reserve)
    pages_of = {spec.table: pages for spec, _, _, pages, _ in wanted}
    plans = []
    for (spec, low, high, _, per_page), cost in zip(wanted, estimate.items, strict=True):
        mark = states.get(spec.table, TableState()).watermark
        need = cost.requests if pages_of[spec.table] else 0
        if need <= left:
            plans.append(TablePlan(spec, low, high, need, True, mark, per_page))
            left -= need
        elif low is not None and left > 0:
            # The oldest part that fits: ``left`` slices from the start.
            cut = low + dt.timedelta(seconds=per_page * left)
            plans.append(TablePlan(spec, low, cut, left, False, mark, per_page))
            left = 0
        else:
            plans.append(TablePlan(spec, low, low, 0, False, mark, per_page))
    plans = [attrs.evolve(p, floor=reserve) for p in plans]
    return SyncPlan(tuple(plans), now, remaining, reserve, estimate)

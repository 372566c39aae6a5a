"""Loading one planned table: an async generator of typed pages, and what it leaves in state.

Uses the public API only. Rows are typed from the column types the plan read from the root
``$metadata`` (so the loading session needs no metadata request of its own), and each row gets
:data:`ROW_KEY`, a stable hash of its values: the rows have no natural key in the metadata, and
the hash is what the destination merges on, so the overlap never duplicates a row.

State, per table (a plain JSON-able dict the caller persists with the data):
``watermark`` (ISO date-time: everything up to it is loaded), ``seconds_per_page`` (measured)
and ``last_run`` (rows, requests, complete, watermark of the latest run). It is written when the
table's pages are done, so a run killed half way stores nothing and the next one starts again
from the old watermark.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import attrs

import brightmetrics_async as bm

from ._sync_plan import TablePlan, TableState

__all__ = ["ROW_KEY", "Connect", "Ledger", "read_state", "row_key", "table_pages", "typer"]

#: The merge key column: a hash of the row's values.
ROW_KEY = "_bm_row_key"

_FLOATS = frozenset({"Edm.Double", "Edm.Single", "Edm.Decimal"})
_INTS = frozenset({"Edm.Int16", "Edm.Int32", "Edm.Int64", "Edm.Byte", "Edm.SByte"})


@attrs.frozen
class Connect:
    """How to open a :class:`Session` (its keyword arguments); secrets never in ``repr``.

    ``progress`` receives a :class:`PullEvent` per table started, page read and table done
    (called from the thread dlt runs the resources in).
    """

    options: Mapping[str, Any] = attrs.field(factory=dict, repr=False, hash=False)
    timezone: str | None = None
    progress: Callable[[bm.PullEvent], None] | None = attrs.field(default=None, hash=False)

    def tell(self, kind: str, index: int, plan: TablePlan, *, pages: int, rows: int) -> None:
        """Send one progress event, if anyone listens."""
        if self.progress is not None:
            item = bm.PullItem(plan.spec.report, label=plan.table)
            self.progress(bm.PullEvent(kind, index, item, pages=pages, rows=rows))  # type: ignore[arg-type]

    def session(self) -> bm.Session:
        """A new session with these options (no I/O here)."""
        return bm.Session(**self.options)


def _convert(edm: str) -> Callable[[Any], Any] | None:
    if edm == "Edm.DateTimeOffset":
        return lambda v: dt.datetime.fromisoformat(v) if isinstance(v, str) else v
    if edm == "Edm.Date":
        return lambda v: dt.date.fromisoformat(v) if isinstance(v, str) else v
    if edm in _FLOATS:
        return lambda v: float(v) if isinstance(v, int | float | str) else v
    if edm in _INTS:
        return lambda v: int(v) if isinstance(v, int | float | str) else v
    return None


def typer(columns: Mapping[str, str]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A function typing a JSON row by the Edm types in ``columns`` (unknown columns kept)."""
    converters = {name: f for name, edm in columns.items() if (f := _convert(edm)) is not None}

    def convert(row: dict[str, Any]) -> dict[str, Any]:
        out = dict(row)
        for name, func in converters.items():
            value = out.get(name)
            if value is not None:
                out[name] = func(value)
        return out

    return convert


def _canonical(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat() if value.utcoffset() is not None else value
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def row_key(row: Mapping[str, Any]) -> str:
    """A stable hash of a typed row: the same call gives the same key in every run and zone."""
    canonical = {k: _canonical(v) for k, v in row.items() if k != ROW_KEY}
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def read_state(raw: Mapping[str, Any] | None) -> TableState:
    """The planner's view of a table's stored state (empty or unreadable: none)."""
    if not raw:
        return TableState()
    mark = raw.get("watermark")
    per_page = raw.get("seconds_per_page")
    try:
        when = dt.datetime.fromisoformat(mark) if isinstance(mark, str) else None
    except ValueError:
        when = None
    return TableState(when, float(per_page) if isinstance(per_page, int | float) else None)


def _filter(plan: TablePlan) -> bm.FilterExpr | None:
    column = plan.spec.date_column
    if column is None or plan.start is None or plan.end is None:
        return None
    return bm.where(**{column: bm.between(plan.start, plan.end)})


@attrs.define
class Ledger:
    """The pages each table of a run planned and has spent (shared by the run's resources)."""

    planned: dict[str, int]
    spent: dict[str, int] = attrs.field(factory=dict)

    def owed(self, table: str) -> int:
        """Planned requests the other tables have not spent yet."""
        return sum(max(0, n - self.spent.get(t, 0)) for t, n in self.planned.items() if t != table)


async def table_pages(
    plan: TablePlan,
    connect: Connect,
    state: Callable[[], dict[str, Any]],
    ledger: Ledger,
    *,
    index: int = 0,
) -> AsyncIterator[list[dict[str, Any]]]:
    """Yield the table's pages as typed rows; write its state when done (module docstring).

    Past the planned requests it goes on while the budget keeps more than the plan's
    ``floor`` plus what the other tables still need; it stops there, or when the budget
    refuses a request, with the watermark at the last row loaded (pages come in time order).
    Other errors propagate (the run then commits nothing).
    """
    rows = pages = 0
    last: dt.datetime | None = None
    complete = True
    connect.tell("started", index, plan, pages=0, rows=0)
    if plan.skipped:
        complete = False
    else:
        convert = typer(plan.spec.columns)
        column = plan.spec.date_column
        async with connect.session() as session:
            iterator = session.pages(
                plan.spec.report, filter=_filter(plan), timezone=connect.timezone, check=False
            )
            try:
                async with iterator:
                    async for page in iterator:
                        pages += 1
                        ledger.spent[plan.table] = pages
                        typed = [convert(r) for r in page.rows]
                        for row in typed:
                            row[ROW_KEY] = row_key(row)
                            when = row.get(column) if column else None
                            if isinstance(when, dt.datetime) and (last is None or when > last):
                                last = when
                        rows += len(typed)
                        connect.tell("page", index, plan, pages=pages, rows=rows)
                        if typed:
                            yield typed
                        if page.next_link is not None and pages >= plan.requests:
                            left = (await session.budget_status()).remaining
                            if left <= plan.floor + ledger.owed(plan.table):
                                complete = False  # the budget's share is spent: stop here
                                break
            except (bm.BudgetExhausted, bm.RateLimited):
                complete = False
    _record(plan, state(), rows=rows, pages=pages, last=last, complete=complete)
    connect.tell("done", index, plan, pages=pages, rows=rows)


def _record(
    plan: TablePlan,
    table: dict[str, Any],
    *,
    rows: int,
    pages: int,
    last: dt.datetime | None,
    complete: bool,
) -> None:
    mark = plan.watermark
    if plan.incremental and pages:
        # All pages of [start, end] loaded: everything up to end is there. Stopped early:
        # everything up to the last row loaded (pages come in time order).
        reached = plan.end if complete else last
        if reached is not None and (mark is None or reached > mark):
            mark = reached
        span = (plan.end - plan.start).total_seconds() if plan.start and plan.end else 0.0
        if complete and pages >= 2 and span > 0:
            table["seconds_per_page"] = span / pages
    if mark is not None:
        table["watermark"] = mark.astimezone(dt.UTC).isoformat()
    table["last_run"] = {
        "rows": rows,
        "requests": pages,
        "complete": complete and plan.complete,
        "watermark": table.get("watermark"),
        "incremental": plan.incremental,
    }

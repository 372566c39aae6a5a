"""``--since`` / ``--until``: the dates people type, as ``ge`` / ``le`` on a report's date column.

The column is found from the report's filter metadata (its ``Edm.DateTimeOffset`` property;
one request per report, once per session). Unreadable text is refused before any request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import attrs
import click

import brightmetrics_async as bm
from brightmetrics_async._dates import parse_when

__all__ = ["Period", "apply_period", "since_options"]

F = TypeVar("F", bound=Callable[..., Any])

_HELP = "a date (2026-11-01), a date-time, 7d, 24h, yesterday or today; UTC unless --timezone"


def since_options(func: F) -> F:
    """Add ``--since WHEN`` and ``--until WHEN``."""
    func = click.option("--until", metavar="WHEN", help=f"Up to: {_HELP}.")(func)
    return click.option("--since", metavar="WHEN", help=f"From: {_HELP}.")(func)


@attrs.frozen
class Period:
    """The bounds read from ``--since`` / ``--until`` (either may be None)."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None

    @classmethod
    def read(
        cls, since: str | None, until: str | None, timezone: str | None, *, now: float
    ) -> Period:
        """Read the options. Raises ConfigurationError for text that cannot be read."""
        low = parse_when(since, now=now, tz=timezone) if since else None
        high = parse_when(until, now=now, tz=timezone, end=True) if until else None
        if low is not None and high is not None and low > high:
            raise bm.ConfigurationError("--since is after --until")
        return cls(low, high)

    def on(self, column: str) -> bm.FilterExpr | None:
        """The bounds as a filter on ``column`` (None when no bound was given)."""
        if self.since is not None and self.until is not None:
            return bm.where(**{column: bm.between(self.since, self.until)})
        if self.since is not None:
            return bm.where(**{column: bm.ge(self.since)})
        if self.until is not None:
            return bm.where(**{column: bm.le(self.until)})
        return None


async def apply_period(session: bm.Session, targets: Sequence[Any], period: Period) -> list[Any]:
    """``targets`` (attrs objects with ``report`` and ``filter``) with the period ANDed on.

    Raises ConfigurationError for a report without a date-time filter.
    """
    if period.since is None and period.until is None:
        return list(targets)
    out = []
    for target in targets:
        schema = await session.filters(target.report)
        column = next((p for p, t in schema.items() if t == "Edm.DateTimeOffset"), None)
        if column is None:
            raise bm.ConfigurationError(
                f"{target.report!r} has no date-time filter for --since/--until"
            )
        expr = period.on(column)
        text = str(expr) if target.filter is None else f"{target.filter} and {expr}"
        out.append(attrs.evolve(target, filter=text))
    return out

"""The OData 4.0 query options the vendor's document does not mention: ``$top``, ``$skip``,
``$select``, ``$count`` and ``$orderby``.

Theory of operation
-------------------
Whether the real service honours these is unknown (its document is silent, and generic clients
such as Power BI send some of them), so the emulator answers them as OData 4.0 says, on JSON
only, unless ``EmulatorConfig.strict_query_options`` refuses them.

* ``$select=A,B`` keeps those columns, in the report's order (``*``: all); the context URL
  becomes ``$metadata#EntitySet(A,B)``.
* ``$count=true`` adds ``@odata.count``: every row of the request's range that matches
  ``$filter``, whatever ``$top`` and ``$skip`` say, on every page.
* ``$orderby`` is accepted on the report's date column in ascending order, the order rows come
  in anyway; anything else is refused (400) rather than silently ignored.
* ``$top`` / ``$skip`` make the client page by rows: the answer is rows ``[skip, skip + top)``
  of the whole range, in one response, not cut into the vendor's time slices. A client that
  mixes its own ``$skip`` with time slices (sqlalchemy-odata does) would otherwise stop at the
  first short slice. When ``page_max_rows`` is set, a longer window is cut there, and the
  ``@odata.nextLink`` is the same request with ``$skip`` moved on and ``$top`` reduced.
* Without ``$top`` / ``$skip`` the vendor's time-slice paging applies, and ``$select`` and
  ``$count`` are remembered with the paging context, so the ``$skiptoken`` link keeps them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import attrs

from ._reports import Report, Row

__all__ = ["OptionError", "QueryOptions", "parse_options"]

_INTEGER = re.compile(r"[0-9]{1,18}")
_ORDERBY = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)(?:\s+(asc|desc))?\s*", re.IGNORECASE)


class OptionError(Exception):
    """A standard query option the emulator cannot answer (answer 400)."""


@attrs.frozen
class QueryOptions:
    """The standard options of one request; the defaults change nothing."""

    top: int | None = None
    skip: int | None = None
    select: tuple[str, ...] | None = None
    count: bool = False

    @property
    def by_rows(self) -> bool:
        """Whether the client pages by rows (``$top`` / ``$skip``) instead of time slices."""
        return self.top is not None or self.skip is not None

    def project(self, rows: Sequence[Row]) -> list[Row]:
        """``rows`` with only the selected columns."""
        if self.select is None:
            return list(rows)
        return [{name: row[name] for name in self.select} for row in rows]

    def window(self, rows: Sequence[Row]) -> list[Row]:
        """The ``[skip, skip + top)`` window of ``rows``."""
        start = self.skip or 0
        stop = None if self.top is None else start + self.top
        return list(rows[start:stop])

    def context_suffix(self) -> str:
        """``(A,B)`` after the entity set in ``@odata.context`` when columns were selected."""
        return "" if self.select is None else "(" + ",".join(self.select) + ")"

    def next_query(self, params: Mapping[str, str], served: int) -> str:
        """The query string of the next row window after ``served`` more rows."""
        moved = dict(params)
        moved["$skip"] = str((self.skip or 0) + served)
        if self.top is not None:
            moved["$top"] = str(self.top - served)
        return "&".join(f"{quote(k, safe='$')}={quote(v, safe='')}" for k, v in moved.items())

    def annotate(self, body: dict[str, Any], total: int) -> None:
        """Add ``@odata.count`` to a response body when it was asked for."""
        if self.count:
            body["@odata.count"] = total


def parse_options(params: Mapping[str, str], report: Report) -> QueryOptions:
    """The standard options in ``params``, checked against ``report``'s columns.

    Raises OptionError for a malformed value, an unknown column, or an order the emulator
    cannot give.
    """
    columns = [c.name for c in report.columns]
    top = _integer(params, "$top")
    skip = _integer(params, "$skip")
    select = None
    if "$select" in params:
        names = [n.strip() for n in params["$select"].split(",")]
        if "*" in names:
            select = None
        else:
            unknown = [n for n in names if n not in columns]
            if unknown or not names:
                raise OptionError(
                    f"$select names no column of {report.title!r}: {', '.join(unknown)!r}"
                    f" (columns: {', '.join(columns)})"
                )
            select = tuple(c for c in columns if c in names)
    count = False
    if "$count" in params:
        value = params["$count"].strip().lower()
        if value not in ("true", "false"):
            raise OptionError(f"$count must be true or false, not {params['$count']!r}")
        count = value == "true"
    if "$orderby" in params:
        _check_order(params["$orderby"], report, columns)
    return QueryOptions(top=top, skip=skip, select=select, count=count)


def _integer(params: Mapping[str, str], name: str) -> int | None:
    if name not in params:
        return None
    value = params[name]
    if not _INTEGER.fullmatch(value):
        raise OptionError(f"{name} must be a non-negative integer, not {value!r}")
    return int(value)


def _check_order(text: str, report: Report, columns: Sequence[str]) -> None:
    date = report.date_property
    for item in text.split(","):
        match = _ORDERBY.fullmatch(item)
        if match is None:
            raise OptionError(f"cannot read $orderby item {item!r}")
        name, direction = match.group(1), (match.group(2) or "asc").lower()
        if name != date or date not in columns or direction != "asc":
            raise OptionError(
                f"$orderby is only supported as {date!r} ascending on reports that have that"
                f" column (rows come in that order); got {item.strip()!r}"
            )

"""Frozen value objects. They know nothing about wire names: ``_convert`` maps those."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import attrs

__all__ = ["BudgetSnapshot", "FilterSchema", "Page", "Report"]


@attrs.frozen
class Report:
    """A saved report, as listed in the service document.

    ``url`` is the report's GUID relative to the OData root; ``name`` is the OData
    entity-set name; ``title`` is what the web UI shows.
    """

    name: str
    title: str
    kind: str
    url: str


@attrs.frozen
class Page:
    """One page of report rows; ``next_link`` is the verbatim continuation URL, if any."""

    rows: list[dict[str, Any]] = attrs.field(repr=lambda rows: f"<{len(rows)} rows>")
    next_link: str | None = None
    context: str | None = None


@attrs.frozen
class FilterSchema(Mapping[str, str]):
    """A report's filter properties: OData property name -> Edm type name.

    Read-only mapping, e.g. ``{"Call_Date_Time": "Edm.DateTimeOffset", ...}``;
    ``entity_set`` and ``entity_type`` name the CSDL elements it came from.
    """

    properties: Mapping[str, str]
    entity_type: str = ""
    entity_set: str = ""

    def __getitem__(self, key: str) -> str:
        return self.properties[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.properties)

    def __len__(self) -> int:
        return len(self.properties)


@attrs.frozen
class BudgetSnapshot:
    """The state of one account's request budget at ``at`` (Unix time).

    ``remaining`` counts tokens usable now (after the reserve); ``next_free_at`` is when
    the oldest spent token comes back (None if nothing is spent); ``blocked_until`` is a
    server-imposed pause (after a 429) or None.
    """

    account: str
    limit: int
    period: float
    spent: int
    remaining: int
    reserve: int
    next_free_at: float | None
    blocked_until: float | None
    at: float
    spent_times: tuple[float, ...] = attrs.field(default=(), repr=False)

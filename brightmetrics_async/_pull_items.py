"""What a bulk pull is made of: items to pull, progress events, results."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypedDict

import attrs

from ._errors import BrightmetricsError
from ._formats import Format, parse_format
from ._models import Report
from ._request import Query

if TYPE_CHECKING:
    import datetime as dt

    from ._filter_expr import FilterExpr

__all__ = [
    "Counts",
    "EventKind",
    "PullEvent",
    "PullItem",
    "PullResult",
    "item_key",
    "legacy_item_keys",
]

EventKind = Literal[
    "started", "page", "bytes", "submitted", "resumed", "polled", "done", "skipped", "failed"
]


class Counts(TypedDict):
    """Progress counters of one item (totals so far)."""

    pages: int
    rows: int
    bytes: int
    polls: int


@attrs.frozen
class PullItem:
    """One report to pull.

    With ``path`` the result goes to that file atomically (``Path``); without, JSON gives the
    rows (``list``) and other formats the bytes. ``use_async=True`` runs it as an asynchronous
    export job (``Prefer: respond-async``), ``False`` as a plain request (pages for JSON);
    ``None`` (default) lets the pull choose the way predicted to cost fewer requests from what
    the knowledge store learned (paging while nothing is known).
    """

    report: Report | str
    format: Format = attrs.field(default=Format.JSON, converter=parse_format)
    filter: str | FilterExpr | None = None
    timezone: str | dt.tzinfo | None = None
    path: Path | None = attrs.field(default=None, converter=attrs.converters.optional(Path))
    use_async: bool | None = None
    label: str | None = None

    @property
    def query(self) -> Query:
        """What the item asks of the report's data."""
        return Query(self.report, format=self.format, filter=self.filter, timezone=self.timezone)

    @property
    def name(self) -> str:
        """A short name for progress displays."""
        if self.label:
            return self.label
        if isinstance(self.report, Report):
            return self.report.title or self.report.url
        return self.report


@attrs.frozen
class PullEvent:
    """Progress of one item: ``kind`` says what happened; counters are totals so far."""

    kind: EventKind
    index: int
    item: PullItem
    pages: int = 0
    rows: int = 0
    bytes: int = 0
    polls: int = 0
    next_poll_at: float | None = None
    token: str | None = None
    error: BaseException | None = None


@attrs.frozen
class PullResult:
    """The outcome of one item: ``value`` (rows, bytes or a path) or ``error``.

    ``skipped`` is True when a journal said the item was already done (its file is there).
    ``use_async`` is the way the item ran: True as an asynchronous export job, False as
    plain requests (pages for JSON, else one download); for an item left to choose it is the
    way chosen (or recorded by the journal when it started). None when it failed before its
    way was decided.
    """

    index: int
    item: PullItem
    value: list[dict[str, Any]] | bytes | Path | None = None
    error: BrightmetricsError | OSError | None = None
    rows: int = 0
    bytes: int = 0
    pages: int = 0
    polls: int = 0
    elapsed: float = 0.0
    token: str | None = None
    skipped: bool = False
    use_async: bool | None = None

    @property
    def ok(self) -> bool:
        """True when the item succeeded."""
        return self.error is None


def item_key(item: PullItem) -> str:
    """A stable key for ``item`` as the caller gave it: a hash of what it asks for and where
    it writes.

    Equal items (same report reference, format, filter text, time zone, output path and
    ``use_async``: True, False or None, "let the pull choose") get the same key in every
    process, so a journal recognises them on restart; the way an item left to choose took is
    recorded in its journal entry, not in its key. Items given True or False key as they did
    before the pull could choose.
    """
    report = item.report.url if isinstance(item.report, Report) else item.report
    filt = item.filter if item.filter is None or isinstance(item.filter, str) else str(item.filter)
    zone = None if item.timezone is None else str(item.timezone)
    path = None if item.path is None else str(item.path.resolve())
    document = json.dumps([1, report, item.format.value, filt, zone, path, item.use_async])
    return hashlib.sha256(document.encode()).hexdigest()[:32]


def legacy_item_keys(item: PullItem) -> list[tuple[str, bool]]:
    """The keys an earlier version journaled an item left to choose under, with the way each
    means: it keyed the way chosen (True or False), not "let the pull choose"."""
    if item.use_async is not None:
        return []
    return [(item_key(attrs.evolve(item, use_async=way)), way) for way in (False, True)]

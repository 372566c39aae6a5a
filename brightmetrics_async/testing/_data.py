"""A resolved data request: which calls a report reads, and how they become rows and pages.

Resolution is pure: the report, the account's dataset, the compiled ``$filter``, the timezone
and the time range ``[start, end]`` (end inclusive, like the vendor's ``End``). The range is the
filter's bounds on the report's date property where given, else the report's default range:
``default_days`` whole days ending today, in the request's timezone for timezone-aware reports
and in UTC for the others. The filter is still applied to every call, so bound inclusivity is
exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta, tzinfo

import attrs

from ._dataset import Call, Dataset
from ._filter_eval import CompiledFilter
from ._paging import END_EPSILON
from ._reports import Report, Row

__all__ = ["DataRequest", "Slice", "default_range", "json_datetime"]


def json_datetime(moment: datetime) -> str:
    """The vendor's JSON datetime: 7 fractional digits, ``Z`` for UTC, else the offset."""
    text = moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{moment.microsecond:06d}0"
    offset = moment.utcoffset()
    if not offset:
        return text + "Z"
    return text + moment.isoformat()[-6:]


def default_range(report: Report, *, now: float, tz: tzinfo) -> tuple[datetime, datetime]:
    """The report's default ``[start, end]``: ``default_days`` whole days ending today."""
    zone = tz if report.timezone_aware else UTC
    today = datetime.fromtimestamp(now, zone).date()
    first = today - timedelta(days=report.default_days - 1)
    start = datetime.combine(first, time(), zone)
    end = datetime.combine(today + timedelta(days=1), time(), zone) - timedelta(milliseconds=1)
    return start.astimezone(UTC), end.astimezone(UTC)


@attrs.frozen
class Slice:
    """One page of a detail report: its rows and where the next one starts (None: last)."""

    rows: list[Row]
    next_start: datetime | None


@attrs.frozen
class DataRequest:
    """A data request with everything resolved; see the module docstring."""

    report: Report
    dataset: Dataset
    filter: CompiledFilter | None
    tz: tzinfo
    start: datetime
    end: datetime

    @property
    def output_tz(self) -> tzinfo:
        """The zone rows are written in: the request's for timezone-aware reports, else UTC."""
        return self.tz if self.report.timezone_aware else UTC

    def _calls(self, start: datetime, stop: datetime) -> list[Call]:
        report, flt = self.report, self.filter
        return [
            call
            for call in self.dataset.between(start, stop)
            if report.include(call) and (flt is None or flt.matches(report.value_getter(call)))
        ]

    def _build(self, calls: Sequence[Call]) -> list[Row]:
        return self.report.build(calls, self.output_tz)

    def all_rows(self) -> list[Row]:
        """Every row of the whole range."""
        return self._build(self._calls(self.start, self.end + END_EPSILON))

    def page(self, start: datetime, *, slice_seconds: float | None, max_rows: int | None) -> Slice:
        """The page beginning at ``start``: one time slice, cut to ``max_rows`` rows."""
        stop = self.end + END_EPSILON
        if slice_seconds is not None:
            stop = min(stop, start + timedelta(seconds=slice_seconds))
        calls = self._calls(start, stop)
        if max_rows is not None and len(calls) > max_rows:
            cut = calls[max_rows].start
            if cut > start:  # never an empty step: rows sharing ``start`` all go in this page
                calls = [c for c in calls if c.start < cut]
                return Slice(self._build(calls), cut)
        next_start = stop if stop <= self.end else None
        return Slice(self._build(calls), next_start)

"""Keys under which learned costs are kept: a filter's shape and a pull's time-range length.

Jobs of one report with filters that differ only in their values (``Queue_Name eq 'Sales'`` vs
``Queue_Name eq 'Support'``) take about as long: their *shape* - the filter with every literal
replaced by ``?`` - is what durations are learned under. A JSON pull's page count depends on
the length of the time range it covers (the vendor pages detail reports by time slices): the
distance between the earliest and the latest date literal of the filter, in whole days, or
``default`` when the filter names no range (the report's default range applies).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re

__all__ = ["filter_shape", "filter_text", "job_history_key", "range_key", "safe_key"]

_DATETIME = r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?"
_LITERAL = re.compile(
    rf"'(?:[^']|'')*'|(?<![\w.]){_DATETIME}|(?<![\w.])-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w.])"
)
_LIST = re.compile(r"\(\s*\?(?:\s*,\s*\?)*\s*\)")
_DATES = re.compile(rf"(?<![\w.'])({_DATETIME})")


def filter_text(value: object) -> str | None:
    """A query's filter (text or expression) as the text its keys are made from, unchecked."""
    return None if value is None else str(value)


def filter_shape(text: str | None) -> str:
    """The filter with its literals removed (``''`` for no filter); lists become ``(?)``."""
    if not text or not text.strip():
        return ""
    shape = _LIST.sub("(?)", _LITERAL.sub("?", text))
    return " ".join(shape.split())


def _parse(value: str) -> dt.datetime | None:
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def range_key(text: str | None) -> str:
    """``<n>d`` for a filter spanning n days between its date literals, else ``default``."""
    if not text:
        return "default"
    found = [d for d in (_parse(m) for m in _DATES.findall(text)) if d is not None]
    if len(found) < 2:
        return "default" if not found else "open"
    span = max(found) - min(found)
    return f"{round(span.total_seconds() / 86400)}d"


def safe_key(*parts: str) -> str:
    """A store key from ``parts``; long ones are hashed (keys stay short, never hold values)."""
    key = "|".join(parts)
    if len(key) <= 200:
        return key
    return key[:64] + "#" + hashlib.sha256(key.encode()).hexdigest()[:32]


def job_history_key(report_url: str, fmt: str, filter_text: str | None) -> str:
    """Where a job's duration is learned: report, format and the filter's shape (the same
    key for a real job and for its dry run); report URLs compare without case."""
    shape = filter_shape(filter_text)
    return f"{report_url.lower()}|{fmt}" + (f"|{shape}" if shape else "")

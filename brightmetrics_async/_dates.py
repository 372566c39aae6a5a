"""Dates people type: ``2026-11-01``, ``2026-11-01T08:00``, ``7d``, ``24h``, ``yesterday``...

Pure functions, no I/O. ``now`` is a parameter (Unix seconds or an aware datetime), so callers
with an injected clock get the same answer in tests and in production.

* a date is a whole day in the zone (UTC unless ``tz``): a lower bound is its midnight, an
  upper bound the last microsecond of that day;
* a date-time without an offset is read in the zone; one with an offset (or ``Z``) is kept;
* ``7d`` / ``24h`` / ``90m`` / ``30s`` (also ``2w``) count back from now: ``7d`` is now minus
  7 x 24 hours, not "since midnight seven days ago";
* ``today`` and ``yesterday`` are whole days from midnight in the zone (as a lower bound:
  that midnight; as an upper bound: the end of that day).

:func:`period` turns a ``since`` / ``until`` pair into a condition for :func:`where`.
"""

from __future__ import annotations

import datetime as dt
import re

from ._errors import ConfigurationError
from ._filters import Condition, between, ge, le
from ._timezones import to_tzinfo

__all__ = ["parse_duration", "parse_when", "period"]

_UNITS = {"w": 7 * 86400.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([wdhms])\s*$", re.IGNORECASE)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

Now = float | dt.datetime | None


def _now(now: Now) -> dt.datetime:
    if now is None:
        return dt.datetime.now(dt.UTC)
    if isinstance(now, dt.datetime):
        if now.utcoffset() is None:
            raise ConfigurationError("now must be an aware datetime or Unix seconds")
        return now
    return dt.datetime.fromtimestamp(float(now), dt.UTC)


def parse_duration(text: str) -> dt.timedelta:
    """``1h`` / ``90m`` / ``2d`` / ``30s`` / ``1w`` as a positive ``timedelta``.

    Raises :class:`ConfigurationError` for anything else, zero included.
    """
    if not isinstance(text, str):
        raise TypeError(f"a duration is a string like '1h', not {type(text).__name__}")
    match = _RELATIVE.match(text)
    if match is None:
        raise ConfigurationError(
            f"cannot read the duration {text!r}: write a number and a unit, e.g. 1h, 90m, 2d"
        )
    seconds = float(match[1]) * _UNITS[match[2].lower()]
    if seconds <= 0:
        raise ConfigurationError(f"the duration {text!r} must be more than zero")
    return dt.timedelta(seconds=seconds)


def parse_when(
    text: str | dt.datetime | dt.date,
    *,
    now: Now = None,
    tz: str | dt.tzinfo | None = None,
    end: bool = False,
) -> dt.datetime:
    """The aware datetime ``text`` means (see the module docstring).

    ``end=True`` reads a whole day (a date, ``today``, ``yesterday``) as its last microsecond,
    for an upper bound. Raises :class:`ConfigurationError` (or :class:`UnknownTimezone`) for
    text that cannot be read; ``TypeError`` for another type.
    """
    zone = to_tzinfo(tz) if tz is not None else dt.UTC
    if isinstance(text, dt.datetime):
        return text if text.utcoffset() is not None else text.replace(tzinfo=zone)
    if isinstance(text, dt.date):
        return _day_bound(text, zone, end=end)
    if not isinstance(text, str):
        raise TypeError(f"a time is a string, a date or a datetime, not {type(text).__name__}")
    word = text.strip().lower()
    current = _now(now)
    if word in ("today", "yesterday"):
        day = current.astimezone(zone).date()
        if word == "yesterday":
            day -= dt.timedelta(days=1)
        return _day_bound(day, zone, end=end)
    if _RELATIVE.match(word):
        return current - parse_duration(word)
    if _DATE.match(word):
        try:
            return _day_bound(dt.date.fromisoformat(word), zone, end=end)
        except ValueError:
            pass
    else:
        try:
            moment = dt.datetime.fromisoformat(text.strip().replace(" ", "T", 1))
        except ValueError:
            pass
        else:
            return moment if moment.utcoffset() is not None else moment.replace(tzinfo=zone)
    raise ConfigurationError(
        f"cannot read the time {text!r}: use a date (2026-11-01), a date-time "
        "(2026-11-01T08:00, with an offset or in UTC), 7d, 24h, yesterday or today"
    )


def _day_bound(day: dt.date, zone: dt.tzinfo, *, end: bool) -> dt.datetime:
    if end:
        return dt.datetime.combine(day, dt.time(23, 59, 59, 999999), tzinfo=zone)
    return dt.datetime.combine(day, dt.time.min, tzinfo=zone)


def period(
    since: str | dt.datetime | dt.date | None = None,
    until: str | dt.datetime | dt.date | None = None,
    *,
    tz: str | dt.tzinfo | None = None,
    now: float | dt.datetime | None = None,
) -> Condition:
    """A condition for :func:`where` from the dates people type: ``ge since`` / ``le until``.

    ``bm.where(Call_Date_Time=bm.period("7d"))`` is the last seven days up to now;
    ``bm.period("yesterday", "yesterday")`` is all of yesterday (UTC unless ``tz``).

    Raises :class:`ConfigurationError` when neither bound is given, a bound cannot be read,
    or ``since`` is after ``until``.
    """
    if since is None and until is None:
        raise ConfigurationError("period() needs since, until or both")
    low = parse_when(since, now=now, tz=tz) if since is not None else None
    high = parse_when(until, now=now, tz=tz, end=True) if until is not None else None
    if low is not None and high is not None:
        if low > high:
            raise ConfigurationError(
                f"since ({low.isoformat()}) is after until ({high.isoformat()})"
            )
        return between(low, high)
    if low is not None:
        return ge(low)
    assert high is not None
    return le(high)

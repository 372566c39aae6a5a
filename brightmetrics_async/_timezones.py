"""Time zones: Windows names for the ``timezone`` parameter, tzinfo for filter literals.

The service wants a Windows zone name (``?timezone=Eastern%20Standard%20Time``); Python
code has IANA zones. The mapping is CLDR's windowsZones table as shipped (and kept up to
date) by ``tzlocal.windows_tz``: ``win_tz`` maps Windows to IANA, ``tz_win`` IANA to
Windows. Looking a name up is pure: no file or network access.
"""

from __future__ import annotations

import datetime as dt
import difflib
import zoneinfo

from tzlocal import windows_tz

from ._errors import UnknownTimezone

__all__ = ["to_tzinfo", "windows_timezone"]

_WIN_TO_IANA: dict[str, str] = dict(windows_tz.win_tz)
_IANA_TO_WIN: dict[str, str] = dict(windows_tz.tz_win)
# Both tables are matched case-insensitively; no two keys differ only by case.
_WIN_BY_LOWER = {name.lower(): name for name in _WIN_TO_IANA}
_IANA_BY_LOWER = {name.lower(): name for name in _IANA_TO_WIN}
# Spellings of UTC that CLDR does not list (it lists UTC, Etc/UTC, Etc/GMT, Zulu, ...).
_UTC_ALIASES = frozenset({"utc", "gmt", "z", "etc/utc", "etc/gmt", "uct", "etc/uct", "greenwich"})


def _did_you_mean(name: str) -> str:
    candidates = list(_WIN_BY_LOWER) + list(_IANA_BY_LOWER)
    close = difflib.get_close_matches(name.lower(), candidates, n=3, cutoff=0.6)
    names = [_WIN_BY_LOWER.get(c) or _IANA_BY_LOWER[c] for c in close]
    return f"; did you mean {' or '.join(repr(n) for n in names)}?" if names else ""


def _from_name(name: str) -> str:
    key = name.strip().lower()
    if key in _UTC_ALIASES:
        return "UTC"
    if key in _WIN_BY_LOWER:
        return _WIN_BY_LOWER[key]
    if key in _IANA_BY_LOWER:
        return _IANA_TO_WIN[_IANA_BY_LOWER[key]]
    raise UnknownTimezone(f"unknown time zone {name!r}{_did_you_mean(name.strip())}")


def _fixed_offset_name(offset: dt.timedelta) -> str | None:
    # A fixed offset has no DST, which is exactly what CLDR's Etc/GMT±N zones are; note
    # their inverted sign (Etc/GMT+5 is UTC-05:00).
    if offset == dt.timedelta(0):
        return "UTC"
    seconds = int(offset.total_seconds())
    if seconds % 3600:
        return None
    hours = seconds // 3600
    return _IANA_TO_WIN.get(f"Etc/GMT{-hours:+d}")


def windows_timezone(tz: str | dt.tzinfo) -> str:
    """Return the Windows zone name the service understands for ``tz``.

    Accepts a Windows name (``"eastern standard time"`` gives the canonical
    ``"Eastern Standard Time"``), an IANA name (``"America/New_York"``), a
    ``zoneinfo.ZoneInfo``, a pytz zone, ``datetime.timezone.utc`` (``"UTC"``) or another
    whole-hour fixed offset (mapped through CLDR's ``Etc/GMT±N`` zones).

    Raises UnknownTimezone (a ConfigurationError), with a did-you-mean when a close name
    exists, for anything else.
    """
    if isinstance(tz, str):
        return _from_name(tz)
    if isinstance(tz, dt.timezone):
        name = _fixed_offset_name(tz.utcoffset(None))
        if name is None:
            raise UnknownTimezone(f"no Windows time zone has the fixed offset of {tz}")
        return name
    if isinstance(tz, dt.tzinfo):
        # ZoneInfo has .key, pytz zones have .zone; both are IANA names.
        key = getattr(tz, "key", None) or getattr(tz, "zone", None)
        if isinstance(key, str):
            return _from_name(key)
        raise UnknownTimezone(
            f"cannot name the time zone {tz!r}: pass an IANA or Windows name instead"
        )
    raise UnknownTimezone(f"a time zone must be a name or a tzinfo, not {type(tz).__name__}")


def to_tzinfo(tz: str | dt.tzinfo) -> dt.tzinfo:
    """Return a tzinfo for ``tz``: a tzinfo as is, or a UTC, IANA or Windows zone name.

    A Windows name is read as its CLDR default IANA zone ("Eastern Standard Time" is
    America/New_York). Unlike :func:`windows_timezone` this reads the system's (or the
    ``tzdata`` package's) zone files.

    Raises UnknownTimezone for a name no zone database knows.
    """
    if isinstance(tz, dt.tzinfo):
        return tz
    if not isinstance(tz, str):
        raise UnknownTimezone(f"a time zone must be a name or a tzinfo, not {type(tz).__name__}")
    key = tz.strip()
    if key.lower() in _UTC_ALIASES:
        return dt.UTC
    windows = _WIN_BY_LOWER.get(key.lower())
    if windows is not None:
        key = _WIN_TO_IANA[windows]
    elif key.lower() in _IANA_BY_LOWER:
        key = _IANA_BY_LOWER[key.lower()]
    try:
        return zoneinfo.ZoneInfo(key)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise UnknownTimezone(f"unknown time zone {tz!r}{_did_you_mean(key)}") from exc

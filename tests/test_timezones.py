"""windows_timezone / to_tzinfo: IANA and Windows names through CLDR's table."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from tzlocal import windows_tz

from brightmetrics_async._errors import ConfigurationError, UnknownTimezone
from brightmetrics_async._timezones import to_tzinfo, windows_timezone


@pytest.mark.parametrize(
    ("tz", "expected"),
    [
        ("America/New_York", "Eastern Standard Time"),
        ("america/new_york", "Eastern Standard Time"),
        ("US/Pacific", "Pacific Standard Time"),
        ("America/Chicago", "Central Standard Time"),
        ("Asia/Kolkata", "India Standard Time"),
        ("Europe/London", "GMT Standard Time"),
        ("Eastern Standard Time", "Eastern Standard Time"),
        ("eastern standard TIME", "Eastern Standard Time"),
        ("  Pacific Standard Time ", "Pacific Standard Time"),
        ("UTC", "UTC"),
        ("Etc/UTC", "UTC"),
        ("GMT", "UTC"),
        (dt.UTC, "UTC"),
        (dt.timezone(dt.timedelta(0), "Z"), "UTC"),
        (dt.timezone(dt.timedelta(hours=-5)), "SA Pacific Standard Time"),
        (dt.timezone(dt.timedelta(hours=14)), "Line Islands Standard Time"),
    ],
)
def test_known_zones(tz: str | dt.tzinfo, expected: str) -> None:
    assert windows_timezone(tz) == expected


def test_zoneinfo_objects() -> None:
    assert windows_timezone(zoneinfo.ZoneInfo("America/New_York")) == "Eastern Standard Time"
    assert windows_timezone(zoneinfo.ZoneInfo("UTC")) == "UTC"
    assert windows_timezone(zoneinfo.ZoneInfo("Europe/Berlin")) == "W. Europe Standard Time"


def test_every_cldr_name_maps_both_ways() -> None:
    for windows, iana in windows_tz.win_tz.items():
        assert windows_timezone(windows) == windows
        assert windows_timezone(windows.upper()) == windows
        assert windows_timezone(iana) == windows_tz.tz_win[iana]


def test_unknown_name_has_a_did_you_mean() -> None:
    with pytest.raises(UnknownTimezone, match="did you mean 'Eastern Standard Time'") as info:
        windows_timezone("Eastern Standard Tme")
    assert isinstance(info.value, ConfigurationError)
    with pytest.raises(UnknownTimezone, match="America/New_York"):
        windows_timezone("America/New_Yrok")
    with pytest.raises(UnknownTimezone, match="unknown time zone 'Nowhere/At_All'"):
        windows_timezone("Nowhere/At_All")


def test_unnameable_tzinfo_is_refused() -> None:
    with pytest.raises(UnknownTimezone, match="fixed offset"):
        windows_timezone(dt.timezone(dt.timedelta(hours=5, minutes=45)))

    class Custom(dt.tzinfo):
        def utcoffset(self, _: dt.datetime | None) -> dt.timedelta:
            return dt.timedelta(hours=1)

        def dst(self, _: dt.datetime | None) -> dt.timedelta:
            return dt.timedelta(0)

        def tzname(self, _: dt.datetime | None) -> str:
            return "CUSTOM"

    with pytest.raises(UnknownTimezone, match="cannot name"):
        windows_timezone(Custom())
    with pytest.raises(UnknownTimezone, match="not int"):
        windows_timezone(5)  # type: ignore[arg-type]


def test_pytz_style_zone_attribute() -> None:
    class PytzLike(dt.tzinfo):
        zone = "Australia/Sydney"

        def utcoffset(self, _: dt.datetime | None) -> dt.timedelta:
            return dt.timedelta(hours=10)

        def dst(self, _: dt.datetime | None) -> dt.timedelta:
            return dt.timedelta(0)

        def tzname(self, _: dt.datetime | None) -> str:
            return "AEST"

    assert windows_timezone(PytzLike()) == "AUS Eastern Standard Time"


def test_to_tzinfo() -> None:
    assert to_tzinfo("UTC") is dt.UTC
    assert to_tzinfo(dt.UTC) is dt.UTC
    assert to_tzinfo("Europe/Paris") == zoneinfo.ZoneInfo("Europe/Paris")
    # A Windows name is read as its CLDR default zone.
    assert to_tzinfo("Eastern Standard Time") == zoneinfo.ZoneInfo("America/New_York")
    assert to_tzinfo("europe/paris") == zoneinfo.ZoneInfo("Europe/Paris")
    with pytest.raises(UnknownTimezone, match="did you mean 'Europe/Paris'"):
        to_tzinfo("Europe/Pariss")
    with pytest.raises(UnknownTimezone):
        to_tzinfo("../../etc/passwd")

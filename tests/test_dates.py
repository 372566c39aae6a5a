"""The dates people type: pure parsing, ``bm.period`` for ``bm.where``."""

from __future__ import annotations

import datetime as dt

import pytest

import brightmetrics_async as bm
from brightmetrics_async._dates import parse_duration, parse_when

NOW = dt.datetime(2026, 11, 27, 10, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("text", "end", "expected"),
    [
        ("2026-11-01", False, dt.datetime(2026, 11, 1, tzinfo=dt.UTC)),
        ("2026-11-01", True, dt.datetime(2026, 11, 1, 23, 59, 59, 999999, tzinfo=dt.UTC)),
        ("2026-11-01T08:00", False, dt.datetime(2026, 11, 1, 8, tzinfo=dt.UTC)),
        ("2026-11-01T08:00+02:00", False, dt.datetime(2026, 11, 1, 6, tzinfo=dt.UTC)),
        ("7d", False, NOW - dt.timedelta(days=7)),
        ("24h", False, NOW - dt.timedelta(hours=24)),
        ("today", False, dt.datetime(2026, 11, 27, tzinfo=dt.UTC)),
        ("yesterday", False, dt.datetime(2026, 11, 26, tzinfo=dt.UTC)),
        ("yesterday", True, dt.datetime(2026, 11, 26, 23, 59, 59, 999999, tzinfo=dt.UTC)),
    ],
)
def test_parse_when(text: str, end: bool, expected: dt.datetime) -> None:
    assert parse_when(text, now=NOW, end=end) == expected


def test_a_timezone_moves_dates_and_naive_times() -> None:
    got = parse_when("2026-11-01", now=NOW, tz="Eastern Standard Time")
    assert got == dt.datetime(2026, 11, 1, 4, tzinfo=dt.UTC)
    late = dt.datetime(2026, 11, 27, 3, tzinfo=dt.UTC)  # still the 26th in New York
    assert parse_when("today", now=late, tz="America/New_York").day == 26


@pytest.mark.parametrize("text", ["last tuesday", "2026-13-01", "7x", "", "-1d"])
def test_unreadable_text_is_a_configuration_error(text: str) -> None:
    with pytest.raises(bm.ConfigurationError):
        parse_when(text, now=NOW)


@pytest.mark.parametrize("text", ["0h", "soon", "-1h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(bm.ConfigurationError):
        parse_duration(text)


def test_period_for_where() -> None:
    expr = bm.where(Call_Date_Time=bm.period("2026-11-01", "2026-11-02"))
    assert str(expr) == (
        "Call_Date_Time ge 2026-11-01T00:00:00Z and Call_Date_Time le 2026-11-02T23:59:59.999999Z"
    )
    assert str(bm.where(D=bm.period("24h", now=NOW))) == "D ge 2026-11-26T10:30:00Z"
    with pytest.raises(bm.ConfigurationError):
        bm.period()
    with pytest.raises(bm.ConfigurationError, match="after"):
        bm.period("today", "2020-01-01", now=NOW)

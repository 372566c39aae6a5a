"""parse_retry_after: both RFC 9110 forms, tolerated variants, and never an exception."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brightmetrics_async._retry_after import MAX_RETRY_AFTER, parse_retry_after

# 1994-11-06 08:49:37 UTC, the RFC 9110 example date.
RFC_EXAMPLE = datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", 5.0),
        (" 5 ", 5.0),
        ("\t120\r\n", 120.0),
        ("5.5", 5.5),
        ("0", 0.0),
        ("007", 7.0),
        ("604800", MAX_RETRY_AFTER),
        ("5, 5", 5.0),
        ("5,10", 10.0),  # a repeated header: never earlier than any of them
        (None, None),
        ("", None),
        ("   ", None),
        ("-5", None),
        ("+5", None),
        ("abc", None),
        ("5s", None),
        ("5 s", None),
        ("1e3", None),
        ("nan", None),
        ("NaN", None),
        ("inf", None),
        ("Infinity", None),
        (".5", None),
        ("5.", None),
        ("0x10", None),
        ("\u0665", None),  # ARABIC-INDIC DIGIT FIVE: float() would accept it
        ("604801", None),  # more than a week is absurd
        ("99999999999999999999", None),
        ("5,", None),
        ("5, soon", None),
    ],
)
def test_delta_seconds(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=RFC_EXAMPLE) == expected


@pytest.mark.parametrize(
    "value",
    [
        "Sun, 06 Nov 1994 08:50:07 GMT",  # IMF-fixdate
        "Sunday, 06-Nov-94 08:50:07 GMT",  # obsolete RFC 850
        "Sun Nov  6 08:50:07 1994",  # obsolete asctime, no zone: GMT
        "Sun, 06 Nov 1994 08:50:07 -0000",
        "Sun, 06 Nov 1994 10:50:07 +0200",  # not HTTP, but unambiguous
        "  Sun, 06 Nov 1994 08:50:07 GMT  ",
    ],
)
def test_http_date_forms_are_seconds_from_now(value: str) -> None:
    assert parse_retry_after(value, now=RFC_EXAMPLE) == pytest.approx(30.0)


def test_http_date_depends_on_now() -> None:
    value = "Sun, 06 Nov 1994 08:50:07 GMT"
    assert parse_retry_after(value, now=RFC_EXAMPLE + 10) == pytest.approx(20.0)


def test_date_in_the_past_is_zero() -> None:
    assert parse_retry_after("Sun, 06 Nov 1994 08:49:36 GMT", now=RFC_EXAMPLE) == 0.0
    assert parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", now=RFC_EXAMPLE) == 0.0


@pytest.mark.parametrize(
    "value",
    [
        "Sun, 20 Nov 1994 08:49:37 GMT",  # two weeks ahead: absurd
        "Sun, 32 Nov 1994 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 06 Nov 99999 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 +9999",
        "Sun, 06 Nov 1994 25:61:61 GMT",
        "Sun, 06 Nov",
        "Sun, " + "0" * 200,
    ],
)
def test_bad_or_absurd_dates_are_none(value: str) -> None:
    assert parse_retry_after(value, now=RFC_EXAMPLE) is None


def test_non_finite_now_does_not_raise() -> None:
    assert parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now=math.nan) is None
    assert parse_retry_after("5", now=math.inf) == 5.0


@given(st.text())
def test_any_text_is_none_or_a_finite_non_negative_float(value: str) -> None:
    result = parse_retry_after(value, now=RFC_EXAMPLE)
    assert result is None or (isinstance(result, float) and 0 <= result <= MAX_RETRY_AFTER)


@given(st.from_regex(r"\A[ -~]{0,40}\Z"), st.floats(min_value=0, max_value=4e9))
def test_printable_ascii_never_raises(value: str, now: float) -> None:
    result = parse_retry_after(value, now=now)
    assert result is None or (math.isfinite(result) and result >= 0)


@given(st.integers(min_value=0, max_value=int(MAX_RETRY_AFTER)))
def test_every_delta_in_range_round_trips(seconds: int) -> None:
    assert parse_retry_after(str(seconds), now=0.0) == float(seconds)
    assert parse_retry_after(f" {seconds} ", now=0.0) == float(seconds)


@given(
    st.datetimes(
        min_value=datetime(1990, 1, 1),  # hypothesis wants naive bounds
        max_value=datetime(2100, 1, 1),
        timezones=st.just(UTC),
    ).map(lambda d: d.replace(microsecond=0)),
    st.integers(min_value=-86_400, max_value=int(MAX_RETRY_AFTER)),
)
def test_imf_fixdate_round_trips(when: datetime, offset: int) -> None:
    now = (when - timedelta(seconds=offset)).timestamp()
    result = parse_retry_after(format_datetime(when, usegmt=True), now=now)
    assert result == pytest.approx(max(0.0, offset))

"""encode_query_value / build_query: %20 for spaces, %2B for plus signs."""

from __future__ import annotations

import urllib.parse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brightmetrics_async._errors import ConfigurationError
from brightmetrics_async._urls import QUERY_VALUE_SAFE, build_query, encode_query_value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Eastern Standard Time", "Eastern%20Standard%20Time"),
        ("CallerID eq '+15551238888'", "CallerID%20eq%20'%2B15551238888'"),
        (
            "Queue_Name in ('Customer Service', 'Sales')",
            "Queue_Name%20in%20('Customer%20Service',%20'Sales')",
        ),
        ("A ge 2020-06-01T00:00:00+05:30", "A%20ge%202020-06-01T00:00:00%2B05:30"),
        ("a&b=c#d%e", "a%26b%3Dc%23d%25e"),
        ("x;y/z?", "x%3By%2Fz%3F"),
        ("é", "%C3%A9"),
        ("csv", "csv"),
        ("", ""),
    ],
)
def test_encode_query_value(value: str, expected: str) -> None:
    assert encode_query_value(value) == expected
    assert urllib.parse.unquote(expected) == value


@given(st.text())
def test_round_trip_and_no_separators(value: str) -> None:
    encoded = encode_query_value(value)
    assert urllib.parse.unquote(encoded, errors="strict") == value
    assert not set(encoded) & set(' +&=#"<>[]{}|\\^`;/?')
    assert encoded.isascii()
    # Only unreserved characters and the documented safe set stay unencoded.
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%")
    assert set(encoded) <= allowed | set(QUERY_VALUE_SAFE)


def test_unencodable_values_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="not valid Unicode"):
        encode_query_value("\ud800")
    with pytest.raises(ConfigurationError, match="must be a string"):
        encode_query_value(3)  # type: ignore[arg-type]


def test_build_query() -> None:
    query = build_query(
        [("$filter", "Queue_Name eq 'Sales'"), ("$format", "csv"), ("timezone", "UTC+12")]
    )
    assert query == "$filter=Queue_Name%20eq%20'Sales'&$format=csv&timezone=UTC%2B12"
    assert urllib.parse.parse_qsl(query.replace("+", "%2B")) == [
        ("$filter", "Queue_Name eq 'Sales'"),
        ("$format", "csv"),
        ("timezone", "UTC+12"),
    ]
    assert build_query([]) == ""
    assert build_query([("a", "1"), ("a", "2")]) == "a=1&a=2"


@pytest.mark.parametrize("key", ["", "a&b", "a=b", "a b", "a#", "é", "a+b", "%24filter"])
def test_build_query_refuses_bad_keys(key: str) -> None:
    with pytest.raises(ConfigurationError, match="invalid query parameter name"):
        build_query([(key, "x")])

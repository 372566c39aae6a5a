"""parse_filter: raw $filter text into the builder's expressions."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

import brightmetrics_async._filters as bm
from brightmetrics_async._errors import FilterError
from brightmetrics_async._filters import Comparison, FilterExpr, InList, Op, parse_filter

VENDOR_EXAMPLE = (
    "Call_Date_Time ge 2020-05-01T00:00:00Z and Call_Date_Time le 2020-05-31T23:59:59Z"
    " and Queue_Name in ('Customer Service', 'Sales')"
)


def test_vendor_example() -> None:
    assert parse_filter(VENDOR_EXAMPLE) == FilterExpr(
        (
            Comparison("Call_Date_Time", Op.GE, dt.datetime(2020, 5, 1, tzinfo=dt.UTC)),
            Comparison(
                "Call_Date_Time", Op.LE, dt.datetime(2020, 5, 31, 23, 59, 59, tzinfo=dt.UTC)
            ),
            InList("Queue_Name", ("Customer Service", "Sales")),
        )
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("X eq 'O''Brien'", "O'Brien"),
        ("X eq ''''", "'"),
        ("X eq ''", ""),
        ("X eq 'a and b or c'", "a and b or c"),
        ("X eq null", None),
        ("X eq true", True),
        ("X eq false", False),
        ("X gt 10", 10),
        ("X gt +10", 10),
        ("X gt -10", -10),
        ("X gt 10.5", 10.5),
        ("X gt 1e3", 1000.0),
        ("X gt 1.5E-3", 0.0015),
        ("X gt 123456789012345678901234567890", 123456789012345678901234567890),
        ("X ge 2020-06-01", dt.date(2020, 6, 1)),
        ("X ge 2020-06-01T08:30Z", dt.datetime(2020, 6, 1, 8, 30, tzinfo=dt.UTC)),
        (
            "X ge 2021-02-17T20:39:47.1234567Z",
            dt.datetime(2021, 2, 17, 20, 39, 47, 123456, tzinfo=dt.UTC),
        ),
        (
            "X ge 2020-06-01T00:00:00-05:30",
            dt.datetime(2020, 6, 1, tzinfo=dt.timezone(-dt.timedelta(hours=5, minutes=30))),
        ),
        (
            "X ne 01234567-89AB-cdef-0123-456789abcdef",
            uuid.UUID("0123456789abcdef0123456789abcdef"),
        ),
    ],
)
def test_literals(text: str, value: object) -> None:
    (term,) = parse_filter(text).terms
    assert isinstance(term, Comparison)
    assert term.value == value
    assert type(term.value) is type(value)


def test_spacing_and_redundant_parentheses() -> None:
    expected = bm.where(A=1, B=["x", "y"], C=bm.ne(None))
    for text in [
        "A eq 1 and B in ('x', 'y') and C ne null",
        "  A  eq\t1   and B in ( 'x' ,'y' ) and C ne null ",
        "((A eq 1)) and (B in ('x','y') and (C ne null))",
        "(A eq 1 and B in ('x', 'y')) and C ne null",
    ]:
        assert parse_filter(text) == expected, text


def test_unicode_property_names() -> None:
    assert parse_filter("Größe gt 3") == bm.where(Größe=bm.gt(3))


def test_blank_text_is_no_filter() -> None:
    assert parse_filter("") == FilterExpr(())
    assert parse_filter("  \t") == FilterExpr(())


@pytest.mark.parametrize(
    "text",
    [
        "A eq 1 or B eq 2",
        "not A eq 1",
        "not(A eq 1)",
        "contains(Queue_Name, 'Sales')",
        "startswith(Queue_Name,'S') eq true",
        "A eq B",
        "'Sales' eq Queue_Name",
        "1 eq A",
        "A add 1 eq 2",
        "A has Ns.Color'Red'",
        "Address/City eq 'Paris'",
        "Names/any(n: n eq 'x')",
    ],
)
def test_unsupported_odata_is_only_and(text: str) -> None:
    with pytest.raises(FilterError) as info:
        parse_filter(text)
    assert info.value.rule == "only-and"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("A eq", "expected a space after 'eq'"),
        ("A eq ", "expected a literal"),
        ("A", "expected a space after the property"),
        ("A eq 'x", "unterminated string"),
        ("A eq 'x''", "unterminated string"),
        ("A eq 'x' B eq 'y'", "expected 'and' or the end"),
        ("A eq 'x'and B eq 'y'", "unexpected 'a' after a literal"),
        ("A eq 1 and", "expected a space after 'and'"),
        ("A eq 1 and ", "expected a property name"),
        ("and A eq 1", "expected an operator .* after 'and'"),
        ("A in ()", "at least one value"),
        ("A in ('x',)", "expected a literal"),
        ("A in 'x'", "expected '\\('"),
        ("A in ('x' 'y')", "expected ',' or '\\)'"),
        ("(A eq 1", "expected '\\)'"),
        ("A eq 1)", "unbalanced"),
        ("A EQ 1", "lower case: write 'eq'"),
        ("A eq 1 AND B eq 2", "lower case: write 'and'"),
        ("A like 'x'", "expected an operator"),
        ("A eq INF", "INF and NaN"),
        ("A eq NaN", "INF and NaN"),
        ("A eq 1e400", "out of range"),
        ("A eq 2020-02-30", "invalid literal"),
        ("A eq 2020-01-01T24:00Z", "invalid literal"),
        ("A eq 2020-01-01T10:00+24:00", "invalid literal"),
        ("A eq 2020-01-01T10:00", "needs .* an offset"),
        ("A eq 2020-01-01T10Z", "needs .* an offset"),
        ("A eq 1.", "unexpected '.'"),
        ('A eq "x"', "expected a literal"),
        ("A eq 'x'\nand B eq 1", r"unexpected '\\n' after a literal"),
        ("1A eq 1", "expected a property name, found '1'"),
        ("'x' eq A", "a term must start with a property name"),
        ("(" * 40 + "A eq 1" + ")" * 40, "nested too deeply"),
        ("A" * 129 + " eq 1", "longer than 128"),
    ],
)
def test_syntax_errors(text: str, message: str) -> None:
    with pytest.raises(FilterError, match=message) as info:
        parse_filter(text)
    assert info.value.rule in {"syntax", "only-and"}
    assert "position" in str(info.value)


def test_error_names_the_property_and_points_at_the_spot() -> None:
    with pytest.raises(FilterError) as info:
        parse_filter("Queue_Name eq 'x' and Time_Call_Total gt abc")
    assert info.value.property == "Time_Call_Total"
    assert "position 41" in info.value.message


def test_url_encoded_text_gets_a_hint() -> None:
    with pytest.raises(FilterError, match="looks URL-encoded"):
        parse_filter("Queue_Name%20eq%20'Sales'")
    # ... but a '%20' inside a valid string literal is just text.
    assert parse_filter("A eq '100%20'") == bm.where(A="100%20")


def test_non_string_is_refused() -> None:
    with pytest.raises(FilterError, match="must be a string"):
        parse_filter(b"A eq 1")  # type: ignore[arg-type]


@given(st.text(alphabet="AB eqn()'1,.-:TZ\t", max_size=30))
def test_never_fails_with_anything_but_filter_error(text: str) -> None:
    try:
        expr = parse_filter(text)
    except FilterError:
        return
    assert parse_filter(str(expr)) == expr

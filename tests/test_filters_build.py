"""The $filter builder: where(), F, the condition helpers and literal rendering."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
import zoneinfo

import pytest

import brightmetrics_async._filters as bm
from brightmetrics_async._errors import ConfigurationError, FilterError
from brightmetrics_async._filters import Comparison, FilterExpr, InList, Op, render_literal

NY = zoneinfo.ZoneInfo("America/New_York")


def test_vendor_examples() -> None:
    assert str(bm.where(Queue_Name="Customer Service")) == "Queue_Name eq 'Customer Service'"
    assert (
        str(bm.where(Queue_Name=["Customer Service", "Sales"]))
        == "Queue_Name in ('Customer Service', 'Sales')"
    )
    assert str(bm.where(Time_Call_Total=bm.gt(10))) == "Time_Call_Total gt 10"
    assert str(bm.where(Time_Abandon_Total=bm.lt(20))) == "Time_Abandon_Total lt 20"
    assert str(bm.where(Agent_Name=bm.ne("Agent Spare 1"))) == "Agent_Name ne 'Agent Spare 1'"
    start = dt.datetime(2020, 5, 1, tzinfo=dt.UTC)
    end = dt.datetime(2020, 5, 31, 23, 59, 59, tzinfo=dt.UTC)
    expr = bm.where(Call_Date_Time=bm.between(start, end)) & bm.where(
        Queue_Name=["Customer Service", "Sales"]
    )
    assert str(expr) == (
        "Call_Date_Time ge 2020-05-01T00:00:00Z and Call_Date_Time le 2020-05-31T23:59:59Z"
        " and Queue_Name in ('Customer Service', 'Sales')"
    )
    assert bm.render_filter(expr) == str(expr)


def test_quotes_are_doubled_everywhere() -> None:
    assert str(bm.where(Agent_Name="O'Brien")) == "Agent_Name eq 'O''Brien'"
    assert str(bm.where(Agent_Name=["O'Brien", "''"])) == "Agent_Name in ('O''Brien', '''''')"
    assert str(bm.F("Agent Name").in_(("D'Arcy",))) == "Agent_Name in ('D''Arcy')"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "null"),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (-12, "-12"),
        (2**70, str(2**70)),
        (1.5, "1.5"),
        (10.0, "10.0"),
        (1e300, "1e+300"),
        (-2.5e-7, "-2.5e-07"),
        ("", "''"),
        ("50% + 'x'", "'50% + ''x'''"),
        (dt.date(2020, 6, 1), "2020-06-01"),
        (dt.datetime(2020, 6, 1, tzinfo=dt.UTC), "2020-06-01T00:00:00Z"),
        (dt.datetime(2020, 6, 1, 1, 2, 3, 4500, tzinfo=dt.UTC), "2020-06-01T01:02:03.004500Z"),
        (dt.datetime(2020, 6, 1, 9, tzinfo=NY), "2020-06-01T09:00:00-04:00"),
        (dt.datetime(2020, 1, 1, 9, tzinfo=NY), "2020-01-01T09:00:00-05:00"),
        (
            dt.datetime(2020, 6, 1, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
            "2020-06-01T00:00:00+05:30",
        ),
        (uuid.UUID("0123456789ABCDEF0123456789ABCDEF"), "01234567-89ab-cdef-0123-456789abcdef"),
    ],
)
def test_literals(value: bm.FilterValue, text: str) -> None:
    assert render_literal(value) == text


def test_int_enum_renders_as_number() -> None:
    class Level(enum.IntEnum):
        HIGH = 3

    assert render_literal(Level.HIGH) == "3"


def test_sub_minute_offsets_are_rendered_in_utc() -> None:
    # Before 1883 New York was on local mean time, -04:56:02: OData offsets are hh:mm.
    lmt = dt.datetime(1850, 1, 1, 12, tzinfo=NY)
    assert lmt.utcoffset() == -dt.timedelta(hours=4, minutes=56, seconds=2)
    assert render_literal(lmt) == "1850-01-01T16:56:02Z"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (dt.datetime(2020, 6, 1), "naive"),
        (float("inf"), "finite"),
        (float("-inf"), "finite"),
        (float("nan"), "finite"),
        (b"bytes", "not bytes"),
        (object(), "not object"),
        (dt.time(1, 2), "not time"),
        ("\udc00", "not valid Unicode"),
    ],
)
def test_bad_values_are_refused(value: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        bm.where(X=value)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=message):
        bm.where(X=[value])  # type: ignore[list-item]


def test_bad_containers_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="at least one value"):
        bm.where(X=[])
    with pytest.raises(ConfigurationError, match="no order"):
        bm.where(X={"a", "b"})  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="not a string"):
        bm.F("X").in_("abc")


def test_naive_datetimes_need_a_zone() -> None:
    naive = dt.datetime(2020, 6, 1, 8, 30)
    with pytest.raises(ConfigurationError, match="tz="):
        bm.between(naive, naive)
    with pytest.raises(ConfigurationError, match="naive"):
        bm.ge(naive)
    assert str(bm.where(T=bm.ge(naive, tz="UTC"))) == "T ge 2020-06-01T08:30:00Z"
    assert str(bm.where(T=bm.ge(naive, tz=NY))) == "T ge 2020-06-01T08:30:00-04:00"
    assert str(bm.where(T=bm.le(naive, tz="Eastern Standard Time"))) == (
        "T le 2020-06-01T08:30:00-04:00"
    )
    # An aware value keeps its own offset; tz only reads naive values.
    aware = dt.datetime(2020, 6, 1, 8, 30, tzinfo=dt.UTC)
    assert str(bm.where(T=bm.ge(aware, tz=NY))) == "T ge 2020-06-01T08:30:00Z"


def test_dates_with_a_zone_cover_whole_days() -> None:
    expr = bm.where(Call_Date_Time=bm.between(dt.date(2020, 5, 1), dt.date(2020, 5, 31), tz=NY))
    assert str(expr) == (
        "Call_Date_Time ge 2020-05-01T00:00:00-04:00"
        " and Call_Date_Time le 2020-05-31T23:59:59.999999-04:00"
    )
    day = dt.date(2020, 1, 15)
    assert str(bm.where(D=bm.ge(day, tz="UTC"))) == "D ge 2020-01-15T00:00:00Z"
    assert str(bm.where(D=bm.lt(day, tz="UTC"))) == "D lt 2020-01-15T00:00:00Z"
    assert str(bm.where(D=bm.gt(day, tz="UTC"))) == "D gt 2020-01-15T23:59:59.999999Z"
    with pytest.raises(ConfigurationError, match="use between"):
        bm.eq(day, tz="UTC")
    # Without a zone a date stays an Edm.Date literal.
    assert str(bm.where(D=bm.between(day, day))) == "D ge 2020-01-15 and D le 2020-01-15"


def test_between_checks_its_bounds() -> None:
    assert str(bm.where(N=bm.between(1, 2.5))) == "N ge 1 and N le 2.5"
    with pytest.raises(ConfigurationError, match="after the end"):
        bm.between(5, 1)
    with pytest.raises(ConfigurationError, match="one kind"):
        bm.between(dt.date(2020, 1, 1), dt.datetime(2020, 1, 2, tzinfo=dt.UTC))
    with pytest.raises(ConfigurationError, match="two datetimes"):
        bm.between("a", "b")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="two datetimes"):
        bm.between(True, 2)
    late = dt.datetime(2020, 1, 1, 12, tzinfo=dt.UTC)
    early_elsewhere = dt.datetime(2020, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=3)))
    with pytest.raises(ConfigurationError, match="after the end"):
        bm.between(late, early_elsewhere)


def test_where_applies_the_label_rule_and_keeps_order() -> None:
    labelled: dict[str, bm.FilterValue | bm.Condition] = {
        "Queue Name": "Sales",
        "Time - Call - Total": bm.gt(10),
    }
    expr = bm.where(**labelled)
    assert [t.property for t in expr.terms] == ["Queue_Name", "Time_Call_Total"]
    with pytest.raises(ConfigurationError, match="no letter or digit"):
        bm.where(**{"--": 1})


def test_f_operators() -> None:
    f = bm.F("Time - Call - Total")
    assert repr(f) == "F('Time_Call_Total')"
    assert str(f > 10) == "Time_Call_Total gt 10"
    assert str(f >= 10) == "Time_Call_Total ge 10"
    assert str(f < 10) == "Time_Call_Total lt 10"
    assert str(f <= 10) == "Time_Call_Total le 10"
    assert str(f != 10) == "Time_Call_Total ne 10"
    assert str(bm.F("Queue Name") == "Sales") == "Queue_Name eq 'Sales'"
    assert str(bm.F("Queue Name") == ["a", "b"]) == "Queue_Name in ('a', 'b')"
    assert str(f.between(1, 2)) == "Time_Call_Total ge 1 and Time_Call_Total le 2"
    combined = (bm.F("Queue Name") == "Sales") & (f > 10)
    assert combined == bm.where(Queue_Name="Sales", Time_Call_Total=bm.gt(10))
    with pytest.raises(TypeError):
        hash(f)


def test_only_and_combines() -> None:
    a, b = bm.where(A=1), bm.where(B=2)
    assert (a & b).terms == a.terms + b.terms
    with pytest.raises(FilterError, match="'and' only") as info:
        a | b
    assert info.value.rule == "only-and"
    with pytest.raises(FilterError, match="not"):
        ~a  # noqa: B018
    with pytest.raises(FilterError, match="instead of '&'"):
        a and b  # noqa: B018
    with pytest.raises(FilterError, match="truth value"):
        0 < bm.F("X") < 2  # noqa: B015
    with pytest.raises(TypeError):
        a & "B eq 2"


def test_expressions_are_frozen_values() -> None:
    expr = bm.where(A="x")
    with pytest.raises(AttributeError):
        expr.terms = ()  # type: ignore[misc]
    assert expr == FilterExpr((Comparison("A", Op.EQ, "x"),))
    assert hash(expr) == hash(FilterExpr([Comparison("A", "eq", "x")]))
    assert InList("A", ["x", "y"]).values == ("x", "y")


def test_empty_filter() -> None:
    assert str(bm.where()) == ""
    assert bm.where().terms == ()


def test_terms_validate_their_parts() -> None:
    with pytest.raises(FilterError, match="not an OData property name"):
        Comparison("Queue Name", Op.EQ, "x")
    with pytest.raises(FilterError, match="unknown operator 'like'"):
        Comparison("A", "like", "x")
    with pytest.raises(ConfigurationError, match="Comparison or an InList"):
        FilterExpr(["A eq 1"])  # type: ignore[list-item]
    with pytest.raises(ConfigurationError, match="expected a FilterExpr"):
        bm.render_filter("A eq 1")  # type: ignore[arg-type]

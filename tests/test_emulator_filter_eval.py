"""The emulator's own $filter parser and evaluator (brightmetrics_async.testing._filter_eval).

Written from the vendor document and the OASIS ABNF; the accepted filters are also
checked against the official grammar, so the emulator is not merely self-consistent.
"""

from __future__ import annotations

import re
import string
import urllib.parse
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brightmetrics_async.testing._filter_eval import (
    CompiledFilter,
    FilterRejected,
    Term,
    compile_filter,
)

PROPS: Mapping[str, str] = {
    "Call_Date_Time": "Edm.DateTimeOffset",
    "Media_Type": "Edm.String",
    "Agent_Name": "Edm.String",
    "Agent_Name_by_Queue_Membership": "Edm.String",
    "Agent_Name_by_Skill": "Edm.String",
    "Agent_Name_by_Group_Membership": "Edm.String",
    "Time_Talk_Total": "Edm.Double",
    "Calls": "Edm.Int32",
    "Big": "Edm.Int64",
    "Is_Internal": "Edm.Boolean",
}

D = datetime(2020, 6, 1, tzinfo=UTC)


def compiled(text: str) -> CompiledFilter:
    return compile_filter(text, PROPS)


def quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# --- accepted filters ----------------------------------------------------------------------

ACCEPTED: list[tuple[str, tuple[Term, ...]]] = [
    ("Media_Type eq 'Voice'", (Term("Media_Type", "eq", ("Voice",)),)),
    ("Agent_Name eq 'O''Brien'", (Term("Agent_Name", "eq", ("O'Brien",)),)),
    ("Agent_Name eq ''''", (Term("Agent_Name", "eq", ("'",)),)),
    ("Agent_Name eq ''", (Term("Agent_Name", "eq", ("",)),)),
    ("Agent_Name eq 'a and b or c'", (Term("Agent_Name", "eq", ("a and b or c",)),)),
    ("Agent_Name eq '(x), y'", (Term("Agent_Name", "eq", ("(x), y",)),)),
    ("Agent_Name eq 'Zoë 日本'", (Term("Agent_Name", "eq", ("Zoë 日本",)),)),
    (
        "Media_Type in ('Customer Service', 'Sales')",
        (Term("Media_Type", "in", ("Customer Service", "Sales")),),
    ),
    ("Media_Type in ('a','b' ,  'c')", (Term("Media_Type", "in", ("a", "b", "c")),)),
    ("Media_Type in ( 'a' )", (Term("Media_Type", "in", ("a",)),)),
    ("Agent_Name ne 'Agent Spare 1'", (Term("Agent_Name", "ne", ("Agent Spare 1",)),)),
    ("Agent_Name eq null", (Term("Agent_Name", "eq", (None,)),)),
    ("Media_Type in ('a', null)", (Term("Media_Type", "in", ("a", None)),)),
    ("Time_Talk_Total gt 10", (Term("Time_Talk_Total", "gt", (10,)),)),
    ("Time_Talk_Total lt 20.5", (Term("Time_Talk_Total", "lt", (20.5,)),)),
    ("Time_Talk_Total ge -1.5e3", (Term("Time_Talk_Total", "ge", (-1500.0,)),)),
    ("Time_Talk_Total ge 2E-2", (Term("Time_Talk_Total", "ge", (0.02,)),)),
    ("Time_Talk_Total le +7", (Term("Time_Talk_Total", "le", (7,)),)),
    ("Time_Talk_Total ne 0", (Term("Time_Talk_Total", "ne", (0,)),)),
    ("Time_Talk_Total lt INF", (Term("Time_Talk_Total", "lt", (float("inf"),)),)),
    ("Time_Talk_Total gt -INF", (Term("Time_Talk_Total", "gt", (float("-inf"),)),)),
    ("Calls ge -2147483648", (Term("Calls", "ge", (-(2**31),)),)),
    ("Big le 9223372036854775807", (Term("Big", "le", (2**63 - 1,)),)),
    ("Is_Internal ne true", (Term("Is_Internal", "ne", (True,)),)),
    ("Call_Date_Time ge 2020-06-01T00:00:00Z", (Term("Call_Date_Time", "ge", (D,)),)),
    ("Call_Date_Time ge 2020-06-01T00:00Z", (Term("Call_Date_Time", "ge", (D,)),)),
    (
        "Call_Date_Time le 2020-07-01T00:00:00.123456789Z",
        (Term("Call_Date_Time", "le", (datetime(2020, 7, 1, 0, 0, 0, 123456, UTC),)),),
    ),
    (
        "Call_Date_Time gt 2020-06-01T02:00:00+02:00",
        (Term("Call_Date_Time", "gt", (D,)),),
    ),
    (
        "Call_Date_Time lt 2020-05-31T19:00:00-05:00",
        (Term("Call_Date_Time", "lt", (D,)),),
    ),
    ("Call_Date_Time ne null", (Term("Call_Date_Time", "ne", (None,)),)),
    (
        "Call_Date_Time ge 2020-05-01T00:00:00Z and Call_Date_Time le 2020-05-31T23:59:59Z"
        " and Media_Type in ('Customer Service', 'Sales')",
        (
            Term("Call_Date_Time", "ge", (datetime(2020, 5, 1, tzinfo=UTC),)),
            Term("Call_Date_Time", "le", (datetime(2020, 5, 31, 23, 59, 59, tzinfo=UTC),)),
            Term("Media_Type", "in", ("Customer Service", "Sales")),
        ),
    ),
    (
        "Time_Talk_Total gt 1 and Time_Talk_Total lt 2",
        (Term("Time_Talk_Total", "gt", (1,)), Term("Time_Talk_Total", "lt", (2,))),
    ),
    ("(Media_Type eq 'a')", (Term("Media_Type", "eq", ("a",)),)),
    ("((Media_Type eq 'a'))", (Term("Media_Type", "eq", ("a",)),)),
    (
        "( Media_Type eq 'a' and Calls gt 1 )",
        (Term("Media_Type", "eq", ("a",)), Term("Calls", "gt", (1,))),
    ),
    (
        "(Media_Type eq 'a') and (Calls gt 1)",
        (Term("Media_Type", "eq", ("a",)), Term("Calls", "gt", (1,))),
    ),
    (
        "Media_Type  eq\t'a'   and  Calls gt 1",
        (Term("Media_Type", "eq", ("a",)), Term("Calls", "gt", (1,))),
    ),
]


@pytest.mark.parametrize(("text", "terms"), ACCEPTED)
def test_accepted_filters_compile_to_their_terms(text: str, terms: tuple[Term, ...]) -> None:
    result = compiled(text)
    assert result.terms == terms
    assert result.properties == frozenset(t.prop for t in terms)
    assert result.text == text


def test_fractional_offset_keeps_its_offset() -> None:
    (term,) = compiled("Call_Date_Time ge 2020-06-01T05:30:00+05:30").terms
    value = term.values[0]
    assert isinstance(value, datetime)
    assert value.utcoffset() == timedelta(hours=5, minutes=30)
    assert value == D


# --- rejected filters ----------------------------------------------------------------------

REJECTED: list[tuple[str, str]] = [
    # syntax
    ("", "InvalidFilter"),
    (" Media_Type eq 'a'", "InvalidFilter"),
    ("Media_Type eq 'a' ", "InvalidFilter"),
    ("Media_Type eq 'a", "InvalidFilter"),
    ("Media_Type eq 'a''", "InvalidFilter"),
    ('Media_Type eq "a"', "InvalidFilter"),
    ("Media_Type eq", "InvalidFilter"),
    ("Media_Type", "InvalidFilter"),
    ("Media_Type 'a'", "InvalidFilter"),
    ("Media_Type eq'a'", "InvalidFilter"),
    ("Media_Type+eq+'a'", "InvalidFilter"),
    ("Media_Type EQ 'a'", "InvalidFilter"),
    ("Media_Type equals 'a'", "InvalidFilter"),
    ("Media_Type == 'a'", "InvalidFilter"),
    ("Media_Type eq 'a' And Calls gt 1", "InvalidFilter"),
    ("Media_Type eq 'a' and", "InvalidFilter"),
    ("Media_Type eq 'a'and Calls gt 1", "InvalidFilter"),
    ("Media_Type eq 'a' Calls gt 1", "InvalidFilter"),
    ("and Media_Type eq 'a'", "InvalidFilter"),
    ("(Media_Type eq 'a'", "InvalidFilter"),
    ("Media_Type eq 'a')", "InvalidFilter"),
    ("()", "InvalidFilter"),
    ("'a' eq Media_Type", "InvalidFilter"),
    ("Media_Type eq Agent_Name", "InvalidFilter"),
    ("Media_Type in 'a'", "InvalidFilter"),
    ("Media_Type in ()", "InvalidFilter"),
    ("Media_Type in ('a',)", "InvalidFilter"),
    ("Media_Type in ('a' 'b')", "InvalidFilter"),
    ("Media_Type in('a')", "InvalidFilter"),
    ("Calls gt 1.", "InvalidFilter"),
    ("Calls gt .5", "InvalidFilter"),
    ("Calls gt 1x", "InvalidFilter"),
    ("Calls gt 0x10", "InvalidFilter"),
    ("Call_Date_Time ge 2020-06-01T00:00:00", "InvalidFilter"),
    ("Call_Date_Time ge 2020-13-01T00:00:00Z", "InvalidFilter"),
    ("Call_Date_Time ge 2020-02-30T00:00:00Z", "InvalidFilter"),
    ("Call_Date_Time ge 2020-06-01T24:00:00Z", "InvalidFilter"),
    ("Call_Date_Time ge 2020-06-01T00:00:60Z", "InvalidFilter"),
    ("Call_Date_Time ge 2020-06-01T00:00:00+25:00", "InvalidFilter"),
    ("Call_Date_Time ge 2020-06-01T00:00:00.1234567890123Z", "InvalidFilter"),
    ("Call_Date_Time ge 2020-06-01 00:00:00Z", "InvalidFilter"),
    ("Media_Type eq 'a';", "InvalidFilter"),
    ("$it/Media_Type eq 'a'", "InvalidFilter"),
    ("Media_Type/x eq 'a'", "InvalidFilter"),
    ("A" * 129 + " eq 'a'", "InvalidFilter"),
    # unsupported operators
    ("Media_Type eq 'a' or Media_Type eq 'b'", "UnsupportedOperator"),
    ("not Media_Type eq 'a'", "UnsupportedOperator"),
    ("not (Media_Type eq 'a')", "UnsupportedOperator"),
    ("contains(Media_Type, 'a')", "UnsupportedOperator"),
    ("startswith(Agent_Name,'A') eq true", "UnsupportedOperator"),
    ("Calls add 1 gt 2", "UnsupportedOperator"),
    ("Calls mod 2 eq 0", "UnsupportedOperator"),
    ("Media_Type has 'a'", "UnsupportedOperator"),
    ("(Media_Type eq 'a' or Calls gt 1) and Agent_Name eq 'x'", "UnsupportedOperator"),
    # unknown properties (case-sensitive)
    ("Queue_Name eq 'Sales'", "UnknownProperty"),
    ("media_type eq 'a'", "UnknownProperty"),
    ("Media_Type eq 'a' and Nope gt 1", "UnknownProperty"),
    # operators not allowed by the vendor
    ("Media_Type gt 'a'", "OperatorNotAllowed"),
    ("Agent_Name le 'z'", "OperatorNotAllowed"),
    ("Time_Talk_Total eq 10", "OperatorNotAllowed"),
    ("Calls in (1, 2)", "OperatorNotAllowed"),
    ("Call_Date_Time eq 2020-06-01T00:00:00Z", "OperatorNotAllowed"),
    ("Is_Internal eq true", "OperatorNotAllowed"),
    ("Is_Internal gt false", "OperatorNotAllowed"),
    # literal of the wrong type
    ("Media_Type eq 5", "TypeMismatch"),
    ("Media_Type eq true", "TypeMismatch"),
    ("Media_Type in ('a', 2)", "TypeMismatch"),
    ("Media_Type eq 2020-06-01T00:00:00Z", "TypeMismatch"),
    ("Time_Talk_Total gt '10'", "TypeMismatch"),
    ("Time_Talk_Total gt 2020-06-01T00:00:00Z", "TypeMismatch"),
    ("Time_Talk_Total gt null", "TypeMismatch"),
    ("Calls gt 1.5", "TypeMismatch"),
    ("Calls gt 1e3", "TypeMismatch"),
    ("Calls gt NaN", "TypeMismatch"),
    ("Calls gt 2147483648", "TypeMismatch"),
    ("Big gt 9223372036854775808", "TypeMismatch"),
    ("Call_Date_Time ge '2020-06-01T00:00:00Z'", "TypeMismatch"),
    ("Call_Date_Time ge 2020-06-01", "TypeMismatch"),
    ("Call_Date_Time ge 1591000000", "TypeMismatch"),
    ("Call_Date_Time le null", "TypeMismatch"),
    ("Is_Internal ne 'true'", "TypeMismatch"),
    ("Is_Internal ne 1", "TypeMismatch"),
    # the same property twice
    ("Media_Type eq 'a' and Media_Type eq 'b'", "DuplicateProperty"),
    ("Media_Type eq 'a' and Media_Type ne 'b'", "DuplicateProperty"),
    ("Agent_Name eq 'a' and Agent_Name eq 'a'", "DuplicateProperty"),
    ("Calls ge 1 and Calls ge 2", "DuplicateProperty"),
    ("Calls le 1 and Calls lt 2", "DuplicateProperty"),
    ("Calls ge 1 and Calls ne 3", "DuplicateProperty"),
    ("Calls ge 1 and Calls le 5 and Calls ne 3", "DuplicateProperty"),
    ("Calls ge 1 and Calls le 5 and Calls le 6", "DuplicateProperty"),
    (
        "Call_Date_Time ge 2020-06-01T00:00:00Z and (Call_Date_Time gt 2020-06-02T00:00:00Z)",
        "DuplicateProperty",
    ),
    # Agent_Name proxies are one filter
    ("Agent_Name eq 'a' and Agent_Name_by_Skill eq 'b'", "AgentProxyConflict"),
    ("Agent_Name_by_Skill eq 'a' and Agent_Name_by_Queue_Membership ne 'b'", "AgentProxyConflict"),
    (
        "Agent_Name_by_Group_Membership in ('g') and Media_Type eq 'x' and Agent_Name ne 'y'",
        "AgentProxyConflict",
    ),
]


@pytest.mark.parametrize(("text", "code"), REJECTED)
def test_rejected_filters_carry_the_rule_code(text: str, code: str) -> None:
    with pytest.raises(FilterRejected) as info:
        compiled(text)
    assert info.value.code == code
    assert info.value.message
    assert str(info.value) == f"{code}: {info.value.message}"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("Agent_name eq 'x'", "did you mean 'Agent_Name'"),
        ("Call_Date_Time ge 2020-06-01T00:00:00", "time zone"),
        ("Call_Date_Time ge 2020-06-01", "2020-06-01T00:00:00Z"),
        ("Media_Type EQ 'a'", "lowercase"),
        ("Media_Type eq 'a", "unterminated"),
        ("Media_Type eq Agent_Name", "comparing two properties"),
        ("Agent_Name eq 'a' and Agent_Name_by_Skill eq 'b'", "Agent_Name_by_Skill"),
        ("Media_Type eq 'a' or Media_Type eq 'b'", "'or'"),
        ("Calls gt 1 and Media_Type gt 1", "position"),
    ],
)
def test_rejection_messages_say_what_to_fix(text: str, fragment: str) -> None:
    with pytest.raises(FilterRejected) as info:
        compiled(text)
    if fragment == "position":
        # Semantic errors do not point at a position, but name the offending property.
        assert "Media_Type" in info.value.message
    else:
        assert fragment in info.value.message


def test_syntax_errors_win_over_semantic_errors() -> None:
    # An unknown property and an 'or': the whole text is parsed before meaning is checked.
    with pytest.raises(FilterRejected) as info:
        compiled("Nope eq 'a' or Media_Type eq 'b'")
    assert info.value.code == "UnsupportedOperator"


def test_unsupported_edm_type_in_the_schema_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match=r"Edm\.Guid"):
        compile_filter("Media_Type eq 'a'", {"Media_Type": "Edm.String", "Id": "Edm.Guid"})


# --- evaluation ----------------------------------------------------------------------------

T0 = datetime(2020, 6, 1, 12, 0, tzinfo=UTC)
EST = timezone(timedelta(hours=-5))

EVALUATED: list[tuple[str, dict[str, Any], bool]] = [
    ("Media_Type eq 'Voice'", {"Media_Type": "Voice"}, True),
    ("Media_Type eq 'Voice'", {"Media_Type": "voice"}, False),
    ("Media_Type eq 'Voice'", {"Media_Type": "Voice "}, False),
    ("Media_Type eq 'Voice'", {"Media_Type": None}, False),
    ("Media_Type ne 'Voice'", {"Media_Type": None}, True),
    ("Media_Type ne 'Voice'", {"Media_Type": "Chat"}, True),
    ("Media_Type ne 'Voice'", {"Media_Type": "Voice"}, False),
    ("Media_Type eq null", {"Media_Type": None}, True),
    ("Media_Type eq null", {"Media_Type": ""}, False),
    ("Media_Type ne null", {"Media_Type": "x"}, True),
    ("Media_Type in ('a', 'b')", {"Media_Type": "b"}, True),
    ("Media_Type in ('a', 'b')", {"Media_Type": "c"}, False),
    ("Media_Type in ('a', null)", {"Media_Type": None}, True),
    ("Agent_Name eq 'O''Brien'", {"Agent_Name": "O'Brien"}, True),
    # multi-valued proxies: any member for eq/in, none for ne
    ("Agent_Name_by_Skill eq 'Sales'", {"Agent_Name_by_Skill": frozenset({"Sales", "X"})}, True),
    ("Agent_Name_by_Skill eq 'Sales'", {"Agent_Name_by_Skill": frozenset({"X"})}, False),
    ("Agent_Name_by_Skill eq 'Sales'", {"Agent_Name_by_Skill": frozenset()}, False),
    ("Agent_Name_by_Skill in ('A', 'B')", {"Agent_Name_by_Skill": frozenset({"B", "C"})}, True),
    ("Agent_Name_by_Skill in ('A', 'B')", {"Agent_Name_by_Skill": frozenset({"C"})}, False),
    ("Agent_Name_by_Skill ne 'Sales'", {"Agent_Name_by_Skill": frozenset({"Sales", "X"})}, False),
    ("Agent_Name_by_Skill ne 'Sales'", {"Agent_Name_by_Skill": frozenset({"X"})}, True),
    ("Agent_Name_by_Skill ne 'Sales'", {"Agent_Name_by_Skill": frozenset()}, True),
    ("Agent_Name_by_Skill eq null", {"Agent_Name_by_Skill": frozenset()}, True),
    ("Agent_Name_by_Skill ne null", {"Agent_Name_by_Skill": frozenset({"X"})}, True),
    # numbers
    ("Time_Talk_Total gt 10", {"Time_Talk_Total": 10.5}, True),
    ("Time_Talk_Total gt 10", {"Time_Talk_Total": 10}, False),
    ("Time_Talk_Total ge 10", {"Time_Talk_Total": 10.0}, True),
    ("Time_Talk_Total lt 10", {"Time_Talk_Total": 9.99}, True),
    ("Time_Talk_Total le 10", {"Time_Talk_Total": 10.01}, False),
    ("Time_Talk_Total gt -1", {"Time_Talk_Total": None}, False),
    ("Time_Talk_Total lt 1", {"Time_Talk_Total": None}, False),
    ("Time_Talk_Total ne 3", {"Time_Talk_Total": 3.0}, False),
    ("Time_Talk_Total ne 3", {"Time_Talk_Total": None}, True),
    ("Time_Talk_Total lt INF", {"Time_Talk_Total": 1e308}, True),
    ("Is_Internal ne true", {"Is_Internal": False}, True),
    ("Is_Internal ne true", {"Is_Internal": True}, False),
    ("Calls ne 1", {"Calls": True}, True),  # a bool is not the number 1
    # datetimes compare as instants, whatever the offsets
    ("Call_Date_Time ge 2020-06-01T12:00:00Z", {"Call_Date_Time": T0}, True),
    ("Call_Date_Time gt 2020-06-01T12:00:00Z", {"Call_Date_Time": T0}, False),
    ("Call_Date_Time gt 2020-06-01T06:59:59-05:00", {"Call_Date_Time": T0}, True),
    ("Call_Date_Time lt 2020-06-01T07:00:00-05:00", {"Call_Date_Time": T0}, False),
    ("Call_Date_Time le 2020-06-01T12:00:00Z", {"Call_Date_Time": T0.astimezone(EST)}, True),
    ("Call_Date_Time ne 2020-06-01T07:00:00-05:00", {"Call_Date_Time": T0}, False),
    ("Call_Date_Time ge 2020-06-01T00:00:00Z", {"Call_Date_Time": None}, False),
    # conjunction
    (
        "Call_Date_Time ge 2020-06-01T00:00:00Z and Call_Date_Time lt 2020-06-02T00:00:00Z"
        " and Media_Type in ('Voice')",
        {"Call_Date_Time": T0, "Media_Type": "Voice"},
        True,
    ),
    (
        "Call_Date_Time ge 2020-06-01T00:00:00Z and Call_Date_Time lt 2020-06-01T12:00:00Z"
        " and Media_Type in ('Voice')",
        {"Call_Date_Time": T0, "Media_Type": "Voice"},
        False,
    ),
    (
        "(Media_Type eq 'Voice') and (Agent_Name ne 'Agent Spare 1')",
        {"Media_Type": "Voice", "Agent_Name": "Agent Spare 1"},
        False,
    ),
]


@pytest.mark.parametrize(("text", "row", "expected"), EVALUATED)
def test_matches(text: str, row: dict[str, Any], expected: bool) -> None:
    asked: list[str] = []

    def value_of(prop: str) -> object:
        asked.append(prop)
        return row[prop]

    assert compiled(text).matches(value_of) is expected
    assert set(asked) <= compiled(text).properties


def test_naive_row_datetime_fails_loudly() -> None:
    flt = compiled("Call_Date_Time ge 2020-06-01T00:00:00Z")
    with pytest.raises(TypeError):
        flt.matches(lambda _prop: datetime(2020, 6, 2))  # deliberately naive


# --- bounds --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lower", "upper"),
    [
        ("Media_Type eq 'a'", None, None),
        ("Call_Date_Time ge 2020-06-01T00:00:00Z", D, None),
        ("Call_Date_Time gt 2020-06-01T00:00:00Z", D, None),
        ("Call_Date_Time le 2020-06-01T00:00:00Z", None, D),
        ("Call_Date_Time lt 2020-05-31T20:00:00-04:00", None, D),
        (
            "Call_Date_Time le 2020-07-01T00:00:00Z and Media_Type eq 'x'"
            " and Call_Date_Time ge 2020-06-01T02:00:00+02:00",
            D,
            datetime(2020, 7, 1, tzinfo=UTC),
        ),
        ("Call_Date_Time ne 2020-06-01T00:00:00Z", None, None),
    ],
)
def test_bounds(text: str, lower: datetime | None, upper: datetime | None) -> None:
    got = compiled(text).bounds("Call_Date_Time")
    assert got == (lower, upper)
    for value in got:
        assert value is None or value.utcoffset() == timedelta(0)
    assert compiled(text).bounds("Not_Filtered") == (None, None)


def test_bounds_refuse_a_number_property() -> None:
    with pytest.raises(ValueError, match="number"):
        compiled("Time_Talk_Total ge 1").bounds("Time_Talk_Total")


# --- properties: quoting round-trips -------------------------------------------------------

texts = st.text(st.characters(codec="utf-8") | st.sampled_from("' ()'',and"), max_size=20)


@given(st.lists(texts, min_size=1, max_size=6))
def test_quoted_strings_round_trip_inside_in(values: list[str]) -> None:
    text = "Agent_Name in (" + ", ".join(quote(v) for v in values) + ")"
    (term,) = compiled(text).terms
    assert term.values == tuple(values)
    for value in values:
        assert compiled(text).matches(lambda _prop, v=value: v)  # type: ignore[misc]
    absent = "x" * (max(len(v) for v in values) + 1)  # longer than every member
    assert not compiled(text).matches(lambda _prop: absent)


@given(texts)
def test_quoted_string_round_trips_in_eq_and_ne(value: str) -> None:
    assert compiled(f"Agent_Name eq {quote(value)}").terms[0].values == (value,)
    assert compiled(f"Agent_Name ne {quote(value)}").matches(lambda _prop: value) is False


@given(
    st.datetimes(timezones=st.sampled_from([UTC, EST, timezone(timedelta(hours=5, minutes=45))]))
)
def test_datetime_literals_round_trip(value: datetime) -> None:
    literal = value.isoformat().replace("+00:00", "Z")
    assert compiled(f"Call_Date_Time ge {literal}").bounds("Call_Date_Time")[0] == value


@given(st.floats(allow_nan=False) | st.integers(-(10**20), 10**20))
def test_number_literals_round_trip(value: float) -> None:
    literal = repr(value) if isinstance(value, float) else str(value)
    literal = {"inf": "INF", "-inf": "-INF"}.get(literal, literal)
    (term,) = compiled(f"Time_Talk_Total ge {literal}").terms
    assert term.values == (value,)


# --- properties: each rule violation yields its code ---------------------------------------

VALID_TERMS = {
    "Media_Type": "Media_Type eq 'Voice'",
    "Time_Talk_Total": "Time_Talk_Total gt 1.5",
    "Calls": "Calls ne 3",
    "Is_Internal": "Is_Internal ne false",
    "Agent_Name_by_Skill": "Agent_Name_by_Skill in ('Sales', 'O''Brien')",
}

VIOLATIONS: dict[str, list[str]] = {
    "InvalidFilter": ["Media_Type eq 'x", "Calls gt 1.", "Calls  1", "Calls gt 0x1"],
    "UnsupportedOperator": ["contains(Media_Type, 'a')", "Calls add 1 gt 2"],
    "UnknownProperty": ["Queue_Name eq 'x'", "calls gt 1", "Agent_Name_by_Team eq 'x'"],
    "OperatorNotAllowed": ["Queue_Membership_Text gt 'a'", "Call_Date_Time eq 2020-01-01T00:00Z"],
    "TypeMismatch": ["Call_Date_Time ge 'x'", "Call_Date_Time lt 2020-06-01", "Big gt 1.5"],
}


def _extra_props() -> dict[str, str]:
    return {**PROPS, "Queue_Membership_Text": "Edm.String"}


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=60)
@given(
    code=st.sampled_from(sorted(VIOLATIONS)),
    data=st.data(),
    others=st.lists(st.sampled_from(sorted(VALID_TERMS)), unique=True, max_size=4),
    parens=st.booleans(),
)
def test_a_single_violation_yields_its_code(
    code: str, data: st.DataObject, others: list[str], parens: bool
) -> None:
    bad = data.draw(st.sampled_from(VIOLATIONS[code]))
    good = [VALID_TERMS[name] for name in others]
    position = data.draw(st.integers(0, len(good)))
    terms = [*good[:position], f"({bad})" if parens else bad, *good[position:]]
    text = " and ".join(terms)
    if good:  # the rest of the filter is valid on its own
        compile_filter(" and ".join(good), _extra_props())
    with pytest.raises(FilterRejected) as info:
        compile_filter(text, _extra_props())
    assert info.value.code == code


@given(
    st.sampled_from(
        [
            ("Media_Type eq 'a'", "Media_Type ne 'b'"),
            ("Calls ge 1", "Calls gt 2"),
            ("Calls lt 1", "Calls le 2"),
            ("Call_Date_Time ne null", "Call_Date_Time ge 2020-01-01T00:00:00Z"),
        ]
    ),
    st.permutations(range(3)),
)
def test_duplicates_are_detected_anywhere(pair: tuple[str, str], order: list[int]) -> None:
    parts = [pair[0], pair[1], "Is_Internal ne true"]
    with pytest.raises(FilterRejected) as info:
        compiled(" and ".join(parts[i] for i in order))
    assert info.value.code == "DuplicateProperty"


@given(
    st.lists(
        st.sampled_from(sorted(p for p in PROPS if p.startswith("Agent_Name"))),
        min_size=2,
        max_size=4,
        unique=True,
    )
)
def test_any_two_agent_proxies_conflict(proxies: list[str]) -> None:
    text = " and ".join(f"{p} eq 'x'" for p in proxies)
    with pytest.raises(FilterRejected) as info:
        compiled(text)
    assert info.value.code == "AgentProxyConflict"
    for proxy in proxies:
        assert compiled(f"{proxy} eq 'x'").properties == {proxy}


# --- the OASIS grammar agrees with what the emulator accepts --------------------------------

_ABNF = Path(__file__).parent / "data" / "odata-abnf" / "odata-abnf-construction-rules.txt"
_CORE_RULES = re.compile(r"^(ALPHA|DIGIT|HEXDIG|DQUOTE|SP|HTAB|VCHAR) ")


@pytest.fixture(scope="module")
def odata_grammar(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], None]:
    abnf = pytest.importorskip("abnf")
    if not _ABNF.exists():
        pytest.skip("OASIS ABNF not available")
    lines = [ln for ln in _ABNF.read_text().splitlines() if not _CORE_RULES.match(ln)]
    path = tmp_path_factory.mktemp("abnf") / "odata.abnf"
    path.write_text("\n".join(lines) + "\n")

    class OData(abnf.Rule):  # type: ignore[misc, name-defined]
        pass

    OData.from_file(path)
    rule = OData("boolCommonExpr")

    def parse(text: str) -> None:
        # The grammar describes the URL form: spaces as %20, '+' as %2B.
        rule.parse_all(urllib.parse.quote(text, safe="()',-:." + string.ascii_letters))

    return parse


# Tens of seconds when both cores are busy (pytest-xdist, a loaded machine): a wider limit
# than the suite's 60 s, which stays to catch a hang.
@pytest.mark.timeout(180)
@pytest.mark.parametrize("text", [text for text, _ in ACCEPTED])
def test_accepted_filters_are_valid_odata(odata_grammar: Callable[[str], None], text: str) -> None:
    odata_grammar(text)

"""check_filter / prepare_filter: the vendor's rules, checked before any request."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

import brightmetrics_async._filters as bm
from brightmetrics_async._errors import ConfigurationError, FilterError
from brightmetrics_async._filters import check_filter, parse_filter, prepare_filter
from brightmetrics_async._models import FilterSchema

# The report of the vendor's $metadata example, plus a few more types.
SCHEMA = FilterSchema(
    {
        "Call_Date_Time": "Edm.DateTimeOffset",
        "Media_Type": "Edm.String",
        "Agent_Name": "Edm.String",
        "Agent_Name_by_Queue_Membership": "Edm.String",
        "Agent_Name_by_Skill": "Edm.String",
        "Agent_Name_by_Group_Membership": "Edm.String",
        "Time_Talk_Total": "Edm.Double",
        "Queue_Name": "Edm.String",
        "Call_Day": "Edm.Date",
        "Calls": "Edm.Int32",
        "Priority": "Edm.Byte",
        "Is_Internal": "Edm.Boolean",
        "Call_Id": "Edm.Guid",
        "Legacy": "Int64",  # an unqualified type name is read as Edm.Int64
    },
    entity_type="filters_6f40b845-fb28-4547-b73b-e11ce29f481b",
)
START = dt.datetime(2020, 5, 1, tzinfo=dt.UTC)
END = dt.datetime(2020, 5, 31, 23, 59, 59, tzinfo=dt.UTC)


def rule_of(expr: bm.FilterExpr | str) -> tuple[str, str | None]:
    with pytest.raises(FilterError) as info:
        check_filter(parse_filter(expr) if isinstance(expr, str) else expr, SCHEMA)
    return info.value.rule, info.value.property


# A fixed value: the ids of parametrized tests must be the same in every pytest-xdist worker.
CALL_ID = uuid.UUID("60867466-7ffb-4876-9a11-ed94d541a957")


@pytest.mark.parametrize(
    "expr",
    [
        bm.where(Call_Date_Time=bm.between(START, END), Queue_Name=["Sales", "Support"]),
        bm.where(Call_Date_Time=bm.gt(START)) & bm.where(Call_Date_Time=bm.lt(END)),
        bm.where(Agent_Name=bm.ne("Agent Spare 1"), Time_Talk_Total=bm.gt(10)),
        bm.where(Time_Talk_Total=bm.between(0, 2.5), Calls=bm.ge(3), Priority=bm.le(255)),
        bm.where(Call_Day=bm.between(dt.date(2020, 1, 1), dt.date(2020, 1, 31))),
        bm.where(Media_Type=None, Is_Internal=bm.ne(True), Call_Id=bm.ne(CALL_ID)),
        bm.where(Agent_Name_by_Skill="x", Time_Talk_Total=bm.ne(None), Legacy=bm.gt(2**62)),
        bm.where(),
    ],
    ids=str,
)
def test_valid_filters_pass(expr: bm.FilterExpr) -> None:
    check_filter(expr, SCHEMA)
    check_filter(parse_filter(str(expr)), SCHEMA)


def test_unknown_property_suggests_a_name() -> None:
    with pytest.raises(FilterError, match="did you mean 'Queue_Name'") as info:
        check_filter(bm.where(Queue_Nmae="Sales"), SCHEMA)
    assert (info.value.rule, info.value.property) == ("unknown-property", "Queue_Nmae")
    with pytest.raises(FilterError, match=r"did you mean 'Queue_Name'.*case-sensitive"):
        check_filter(bm.where(queue_name="Sales"), SCHEMA)
    with pytest.raises(FilterError, match="Media_Type") as info:
        check_filter(bm.where(Zzz=1), {"Media_Type": "Edm.String"})
    assert "did you mean" not in info.value.message
    with pytest.raises(FilterError, match="no unlocked filters"):
        check_filter(bm.where(A="x"), {})


@pytest.mark.parametrize(
    ("text", "prop"),
    [
        ("Queue_Name gt 'A'", "Queue_Name"),
        ("Is_Internal le true", "Is_Internal"),
        ("Call_Id ge 01234567-89ab-cdef-0123-456789abcdef", "Call_Id"),
        ("Time_Talk_Total eq 10", "Time_Talk_Total"),
        ("Call_Date_Time eq 2020-01-01T00:00:00Z", "Call_Date_Time"),
        ("Calls in (1, 2)", "Calls"),
        ("Is_Internal eq true", "Is_Internal"),
    ],
)
def test_operator_type(text: str, prop: str) -> None:
    assert rule_of(text) == ("operator-type", prop)


def test_operator_type_messages_say_what_to_use() -> None:
    with pytest.raises(FilterError, match="use ge/le \\(or between\\) for a range, or ne"):
        check_filter(bm.where(Time_Talk_Total=10), SCHEMA)
    with pytest.raises(FilterError, match=r"only to dates and numbers; Queue_Name is Edm\.String"):
        check_filter(bm.where(Queue_Name=bm.gt("A")), SCHEMA)


@pytest.mark.parametrize(
    ("text", "prop"),
    [
        ("Queue_Name eq 5", "Queue_Name"),
        ("Queue_Name in ('a', 5)", "Queue_Name"),
        ("Time_Talk_Total gt '10'", "Time_Talk_Total"),
        ("Time_Talk_Total gt true", "Time_Talk_Total"),
        ("Time_Talk_Total gt null", "Time_Talk_Total"),
        ("Calls gt 1.5", "Calls"),
        ("Calls gt 2147483648", "Calls"),
        ("Priority gt 256", "Priority"),
        ("Priority gt -1", "Priority"),
        ("Legacy gt 9223372036854775808", "Legacy"),
        ("Call_Date_Time ge 2020-01-01", "Call_Date_Time"),
        ("Call_Date_Time ge 10", "Call_Date_Time"),
        ("Call_Day ge 2020-01-01T00:00:00Z", "Call_Day"),
        ("Is_Internal ne 1", "Is_Internal"),
        ("Call_Id ne '01234567-89ab-cdef-0123-456789abcdef'", "Call_Id"),
    ],
)
def test_literal_type(text: str, prop: str) -> None:
    assert rule_of(text) == ("literal-type", prop)


def test_date_on_a_datetime_property_suggests_whole_days() -> None:
    expr = bm.where(Call_Date_Time=bm.between(dt.date(2020, 5, 1), dt.date(2020, 5, 31)))
    with pytest.raises(FilterError, match=r"between\(start_date, end_date, tz=\.\.\.\)"):
        check_filter(expr, SCHEMA)
    fixed = bm.where(Call_Date_Time=bm.between(dt.date(2020, 5, 1), dt.date(2020, 5, 31), tz="UTC"))
    check_filter(fixed, SCHEMA)


@pytest.mark.parametrize(
    "text",
    [
        "Queue_Name eq 'a' and Queue_Name eq 'b'",
        "Queue_Name eq 'a' and Queue_Name in ('b')",
        "Calls ge 1 and Calls gt 2",
        "Calls le 1 and Calls lt 2",
        "Calls ge 1 and Calls le 5 and Calls ne 3",
        "Calls ne 1 and Calls ne 2",
        "Calls ge 1 and Calls ne 2",
    ],
)
def test_duplicate_property(text: str) -> None:
    assert rule_of(text) == ("duplicate-property", "Calls" if "Calls" in text else "Queue_Name")


def test_bound_pairs_are_allowed_in_any_order() -> None:
    for text in ["Calls le 5 and Calls ge 1", "Calls gt 1 and Queue_Name eq 'x' and Calls lt 5"]:
        check_filter(parse_filter(text), SCHEMA)


@pytest.mark.parametrize(
    "text",
    [
        "Agent_Name eq 'a' and Agent_Name_by_Skill eq 'b'",
        "Agent_Name_by_Queue_Membership eq 'a' and Agent_Name_by_Group_Membership ne 'b'",
    ],
)
def test_agent_proxy(text: str) -> None:
    rule, prop = rule_of(text)
    assert rule == "agent-proxy"
    assert prop is not None
    assert prop.startswith("Agent_Name_by_")


def test_agent_proxy_message_names_both() -> None:
    with pytest.raises(FilterError, match="Agent_Name and Agent_Name_by_Skill"):
        check_filter(bm.where(Agent_Name="a", Agent_Name_by_Skill="b"), SCHEMA)


def test_check_refuses_non_expressions() -> None:
    with pytest.raises(ConfigurationError, match="expected a FilterExpr"):
        check_filter("Queue_Name eq 'x'", SCHEMA)  # type: ignore[arg-type]


# -- prepare_filter ------------------------------------------------------------------


def test_prepare_raw_string_is_sent_as_given() -> None:
    text = "Queue_Name  in ('Sales','Support')"
    assert prepare_filter(text, SCHEMA) == text
    assert prepare_filter(f"  {text}\t", SCHEMA) == text
    assert prepare_filter(text, None) == text


def test_prepare_renders_builder_output() -> None:
    expr = bm.where(Queue_Name=["Sales", "O'Brien"])
    assert prepare_filter(expr, SCHEMA) == "Queue_Name in ('Sales', 'O''Brien')"


def test_prepare_none_and_empty() -> None:
    assert prepare_filter(None, SCHEMA) is None
    assert prepare_filter("", SCHEMA) is None
    assert prepare_filter("   ", SCHEMA) is None
    assert prepare_filter(bm.where(), SCHEMA) is None


def test_prepare_checks_raw_strings() -> None:
    with pytest.raises(FilterError) as info:
        prepare_filter("Queue_Name eq 'a' or Queue_Name eq 'b'", SCHEMA)
    assert info.value.rule == "only-and"
    with pytest.raises(FilterError) as info:
        prepare_filter("Queue_Nam eq 'a'", SCHEMA)
    assert info.value.rule == "unknown-property"
    # Without a schema only the syntax is checked.
    assert prepare_filter("Queue_Nam eq 'a'", None) == "Queue_Nam eq 'a'"
    with pytest.raises(FilterError) as info:
        prepare_filter("Queue_Nam eq", None)
    assert info.value.rule == "syntax"


def test_prepare_checks_builder_output_against_the_schema() -> None:
    with pytest.raises(FilterError) as info:
        prepare_filter(bm.where(Agent_Name="a", Agent_Name_by_Skill="b"), SCHEMA)
    assert info.value.rule == "agent-proxy"


def test_check_false_is_the_escape_hatch() -> None:
    raw = "contains(Queue_Name, 'Sal') or Nope eq 1"
    assert prepare_filter(raw, SCHEMA, check=False) == raw
    expr = bm.where(Nope=1)
    assert prepare_filter(expr, SCHEMA, check=False) == "Nope eq 1"


def test_prepare_refuses_other_types() -> None:
    with pytest.raises(ConfigurationError, match="string or a FilterExpr"):
        prepare_filter({"Queue_Name": "x"}, SCHEMA)  # type: ignore[arg-type]

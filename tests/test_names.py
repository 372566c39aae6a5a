"""odata_name: the vendor's label-to-property rule."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brightmetrics_async._errors import ConfigurationError
from brightmetrics_async._names import is_simple_identifier, odata_name


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Time - Call - Total", "Time_Call_Total"),
        ("Queue Name", "Queue_Name"),
        ("Agent Name (by Skill)", "Agent_Name_by_Skill"),
        (
            "Helpdesk Workgroup Service-Level Summary w/o Wait Time",
            "Helpdesk_Workgroup_Service_Level_Summary_w_o_Wait_Time",
        ),
        ("  Call   Date/Time  ", "Call_Date_Time"),
        ("Time_Call_Total", "Time_Call_Total"),
        ("A__B", "A_B"),
        ("__x__", "x"),
        ("Café Größe", "Café_Größe"),
        ("Очередь 1", "Очередь_1"),
        ("3 Day Total", "_3_Day_Total"),
        ("% Answered", "Answered"),
        ("Agent's Name", "Agent_s_Name"),
    ],
)
def test_vendor_rule(label: str, expected: str) -> None:
    assert odata_name(label) == expected
    assert is_simple_identifier(odata_name(label))


@pytest.mark.parametrize("label", ["", "   ", "---", "_", "()", "%"])
def test_labels_without_letters_are_refused(label: str) -> None:
    with pytest.raises(ConfigurationError, match="no letter or digit"):
        odata_name(label)


def test_non_string_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="must be a string"):
        odata_name(42)  # type: ignore[arg-type]


def test_too_long_names_are_refused() -> None:
    assert len(odata_name("a" * 128)) == 128
    with pytest.raises(ConfigurationError, match="at most 128"):
        odata_name("a" * 129)


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("Queue_Name", True),
        ("_1", True),
        ("é", True),
        ("1a", False),
        ("", False),
        ("a b", False),
        ("$it", False),
        ("a" * 129, False),
        ("a\u0301", True),
        ("\u0301a", False),
    ],
)
def test_is_simple_identifier(name: str, ok: bool) -> None:
    assert is_simple_identifier(name) is ok


@given(st.text(min_size=1))
def test_result_is_an_identifier_and_the_rule_is_idempotent(label: str) -> None:
    try:
        name = odata_name(label)
    except ConfigurationError:
        kept = {"Lu", "Ll", "Lt", "Lm", "Lo", "Nl", "Nd", "Mn", "Mc"}
        assert not any(unicodedata.category(c) in kept for c in label) or len(label) > 128
        return
    assert is_simple_identifier(name)
    assert "__" not in name
    assert not name.endswith("_")
    assert odata_name(name) == name


@given(
    st.lists(st.from_regex(r"[A-Za-z0-9]{1,8}", fullmatch=True), min_size=1, max_size=5),
    st.lists(st.from_regex(r"[ \-/().,:&%]{1,4}", fullmatch=True), min_size=5, max_size=5),
)
def test_words_are_kept_in_order(words: list[str], seps: list[str]) -> None:
    label = "".join(w + s for w, s in zip(words, seps, strict=False))
    name = odata_name(label)
    assert re.sub(r"^_(?=\d)", "", name).split("_") == words

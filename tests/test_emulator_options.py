"""Pure tests of the emulator's standard query options and its TOML accounts file."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brightmetrics_async.testing._accounts_file import demo_registry, load_accounts
from brightmetrics_async.testing._options import OptionError, QueryOptions, parse_options
from brightmetrics_async.testing._query import BadRequest, parse_query
from brightmetrics_async.testing._reports import Report, default_reports

REPORTS = default_reports()
SUMMARY, DETAIL = REPORTS[0], REPORTS[3]


@given(
    values=st.dictionaries(
        st.sampled_from(["$filter", "timezone", "$select", "$format", "x y", "a+b"]),
        st.text(),
        max_size=4,
    ),
    skip=st.integers(0, 10**6),
    top=st.none() | st.integers(0, 10**6),
    served=st.integers(0, 1000),
)
def test_a_row_window_next_link_reads_back_through_the_strict_parser(
    values: dict[str, str], skip: int, top: int | None, served: int
) -> None:
    # Whatever the request carried, the next link's query is read back to the same values by
    # the emulator's own strict parser (no literal '+', every other byte percent-encoded).
    options = QueryOptions(top=top, skip=skip)
    query = options.next_query(values, served)
    assert "+" not in query
    back = parse_query("/r?" + query, plus="reject")
    expected = {**values, "$skip": str(skip + served)}
    if top is not None:
        expected["$top"] = str(top - served)
    assert back == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, QueryOptions()),
        ({"$top": "3", "$skip": "0"}, QueryOptions(top=3, skip=0)),
        ({"$count": "TRUE"}, QueryOptions(count=True)),
        ({"$count": "false"}, QueryOptions()),
        ({"$select": "*"}, QueryOptions()),
        ({"$select": "*,Queue_Name"}, QueryOptions()),
        # The report's column order, whatever order was asked, each column once.
        (
            {"$select": " Calls_Offered ,Queue_Name,Queue_Name"},
            QueryOptions(select=("Queue_Name", "Calls_Offered")),
        ),
    ],
)
def test_parse_options(params: dict[str, str], expected: QueryOptions) -> None:
    assert parse_options(params, SUMMARY) == expected


@pytest.mark.parametrize(
    ("params", "report", "message"),
    [
        ({"$top": "-1"}, SUMMARY, "non-negative integer"),
        ({"$top": ""}, SUMMARY, "non-negative integer"),
        ({"$skip": "1e3"}, SUMMARY, "non-negative integer"),
        ({"$skip": "9" * 19}, SUMMARY, "non-negative integer"),
        ({"$select": ""}, SUMMARY, "no column"),
        ({"$select": "Queue_Name,Nope"}, SUMMARY, "Nope"),
        ({"$count": "1"}, SUMMARY, "true or false"),
        ({"$orderby": "Call_Date_Time"}, SUMMARY, "ascending"),
        ({"$orderby": "Call_Date_Time desc"}, DETAIL, "ascending"),
        ({"$orderby": "Call_Date_Time,Agent_Name"}, DETAIL, "Agent_Name"),
        ({"$orderby": "Call_Date_Time asc extra"}, DETAIL, "cannot read"),
    ],
)
def test_malformed_options_are_refused(
    params: dict[str, str], report: Report, message: str
) -> None:
    with pytest.raises(OptionError, match=message):
        parse_options(params, report)


def test_order_on_the_date_column_ascending_is_accepted() -> None:
    for text in ("Call_Date_Time", "Call_Date_Time asc", " Call_Date_Time  ASC "):
        assert parse_options({"$orderby": text}, DETAIL) == QueryOptions()


def test_window_projection_and_context() -> None:
    rows = [{"A": i, "B": -i} for i in range(10)]
    assert QueryOptions(top=3, skip=8).window(rows) == rows[8:]
    assert QueryOptions(skip=20).window(rows) == []
    assert QueryOptions(top=0).window(rows) == []
    picked = QueryOptions(select=("B",))
    assert picked.project(rows[:2]) == [{"B": 0}, {"B": -1}]
    assert picked.context_suffix() == "(B)"
    assert QueryOptions().context_suffix() == ""
    body: dict[str, object] = {}
    QueryOptions().annotate(body, 5)
    assert body == {}
    QueryOptions(count=True).annotate(body, 5)
    assert body == {"@odata.count": 5}


@pytest.mark.parametrize(
    ("plus", "expected"),
    [("plus", {"tz": "a+b"}), ("space", {"tz": "a b"})],
)
def test_plus_modes(plus: str, expected: dict[str, str]) -> None:
    assert parse_query("/r?tz=a+b", plus=plus) == expected
    assert parse_query("/r?tz=a%2Bb", plus="reject") == {"tz": "a+b"}
    with pytest.raises(BadRequest, match="%2B"):
        parse_query("/r?tz=a+b")


def test_strict_parsing_refuses_the_standard_options() -> None:
    assert parse_query("/r?$top=1") == {"$top": "1"}
    with pytest.raises(BadRequest, match="not supported"):
        parse_query("/r?$top=1", standard_options=False)
    with pytest.raises(BadRequest, match="not supported"):
        parse_query("/r?$expand=x")


def test_demo_registry_lists_the_demo_credentials() -> None:
    registry = demo_registry()
    for c in registry.credentials:
        assert registry.accounts.authenticate(f"Bearer {c.api_key}") is not None
    assert {c.account for c in registry.credentials} == {"acme", "globex"}


def test_accounts_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_text(
        '[[company]]\nid = "one"\n'
        '[[company.user]]\nemail = "a@one.example"\npassword = "pw"\n'
        '[[company]]\nid = "two"\nname = "Two Inc"\n'
        '[[company.user]]\nemail = "b@two.example"\npassword = "pw2"\napi_key = "k2"\n'
    )
    registry = load_accounts(path)
    assert [(c.account, c.account_name, c.email, c.api_key) for c in registry.credentials] == [
        ("one", "one", "a@one.example", None),
        ("two", "Two Inc", "b@two.example", "k2"),
    ]
    principal = registry.accounts.authenticate("Bearer k2")
    assert principal is not None
    assert principal.account.id == "two"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not toml = = =", "not TOML"),
        ("", "no \\[\\[company\\]\\] tables"),
        ('[[company]]\nid = "x"\n', "no \\[\\[company.user\\]\\]"),
        ('[[company]]\nname = "X"\n', "missing 'id'"),
        ("[[company]]\nid = 3\n", "'id' must be a non-empty string"),
        (
            '[[company]]\nid = "x"\n[[company.user]]\nemail = "a@b.c"\npassword = ""\n',
            "'password' must be a non-empty string",
        ),
        (
            '[[company]]\nid = "x"\n[[company.user]]\nemail = "a@b.c"\npassword = "p"\n'
            '[[company.user]]\nemail = "A@b.c"\npassword = "q"\n',
            "user #2: user 'A@b.c' already exists",
        ),
        (
            '[[company]]\nid = "x"\n[[company.user]]\nemail = "a@b.c"\npassword = "p"\n'
            '[[company]]\nid = "x"\n[[company.user]]\nemail = "d@b.c"\npassword = "p"\n',
            "company #2: account 'x' already exists",
        ),
        (
            '[[company]]\nid = "x"\n[[company.user]]\nemail = "a@b.c"\npassword = "p"\n'
            'api_key = "k"\n[[company.user]]\nemail = "d@b.c"\npassword = "p"\napi_key = "k"\n',
            "API key already in use",
        ),
    ],
)
def test_bad_accounts_files_name_the_entry(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "a.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as info:
        load_accounts(path)
    assert str(path) in str(info.value)

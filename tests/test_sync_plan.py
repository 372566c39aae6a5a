"""The sync planner: pure decisions on ranges, cost and the budget (no I/O)."""

from __future__ import annotations

import datetime as dt

import pytest

import brightmetrics_async as bm
from brightmetrics_async._sync_load import ROW_KEY, read_state, row_key, typer
from brightmetrics_async._sync_plan import TableSpec, TableState, plan_run, table_name

NOW = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
COLUMNS = {"Call_Date_Time": "Edm.DateTimeOffset", "Calls": "Edm.Int32", "Talk": "Edm.Double"}


def _spec(table: str, guid: str, *, detail: bool = True) -> TableSpec:
    report = bm.Report(name=f"{table}_x", title=table, kind="EntitySet", url=guid)
    return TableSpec(table, report, COLUMNS, "Call_Date_Time" if detail else None)


DETAIL = _spec("agent_detail", "6f40b845-fb28-4547-b73b-e11ce29f481b")
OTHER = _spec("search", "68c8e362-b2c2-6f6d-498b-af782b253239")
SUMMARY = _spec("summary", "03bd1235-eb2c-410f-a415-fefacd98df41", detail=False)


def test_watermark_minus_overlap_to_now_and_summaries_replaced() -> None:
    mark = NOW - DAY
    plan = plan_run(
        [DETAIL, SUMMARY],
        states={"agent_detail": TableState(mark)},
        now=NOW,
        remaining=100,
        since=NOW - 60 * DAY,  # ignored: a watermark exists
    )
    detail, summary = plan.tables
    assert (detail.start, detail.end, detail.requests) == (mark - dt.timedelta(hours=1), NOW, 1)
    assert detail.incremental
    assert detail.complete
    assert (summary.start, summary.end, summary.requests, summary.incremental) == (
        None,
        None,
        1,
        False,
    )
    assert plan.requests == 2
    assert plan.complete


def test_restart_reloads_from_since_and_no_watermark_starts_there() -> None:
    since = NOW - 60 * DAY
    states = {"agent_detail": TableState(NOW - DAY)}
    plan = plan_run(
        [DETAIL, OTHER], states=states, now=NOW, remaining=100, since=since, restart=True
    )
    assert [t.start for t in plan.tables] == [since, since]
    assert [t.requests for t in plan.tables] == [9, 9]  # 60 days in weekly slices
    measured = {"agent_detail": TableState(None, seconds_per_page=86400.0)}
    plan = plan_run([DETAIL], states=measured, now=NOW, remaining=100, since=since)
    assert plan.tables[0].requests == 60


def test_until_caps_the_end_and_a_table_past_it_has_nothing_to_load() -> None:
    until = NOW - 10 * DAY
    states = {"search": TableState(NOW - DAY)}
    plan = plan_run(
        [DETAIL, OTHER], states=states, now=NOW, remaining=100, since=NOW - 60 * DAY, until=until
    )
    detail, other = plan.tables
    assert (detail.end, detail.requests, detail.complete) == (until, 8, True)
    assert (other.requests, other.complete, other.skipped) == (0, True, False)
    assert plan.complete
    with pytest.raises(bm.ConfigurationError, match="after until"):
        plan_run([DETAIL], states={}, now=NOW, remaining=9, since=until + DAY, until=until)


def test_a_range_that_does_not_fit_loads_its_oldest_part() -> None:
    since = NOW - 60 * DAY
    plan = plan_run([DETAIL, OTHER], states={}, now=NOW, remaining=15, reserve=10, since=since)
    first, second = plan.tables
    assert (first.start, first.requests, first.complete) == (since, 5, False)
    assert first.end == since + 5 * dt.timedelta(days=7)
    assert (second.requests, second.skipped, second.complete) == (0, True, False)
    assert not plan.complete
    assert "oldest part" in plan.message()
    assert all(t.floor == 10 for t in plan.tables)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"overlap": dt.timedelta(0)}, "overlap"),
        ({"reserve": -1}, "reserve"),
        ({"since": NOW + DAY}, "future"),
        ({"since": dt.datetime(2026, 1, 1)}, "aware"),
    ],
)
def test_bad_options(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(bm.ConfigurationError, match=match):
        plan_run([DETAIL], states={}, now=NOW, remaining=100, **kwargs)  # type: ignore[arg-type]


def test_rows_are_typed_and_keyed_stably_across_zones() -> None:
    convert = typer(COLUMNS)
    utc = convert({"Call_Date_Time": "2026-11-01T08:00:00.0000000Z", "Calls": "3", "Talk": 2})
    eastern = convert(
        {"Call_Date_Time": "2026-11-01T03:00:00.0000000-05:00", "Calls": 3, "Talk": 2.0}
    )
    assert utc["Call_Date_Time"] == dt.datetime(2026, 11, 1, 8, tzinfo=dt.UTC)
    assert (utc["Calls"], utc["Talk"]) == (3, 2.0)
    assert row_key(utc) == row_key(eastern) == row_key({**utc, ROW_KEY: "ignored"})
    assert row_key(utc) != row_key({**utc, "Calls": 4})


def test_state_and_names() -> None:
    assert read_state(None) == TableState()
    assert read_state({"watermark": "garbage"}) == TableState()
    assert read_state({"watermark": NOW.isoformat(), "seconds_per_page": 60}) == TableState(
        NOW, 60.0
    )
    assert table_name("Agent Activity Summary - All (Saved MSC Agents)") == (
        "agent_activity_summary_all_saved_msc_agents"
    )

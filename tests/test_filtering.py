"""Filters and time zones through the Session: applied by the server, refused locally for free."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

import brightmetrics_async as bm
from brightmetrics_async.testing import Emulator

pytestmark = pytest.mark.anyio
AGENT_DETAIL = "6f40b845-fb28-4547-b73b-e11ce29f481b"
CALLER_ID = "68c8e362-b2c2-6f6d-498b-af782b253239"
SUMMARY = "03bd1235-eb2c-410f-a415-fefacd98df41"


async def test_builder_filters_are_applied_by_the_server(session: bm.Session) -> None:
    everything = [row async for row in session.rows(CALLER_ID)]
    call_types = sorted({r["Call_Type"] for r in everything})
    assert len(call_types) >= 2
    wanted = call_types[0]
    filtered = [row async for row in session.rows(CALLER_ID, filter=bm.where(Call_Type=wanted))]
    assert filtered
    assert {r["Call_Type"] for r in filtered} == {wanted}
    assert len(filtered) == sum(1 for r in everything if r["Call_Type"] == wanted)
    several = [
        row async for row in session.rows(CALLER_ID, filter=bm.where(Call_Type=call_types[:2]))
    ]
    assert {r["Call_Type"] for r in several} == set(call_types[:2])


async def test_date_range_and_number_bounds(session: bm.Session) -> None:
    rows = [row async for row in session.rows(CALLER_ID, typed=True)]
    times = sorted(r["Call_Date_Time"] for r in rows)
    start, end = times[len(times) // 4], times[len(times) // 2]
    expr = bm.where(Call_Date_Time=bm.between(start, end), Call_Duration=bm.gt(1.0))
    got = [row async for row in session.rows(CALLER_ID, filter=expr, typed=True)]
    assert got
    assert all(start <= r["Call_Date_Time"] <= end and r["Call_Duration"] > 1.0 for r in got)
    expected = [r for r in rows if start <= r["Call_Date_Time"] <= end and r["Call_Duration"] > 1.0]
    assert len(got) == len(expected)


async def test_raw_strings_are_sent_verbatim_after_checking(
    session: bm.Session, bm_emulator: Emulator
) -> None:
    async with session.rows(CALLER_ID) as first:
        caller = (await first.__anext__())["CallerID"]
    assert caller.startswith("+")
    rows = [r async for r in session.rows(CALLER_ID, filter=f"CallerID eq '{caller}'")]
    assert rows
    assert {r["CallerID"] for r in rows} == {caller}
    target = next(r.target for r in bm_emulator.requests if "$filter=" in r.target)
    # Spaces as %20 (never +), the caller ID's + as %2B: the vendor's encoding.
    assert "CallerID%20eq%20" in target
    assert "%2B" in target
    assert "+" not in target.split("?", 1)[1]


@pytest.mark.parametrize(
    ("flt", "rule"),
    [
        ("Nope eq 'x'", "unknown-property"),
        (bm.where(Agent_Nme="x"), "unknown-property"),
        ("Media_Type gt 'Voice'", "operator-type"),
        ("Time_Talk_Total eq 5", "operator-type"),
        ("Agent_Name eq 'a' and Agent_Name eq 'b'", "duplicate-property"),
        ("Agent_Name eq 'a' and Agent_Name_by_Skill eq 'b'", "agent-proxy"),
        ("Agent_Name eq 'a' or Media_Type eq 'Voice'", "only-and"),
        ("Agent_Name eq 'a", "syntax"),
        ("Call_Date_Time ge 'yesterday'", "literal-type"),
    ],
)
async def test_rule_violations_cost_no_request(
    session: bm.Session, bm_emulator: Emulator, flt: str | bm.FilterExpr, rule: str
) -> None:
    await session.filters(AGENT_DETAIL)  # the schema is fetched once and cached
    sent = len(bm_emulator.requests)
    with pytest.raises(bm.FilterError) as info:
        async for _ in session.rows(AGENT_DETAIL, filter=flt):
            pass
    assert info.value.rule == rule
    assert len(bm_emulator.requests) == sent


async def test_did_you_mean(session: bm.Session) -> None:
    with pytest.raises(bm.FilterError, match="Agent_Name"):
        await session.download(AGENT_DETAIL, format="csv", filter="Agent_Nam eq 'x'")


async def test_structural_errors_are_caught_before_the_schema_is_fetched(
    session: bm.Session, bm_emulator: Emulator
) -> None:
    with pytest.raises(bm.FilterError):
        await session.download(AGENT_DETAIL, format="csv", filter="A eq 'x' or B eq 'y'")
    assert bm_emulator.requests == []


async def test_escape_hatch_sends_unchecked_text_and_the_server_refuses(
    session: bm.Session, bm_emulator: Emulator
) -> None:
    with pytest.raises(bm.ApiError) as info:
        async for _ in session.rows(AGENT_DETAIL, filter="Nope eq 'x'", check=False):
            pass
    assert info.value.status == 400
    assert info.value.code
    assert all("$metadata" not in r.target for r in bm_emulator.requests)


@pytest.mark.parametrize(
    "zone", ["Eastern Standard Time", "America/New_York", ZoneInfo("America/New_York")]
)
async def test_timezone_shifts_aware_reports(
    session: bm.Session, bm_emulator: Emulator, zone: str | dt.tzinfo
) -> None:
    utc = [r async for r in session.rows(CALLER_ID, typed=True)]
    eastern = [r async for r in session.rows(CALLER_ID, typed=True, timezone=zone)]
    # The same calls, shown in the zone: the default range follows the zone's midnight, so
    # only the edges may differ.
    utc_instants = {r["Call_Date_Time"] for r in utc}
    shared = [r for r in eastern if r["Call_Date_Time"] in utc_instants]
    assert len(shared) >= 0.9 * len(eastern)
    offsets = {r["Call_Date_Time"].utcoffset() for r in eastern}
    assert offsets <= {dt.timedelta(hours=-5), dt.timedelta(hours=-4)}
    assert {r["Call_Date_Time"].utcoffset() for r in utc} == {dt.timedelta(0)}
    assert "timezone=Eastern%20Standard%20Time" in bm_emulator.requests_to("timezone")[0].target


async def test_timezone_is_ignored_by_other_reports(session: bm.Session) -> None:
    plain = [r async for r in session.rows(SUMMARY)]
    zoned = [r async for r in session.rows(SUMMARY, timezone="Pacific Standard Time")]
    assert plain == zoned


async def test_unknown_timezone_costs_nothing(session: bm.Session, bm_emulator: Emulator) -> None:
    with pytest.raises(bm.UnknownTimezone):
        async for _ in session.rows(CALLER_ID, timezone="Atlantis Standard Time"):
            pass
    assert bm_emulator.requests == []

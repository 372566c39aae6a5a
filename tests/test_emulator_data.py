"""Report data: paging, skiptokens, strict query decoding, filters and timezones."""

from __future__ import annotations

import base64
import itertools
import json
import re
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote

import aiohttp
import pytest
from yarl import URL

from brightmetrics_async.testing import EmulatorConfig
from tests._emulator_helpers import (
    ABANDONED,
    AGENT_DETAIL,
    BEARER,
    CALLER_SEARCH,
    SERVICE_SUMMARY,
    running,
)

pytestmark = pytest.mark.anyio

ISO7 = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}"


async def get(session: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    """GET a URL exactly as written (no re-encoding) and return status and JSON."""
    async with session.get(URL(url, encoded=True), headers=BEARER) as resp:
        return resp.status, await resp.json()


async def walk(session: aiohttp.ClientSession, url: str) -> list[dict[str, Any]]:
    """Every page's body, following next links verbatim."""
    pages = []
    next_url: str | None = url
    while next_url is not None:
        status, body = await get(session, next_url)
        assert status == 200, body
        pages.append(body)
        next_url = body.get("@odata.nextLink")
        assert len(pages) < 100
    return pages


def instant(text: str) -> datetime:
    """Parse the vendor's 7-digit-fraction datetime."""
    assert re.fullmatch(ISO7 + r"(Z|[+-]\d\d:\d\d)", text), text
    return datetime.fromisoformat(text[:26] + text[27:].replace("Z", "+00:00"))


def decode_token(next_link: str) -> dict[str, str]:
    raw = next_link.partition("$skiptoken=")[2]
    decoded: dict[str, str] = json.loads(base64.b64decode(unquote(raw)))
    return decoded


async def test_detail_report_is_paged_by_time_slices() -> None:
    async with running() as (server, session, _):
        pages = await walk(session, f"{server.url}/{AGENT_DETAIL}")
        whole = EmulatorConfig(quota_limit=None, slice_seconds=None)
        async with running(whole) as (server2, session2, _):
            (single,) = await walk(session2, f"{server2.url}/{AGENT_DETAIL}")
    assert len(pages) == 5  # 30 default days in 7-day slices
    first = pages[0]
    assert first["@odata.context"] == (
        f"{server.url}/$metadata#Agent_Detail_6f40b845fb284547b73be11ce29f481b"
    )
    link = first["@odata.nextLink"]
    assert link.startswith(f"{server.url}/{AGENT_DETAIL}?$skiptoken=")
    token = decode_token(link)
    assert set(token) == {"Id", "NextStart", "End"}
    assert token["End"] == "2026-01-01T23:59:59.999Z"
    assert token["NextStart"] == "2025-12-10T00:00:00Z"
    # Later links keep the Id and move NextStart forward by one slice.
    tokens = [decode_token(p["@odata.nextLink"]) for p in pages[:-1]]
    assert {t["Id"] for t in tokens} == {token["Id"]}
    starts = [datetime.fromisoformat(t["NextStart"]) for t in tokens]
    assert all(b - a == timedelta(days=7) for a, b in itertools.pairwise(starts))
    assert "@odata.nextLink" not in pages[-1]
    rows = [row for page in pages for row in page["value"]]
    assert rows == single["value"]
    assert rows
    assert list(rows[0]) == [
        "Call_Date_Time",
        "Media_Type",
        "Agent_Name",
        "Extension",
        "Queue_Name",
        "Call_Type",
        "Time_Talk_Total",
        "Time_Hold_Total",
    ]
    assert all(re.fullmatch(ISO7 + "Z", r["Call_Date_Time"]) for r in rows)
    assert all(isinstance(r["Time_Talk_Total"], float) for r in rows)


async def test_skiptoken_url_ends_with_quoted_padding() -> None:
    # Search by CallerID's Id and times give a token whose base64 ends in "=", quoted as %3D
    # (checked over several seeds so at least one has padding, as the vendor's example does).
    padded = 0
    for seed in range(4):
        config = EmulatorConfig(quota_limit=None, seed=seed)
        async with running(config) as (server, session, _):
            status, body = await get(session, f"{server.url}/{CALLER_SEARCH}")
        assert status == 200
        link = body["@odata.nextLink"]
        raw = link.partition("$skiptoken=")[2]
        assert "=" not in raw
        assert "+" not in raw
        assert "/" not in raw
        padded += raw.endswith("%3D")
    assert padded


async def test_max_rows_per_page() -> None:
    config = EmulatorConfig(quota_limit=None, slice_seconds=None, page_max_rows=25)
    async with running(config) as (server, session, _):
        pages = await walk(session, f"{server.url}/{AGENT_DETAIL}")
        async with running(EmulatorConfig(quota_limit=None, slice_seconds=None)) as (s2, c2, _):
            (single,) = await walk(c2, f"{s2.url}/{AGENT_DETAIL}")
    assert len(pages) > 2
    assert all(len(p["value"]) <= 25 for p in pages)
    assert [r for p in pages for r in p["value"]] == single["value"]


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        base64.b64encode(b'{"Id":"nope","NextStart":"2025-12-10T00:00:00Z","End":"x"}').decode(),
        base64.b64encode(
            b'{"Id":"00000000-0000-4000-8000-000000000000",'
            b'"NextStart":"2025-12-10T00:00:00Z","End":"2026-01-01T23:59:59.999Z"}'
        ).decode(),
    ],
)
async def test_bad_skiptoken_is_400(token: str) -> None:
    async with running() as (server, session, _):
        status, body = await get(session, f"{server.url}/{AGENT_DETAIL}?$skiptoken={token}")
    assert status == 400
    assert body["error"]["code"]


async def test_skiptoken_is_bound_to_its_report_and_expires() -> None:
    async with running() as (server, session, clock):
        _, body = await get(session, f"{server.url}/{AGENT_DETAIL}")
        link = body["@odata.nextLink"]
        other = link.replace(AGENT_DETAIL, CALLER_SEARCH)
        assert (await get(session, other))[0] == 400
        assert (await get(session, link))[0] == 200
        clock.advance(3601)
        assert (await get(session, link))[0] == 400


async def test_query_is_decoded_strictly() -> None:
    async with running() as (server, session, _):
        url = f"{server.url}/{CALLER_SEARCH}?timezone="
        status, body = await get(session, url + "Eastern%20Standard%20Time")
        assert status == 200
        eastern = [instant(r["Call_Date_Time"]) for r in body["value"]]
        assert {t.utcoffset() for t in eastern} <= {timedelta(hours=-5), timedelta(hours=-4)}
        assert eastern[-1].utcoffset() == timedelta(hours=-5)  # November, standard time
        # Same instants as the data, only written in the zone's offset.
        assert set(eastern) <= {c.start for c in server.emulator.dataset("acme").calls}
        status, body = await get(session, url + "Eastern+Standard+Time")
        assert status == 400
        assert "Eastern+Standard+Time" in body["error"]["message"]
        assert (await get(session, url + "Mars%20Standard%20Time"))[0] == 400
        # The log keeps the raw target exactly as sent.
        assert server.emulator.requests[-2].target.endswith("?timezone=Eastern+Standard+Time")
        # A filter with '+' for spaces is not the filter with spaces.
        base = f"{server.url}/{SERVICE_SUMMARY}?$filter=Queue_Name"
        assert (await get(session, base + "%20eq%20'Sales'"))[0] == 200
        assert (await get(session, base + "+eq+'Sales'"))[0] == 400
        assert (await get(session, f"{server.url}/{SERVICE_SUMMARY}?a=1&a=2"))[0] == 400
    # Standard options the document does not mention are refused in the strict mode.
    strict = EmulatorConfig(quota_limit=None, strict_query_options=True)
    async with running(strict) as (server, session, _):
        assert (await get(session, f"{server.url}/{SERVICE_SUMMARY}?$top=5"))[0] == 400


async def test_timezone_shifts_only_timezone_aware_reports() -> None:
    async with running() as (server, session, _):
        tz = "?timezone=Tokyo%20Standard%20Time"
        _, utc = await get(session, f"{server.url}/{CALLER_SEARCH}")
        _, tokyo = await get(session, f"{server.url}/{CALLER_SEARCH}{tz}")
        assert tokyo["value"][0]["Call_Date_Time"].endswith("+09:00")
        # The default range is whole days in the requested zone.
        assert decode_token(tokyo["@odata.nextLink"])["End"] == "2026-01-01T14:59:59.999Z"
        assert decode_token(utc["@odata.nextLink"])["End"] == "2026-01-01T23:59:59.999Z"
        _, connect = await get(session, f"{server.url}/{ABANDONED}{tz}")
        assert connect["value"][0]["Call_Date_Time"].endswith("Z")


async def test_filter_is_applied_and_rejections_are_odata_errors() -> None:
    async with running(EmulatorConfig(quota_limit=None, slice_seconds=None)) as (server, s, _):
        base = f"{server.url}/{AGENT_DETAIL}?$filter="
        _, everything = await get(s, base.rstrip("?$filter="))
        names = {r["Agent_Name"] for r in everything["value"]}
        assert len(names) > 3
        _, one = await get(s, base + "Agent_Name%20eq%20'Pat%20O''Brien'")
        assert {r["Agent_Name"] for r in one["value"]} == {"Pat O'Brien"}
        _, long_calls = await get(s, base + "Time_Talk_Total%20gt%205")
        assert long_calls["value"]
        assert all(r["Time_Talk_Total"] > 5 for r in long_calls["value"])
        assert len(long_calls["value"]) < len(everything["value"])
        skill = server.emulator.dataset("acme").agents[0].skills
        some_skill = sorted(skill)[0]
        _, by_skill = await get(s, base + f"Agent_Name_by_Skill%20eq%20'{some_skill}'")
        agents = {a.name: a for a in server.emulator.dataset("acme").agents}
        assert by_skill["value"]
        assert all(some_skill in agents[r["Agent_Name"]].skills for r in by_skill["value"])
        status, body = await get(
            s, base + "Agent_Name%20eq%20'x'%20and%20Agent_Name_by_Skill%20eq%20'y'"
        )
        assert status == 400
        assert body["error"]["code"] == "AgentProxyConflict"
        status, body = await get(s, base + "Nope%20eq%20'x'")
        assert (status, body["error"]["code"]) == (400, "UnknownProperty")


async def test_date_bounds_narrow_the_range() -> None:
    async with running(EmulatorConfig(quota_limit=None, slice_seconds=None)) as (server, s, _):
        flt = (
            "Call_Date_Time%20ge%202025-10-01T00:00:00Z%20and%20"
            "Call_Date_Time%20lt%202025-10-03T00:00:00Z"
        )
        _, body = await get(s, f"{server.url}/{CALLER_SEARCH}?$filter={flt}")
    stamps = [r["Call_Date_Time"] for r in body["value"]]
    assert stamps  # far outside the 60-day default range
    assert all("2025-10-01T" <= t < "2025-10-03T" for t in stamps)


def test_calls_keep_arriving_as_the_clock_moves() -> None:
    from datetime import UTC

    from brightmetrics_async.testing._dataset import Dataset

    now = [1_767_225_600.0]
    live = Dataset(seed=3, now=now[0], clock=lambda: now[0])
    fixed = Dataset(seed=3, now=now[0])
    assert live.calls == fixed.calls  # a test that keeps its clock keeps its data
    now[0] += 86400
    arrived = live.calls[len(fixed.calls) :]
    assert 5 < len(arrived) < 100
    assert all(fixed.now < c.start <= datetime.fromtimestamp(now[0], UTC) for c in arrived)
    again = Dataset(seed=3, now=1_767_225_600.0, clock=lambda: now[0])
    assert again.calls == live.calls  # the same calls on every run
    day = live.between(fixed.now, datetime.fromtimestamp(now[0], UTC))
    assert list(day) == list(arrived)

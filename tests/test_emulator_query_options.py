"""``$top``, ``$skip``, ``$select``, ``$count`` and ``$orderby`` as OData 4.0 says, on JSON, and
reports served at their entity-set name as well as at their GUID."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import aiohttp
import pytest
from yarl import URL

from brightmetrics_async.testing import EmulatorConfig
from brightmetrics_async.testing._reports import default_reports
from tests._emulator_helpers import (
    AGENT_DETAIL,
    BEARER,
    HELPDESK,
    SERVICE_SUMMARY,
    running,
)

pytestmark = pytest.mark.anyio

WHOLE = EmulatorConfig(quota_limit=None, slice_seconds=None)
NAMES = {r.guid: r.entity_set for r in default_reports()}


async def get(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    async with session.get(URL(url, encoded=True), headers={**BEARER, **(headers or {})}) as r:
        return r.status, await r.json(content_type=None)


async def walk(session: aiohttp.ClientSession, url: str) -> list[dict[str, Any]]:
    pages = []
    next_url: str | None = url
    while next_url is not None:
        status, body = await get(session, next_url)
        assert status == 200, body
        pages.append(body)
        next_url = body.get("@odata.nextLink")
        assert len(pages) < 50
    return pages


async def test_report_is_served_at_its_entity_set_name() -> None:
    async with running() as (server, session, _):
        for guid, name in NAMES.items():
            by_guid = await get(session, f"{server.url}/{guid}")
            by_name = await get(session, f"{server.url}/{name}")
            assert by_name[0] == by_guid[0] == 200
            assert by_name[1]["value"] == by_guid[1]["value"]
            assert by_name[1]["@odata.context"] == by_guid[1]["@odata.context"]
            # Next links keep the document's GUID form, whichever way the report was named.
            link = by_name[1].get("@odata.nextLink")
            assert link is None or link.startswith(f"{server.url}/{guid}?$skiptoken=")
        async with session.get(
            f"{server.url}/{NAMES[AGENT_DETAIL]}/$metadata", headers=BEARER
        ) as resp:
            assert resp.status == 200
            assert f"filters_{AGENT_DETAIL}" in await resp.text()
        # Names are case-sensitive (OData identifiers); GUIDs are not.
        assert (await get(session, f"{server.url}/{NAMES[AGENT_DETAIL].lower()}"))[0] == 404
        assert (await get(session, f"{server.url}/{AGENT_DETAIL.upper()}"))[0] == 200
        assert (await get(session, f"{server.url}/No_Such_Report"))[0] == 404


async def test_top_skip_select_and_count_on_every_report() -> None:
    async with running(WHOLE) as (server, session, _):
        for guid in NAMES:
            _, whole = await get(session, f"{server.url}/{guid}")
            rows = whole["value"]
            assert len(rows) > 3, guid
            _, page = await get(session, f"{server.url}/{guid}?$top=2&$skip=1")
            assert page["value"] == rows[1:3]
            assert "@odata.nextLink" not in page
            _, top = await get(session, f"{server.url}/{guid}?%24top=3")
            assert top["value"] == rows[:3]
            _, rest = await get(session, f"{server.url}/{guid}?$skip=3")
            assert rest["value"] == rows[3:]
            _, none = await get(session, f"{server.url}/{guid}?$top=0")
            assert none["value"] == []
            _, beyond = await get(session, f"{server.url}/{guid}?$skip={len(rows) + 5}")
            assert beyond["value"] == []
            last = list(rows[0])[-1]
            _, picked = await get(session, f"{server.url}/{guid}?$select={last}&$count=true")
            assert picked["value"] == [{last: r[last]} for r in rows]
            assert picked["@odata.count"] == len(rows)
            assert picked["@odata.context"].endswith(f"#{NAMES[guid]}({last})")


async def test_top_and_skip_on_a_detail_report_window_the_whole_range_not_a_slice() -> None:
    # With the vendor's 7-day slices, a plain request pages by time; $top/$skip page by rows
    # over the whole range in one answer, so a client's own $skip never meets a short slice.
    async with running() as (server, session, _), running(WHOLE) as (server2, session2, _):
        (single,) = await walk(session2, f"{server2.url}/{AGENT_DETAIL}")
        rows = single["value"]
        sliced = await walk(session, f"{server.url}/{AGENT_DETAIL}")
        assert len(sliced) > 1
        assert len(sliced[0]["value"]) < 200 < len(rows)
        status, body = await get(session, f"{server.url}/{AGENT_DETAIL}?$top=200&$skip=10")
        assert status == 200
        assert body["value"] == rows[10:210]
        assert "@odata.nextLink" not in body


async def test_row_windows_are_cut_at_page_max_rows_with_a_skip_next_link() -> None:
    config = EmulatorConfig(quota_limit=None, slice_seconds=None, page_max_rows=40)
    async with running(WHOLE) as (s1, c1, _), running(config) as (server, session, _):
        (single,) = await walk(c1, f"{s1.url}/{AGENT_DETAIL}")
        flt = "&$filter=Media_Type%20eq%20'Voice'"
        (voice,) = await walk(c1, f"{s1.url}/{AGENT_DETAIL}?{flt[1:]}")
        pages = await walk(session, f"{server.url}/{AGENT_DETAIL}?$top=100&$skip=5&$count=true")
        assert [len(p["value"]) for p in pages] == [40, 40, 20]
        assert [r for p in pages for r in p["value"]] == single["value"][5:105]
        link = pages[0]["@odata.nextLink"]
        assert link.startswith(f"{server.url}/{AGENT_DETAIL}?")
        assert "%24skip=45" in link or "$skip=45" in link
        assert "$top=60" in unquote(link)
        assert {p["@odata.count"] for p in pages} == {len(single["value"])}
        # The filter survives into the next links, re-encoded without '+'.
        pages = await walk(session, f"{server.url}/{AGENT_DETAIL}?$skip=0{flt}")
        assert "+" not in pages[0]["@odata.nextLink"]
        assert [r for p in pages for r in p["value"]] == voice["value"]


async def test_select_keeps_the_named_columns_and_says_so_in_the_context() -> None:
    async with running() as (server, session, _):
        _, whole = await get(session, f"{server.url}/{SERVICE_SUMMARY}")
        status, body = await get(
            session, f"{server.url}/{SERVICE_SUMMARY}?$select=Calls_Offered,Queue_Name"
        )
        assert status == 200
        assert body["@odata.context"].endswith(
            f"$metadata#{NAMES[SERVICE_SUMMARY]}(Queue_Name,Calls_Offered)"
        )
        assert body["value"] == [
            {"Queue_Name": r["Queue_Name"], "Calls_Offered": r["Calls_Offered"]}
            for r in whole["value"]
        ]
        _, star = await get(session, f"{server.url}/{SERVICE_SUMMARY}?$select=*")
        assert star == whole
        status, error = await get(session, f"{server.url}/{SERVICE_SUMMARY}?$select=Nope")
        assert status == 400
        assert "Nope" in error["error"]["message"]


async def test_select_and_count_follow_the_vendors_time_slices() -> None:
    async with running() as (server, session, _), running(WHOLE) as (s2, c2, _):
        (single,) = await walk(c2, f"{s2.url}/{AGENT_DETAIL}")
        pages = await walk(session, f"{server.url}/{AGENT_DETAIL}?$select=Agent_Name&$count=true")
    assert len(pages) == 5
    # The next links are the vendor's bare $skiptoken links; the options ride in the context.
    assert all(
        set(unquote(p["@odata.nextLink"]).split("?")[1].split("=")[0:1]) == {"$skiptoken"}
        for p in pages[:-1]
    )
    assert [r for p in pages for r in p["value"]] == [
        {"Agent_Name": r["Agent_Name"]} for r in single["value"]
    ]
    assert {p["@odata.count"] for p in pages} == {len(single["value"])}
    assert all(p["@odata.context"].endswith("(Agent_Name)") for p in pages)


async def test_count_ignores_top_and_skip_and_false_adds_nothing() -> None:
    async with running() as (server, session, _):
        _, whole = await get(session, f"{server.url}/{HELPDESK}")
        _, counted = await get(session, f"{server.url}/{HELPDESK}?$count=true&$top=1&$skip=2")
        assert counted["@odata.count"] == len(whole["value"]) > 3
        assert counted["value"] == whole["value"][2:3]
        _, plain = await get(session, f"{server.url}/{HELPDESK}?$count=false")
        assert "@odata.count" not in plain
        assert (await get(session, f"{server.url}/{HELPDESK}?$count=yes"))[0] == 400


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("$orderby=Call_Date_Time", 200),
        ("$orderby=Call_Date_Time%20asc", 200),
        ("$orderby=Call_Date_Time%20desc", 400),
        ("$orderby=Agent_Name", 400),
        ("$orderby=", 400),
        ("$top=-1", 400),
        ("$top=1.5", 400),
        ("$skip=x", 400),
        ("$expand=Agent", 400),
        ("$search=x", 400),
    ],
)
async def test_orderby_only_on_the_date_column_and_malformed_options(
    query: str, status: int
) -> None:
    async with running() as (server, session, _):
        got, body = await get(session, f"{server.url}/{AGENT_DETAIL}?{query}")
        assert got == status, body
        if status == 200:
            plain = (await get(session, f"{server.url}/{AGENT_DETAIL}"))[1]
            assert body["value"] == plain["value"]
            assert "@odata.nextLink" in body
        else:
            assert body["error"]["code"] == "BadRequest"


async def test_orderby_is_refused_on_a_report_without_the_date_column() -> None:
    async with running() as (server, session, _):
        status, _ = await get(session, f"{server.url}/{SERVICE_SUMMARY}?$orderby=Call_Date_Time")
    assert status == 400


async def test_options_are_json_only_and_not_added_to_a_next_link() -> None:
    async with running() as (server, session, _):
        status, body = await get(session, f"{server.url}/{SERVICE_SUMMARY}?$top=1&$format=csv")
        assert status == 400
        assert "$top" in body["error"]["message"]
        _, first = await get(session, f"{server.url}/{AGENT_DETAIL}")
        link = first["@odata.nextLink"]
        assert (await get(session, link + "&$top=5"))[0] == 400
        assert (await get(session, link))[0] == 200


async def test_asynchronous_json_export_applies_the_options() -> None:
    config = EmulatorConfig(quota_limit=None, job_seconds=0.0)
    async with running(config) as (server, session, _):
        _, whole = await get(session, f"{server.url}/{SERVICE_SUMMARY}")
        url = f"{server.url}/{SERVICE_SUMMARY}?$top=2&$select=Queue_Name&$count=true"
        status, accepted = await get(session, url, {"Prefer": "respond-async"})
        assert status == 202
        status, body = await get(session, accepted["statusUrl"])
    assert status == 200
    assert body["value"] == [{"Queue_Name": r["Queue_Name"]} for r in whole["value"][:2]]
    assert body["@odata.count"] == len(whole["value"])


@pytest.mark.parametrize(
    "query", ["$top=5", "$skip=1", "$select=Queue_Name", "$count=true", "$orderby=Call_Date_Time"]
)
async def test_strict_mode_refuses_every_standard_option(query: str) -> None:
    strict = EmulatorConfig(quota_limit=None, strict_query_options=True)
    async with running(strict) as (server, session, _):
        status, body = await get(session, f"{server.url}/{AGENT_DETAIL}?{query}")
        assert status == 400
        assert "not supported" in body["error"]["message"]
        assert (await get(session, f"{server.url}/{NAMES[AGENT_DETAIL]}"))[0] == 200

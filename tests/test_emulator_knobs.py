"""Knobs for what the vendor's document leaves open: a literal '+', the service document's
context URL, the clock's speed, fault rates; and the OData-Version header on exports."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from yarl import URL

import brightmetrics_async as bm
from brightmetrics_async.testing import (
    DEMO_API_KEY,
    EmulatorConfig,
    Fault,
    FaultKind,
    Faults,
)
from tests._emulator_helpers import (
    AGENT_DETAIL,
    BEARER,
    CALLER_SEARCH,
    SERVICE_SUMMARY,
    running,
)

pytestmark = pytest.mark.anyio


async def get(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str] | None = None
) -> tuple[int, Any, dict[str, str]]:
    async with session.get(URL(url, encoded=True), headers={**BEARER, **(headers or {})}) as r:
        return r.status, await r.json(content_type=None), dict(r.headers)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"plus_in_query": "maybe"}, "plus_in_query"),
        ({"service_context": "odata"}, "service_context"),
        ({"clock_speed": 0}, "clock_speed"),
        ({"clock_speed": -2.0}, "clock_speed"),
    ],
)
def test_bad_knobs_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EmulatorConfig(**kwargs)


async def test_a_literal_plus_is_refused_by_default() -> None:
    async with running() as (server, session, _):
        tz = f"{server.url}/{CALLER_SEARCH}?timezone="
        status, body, _ = await get(session, tz + "Eastern+Standard+Time")
        assert status == 400
        assert "%2B" in body["error"]["message"]
        assert "%20" in body["error"]["message"]
        assert (await get(session, tz + "Eastern%20Standard%20Time"))[0] == 200
        # An encoded plus is a plus: a caller-ID filter with %2B works.
        flt = f"{server.url}/{CALLER_SEARCH}?$filter=CallerID%20eq%20'%2B15550000000'"
        assert (await get(session, flt))[0] == 200
        assert (await get(session, flt.replace("%2B", "+")))[0] == 400


async def test_a_literal_plus_can_be_a_space_or_a_plus() -> None:
    space = EmulatorConfig(quota_limit=None, plus_in_query="space")
    plus = EmulatorConfig(quota_limit=None, plus_in_query="plus")
    tz = "?timezone=Eastern+Standard+Time"
    async with running(space) as (server, session, _):
        status, spaced, _ = await get(session, f"{server.url}/{CALLER_SEARCH}{tz}")
        _, encoded, _ = await get(session, f"{server.url}/{CALLER_SEARCH}{tz.replace('+', '%20')}")
        assert status == 200
        assert spaced["value"] == encoded["value"]
    async with running(plus) as (server, session, _):
        status, body, _ = await get(session, f"{server.url}/{CALLER_SEARCH}{tz}")
        assert status == 400  # "Eastern+Standard+Time" names no zone
        assert "Eastern+Standard+Time" in body["error"]["message"]
        assert "Unknown timezone" in body["error"]["message"]


@pytest.mark.parametrize("form", ["vendor", "root"])
async def test_service_document_context_and_the_client_copes_with_both(form: str) -> None:
    config = EmulatorConfig(quota_limit=None, service_context=form)
    async with running(config) as (server, session, _):
        status, doc, _ = await get(session, server.url)
        assert status == 200
        expected = server.origin if form == "vendor" else server.url
        assert doc["@odata.context"] == f"{expected}/$metadata"
        async with bm.Session(
            bm.ApiKey(DEMO_API_KEY), base_url=server.url, budget=bm.MemoryBudget()
        ) as client:
            reports = await client.reports()
            assert [r.url for r in reports] == [item["url"] for item in doc["value"]]
            async with client.rows("Service Summary") as rows:
                got = [row async for row in rows]
            columns = await client.columns(SERVICE_SUMMARY)
        _, direct, _ = await get(session, f"{server.url}/{SERVICE_SUMMARY}")
        assert got == direct["value"]
        assert list(columns) == list(got[0])


@pytest.mark.parametrize("fmt", ["csv", "csv;formatted", "pdf", "xlsx"])
async def test_exports_carry_the_odata_version(fmt: str) -> None:
    async with (
        running() as (server, session, _),
        session.get(f"{server.url}/{SERVICE_SUMMARY}?$format={fmt}", headers=BEARER) as resp,
    ):
        assert resp.status == 200
        assert resp.headers["OData-Version"] == "4.0"
        assert resp.headers["Content-Disposition"].startswith("attachment")
        assert await resp.read()


async def test_clock_speed_runs_jobs_and_the_quota_window_faster() -> None:
    config = EmulatorConfig(
        quota_limit=3, job_seconds=2400.0, job_retry_after=5.0, clock_speed=3600.0
    )
    async with running(config) as (server, session, clock):
        emulator = server.emulator
        start = emulator.clock()
        status, accepted, headers = await get(
            session, f"{server.url}/{SERVICE_SUMMARY}", {"Prefer": "respond-async"}
        )
        assert status == 202
        assert headers["Retry-After"] == "5"  # the configured value, as given
        clock.advance(0.5)  # half an hour of emulator time
        assert emulator.clock() == pytest.approx(start + 1800)
        assert (await get(session, accepted["statusUrl"]))[0] == 202
        clock.advance(0.3)  # the job's 40 minutes have passed
        status, body, _ = await get(session, accepted["statusUrl"])
        assert status == 200
        assert body["value"]
        # The quota of 3 is spent for 24 h of emulator time: 24 real seconds at 3600x.
        status, _, headers = await get(session, server.url)
        assert status == 429
        assert int(headers["Retry-After"]) == 24
        clock.advance(24)
        assert (await get(session, server.url))[0] == 200
        # The status URL's hour is long gone too.
        assert (await get(session, accepted["statusUrl"]))[0] == 404


async def test_a_fault_at_a_rate_hits_that_share_of_requests() -> None:
    async with running() as (server, session, _):
        faults: Faults = server.emulator.faults
        faults.add(Fault(FaultKind.SERVER_ERROR, times=None), rate=0.25)
        statuses = []
        for _ in range(80):
            async with session.get(f"{server.url}/{AGENT_DETAIL}/$metadata", headers=BEARER) as r:
                statuses.append(r.status)
    errors = statuses.count(503)
    assert statuses.count(200) + errors == 80
    assert 8 <= errors <= 32  # seeded: the same count every run, about a quarter
    with pytest.raises(ValueError, match="rate"):
        faults.add(Fault(FaultKind.DELAY), rate=0)
    with pytest.raises(ValueError, match="rate"):
        faults.add(Fault(FaultKind.DELAY), rate=1.5)

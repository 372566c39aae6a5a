"""Asynchronous exports: 202, polling, completion and the one-hour expiry."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

import aiohttp
import pytest
from yarl import URL

from brightmetrics_async.testing import OTHER_API_KEY, EmulatorConfig
from tests._emulator_helpers import AGENT_DETAIL, BEARER, HELPDESK, START, running

pytestmark = pytest.mark.anyio

ASYNC = {**BEARER, "Prefer": "respond-async"}
JSON_TYPE = "application/json; odata.metadata=minimal; odata.streaming=true"


async def poll(session: aiohttp.ClientSession, url: str, **headers: str) -> aiohttp.ClientResponse:
    async with session.get(URL(url, encoded=True), headers={**BEARER, **headers}) as resp:
        await resp.read()
        return resp


async def test_job_lifecycle() -> None:
    async with running() as (server, session, clock):
        async with session.get(f"{server.url}/{HELPDESK}", headers=ASYNC) as resp:
            assert resp.status == 202
            body = await resp.json(content_type=None)
            headers = resp.headers
        location = headers["Location"]
        assert location.startswith(f"{server.url}/status/")
        assert body == {"statusUrl": location}
        assert headers["Retry-After"] == "5"
        assert headers["OData-Version"] == "4.0"
        assert headers["Content-Type"] == JSON_TYPE
        assert "Preference-Applied" not in headers
        clock.advance(4)
        resp = await poll(session, location)
        assert resp.status == 202
        assert await resp.json(content_type=None) == {"statusUrl": location}
        clock.advance(1)
        async with session.get(URL(location, encoded=True), headers=BEARER) as done:
            assert done.status == 200
            data = await done.json()
        async with session.get(f"{server.url}/{HELPDESK}", headers=BEARER) as direct:
            assert data == await direct.json()
        assert data["value"]
        # Other companies cannot see the job.
        resp = await poll(session, location, Authorization=f"Bearer {OTHER_API_KEY}")
        assert resp.status == 404
        clock.advance(3600 - 5 - 0.001)
        assert (await poll(session, location)).status == 200
        clock.advance(0.001)
        resp = await poll(session, location)
        assert resp.status == 404
        assert len(server.emulator.jobs) == 1


async def test_job_returns_all_rows_in_the_submitted_format() -> None:
    async with running() as (server, session, clock):
        headers = {**ASYNC, "Accept": "text/csv"}
        async with session.get(f"{server.url}/{AGENT_DETAIL}", headers=headers) as resp:
            location = resp.headers["Location"]
        clock.advance(10)
        async with session.get(location, headers=BEARER) as resp:
            assert resp.status == 200
            assert resp.content_type == "text/csv"
            lines = (await resp.read()).splitlines()
        assert lines[0].startswith(b"Call_Date_Time,")
        json_job = await session.get(f"{server.url}/{AGENT_DETAIL}", headers=ASYNC)
        json_job.release()
        clock.advance(10)
        async with session.get(json_job.headers["Location"], headers=BEARER) as resp:
            body = await resp.json()
        assert "@odata.nextLink" not in body  # a job's result is never paged
        assert len(body["value"]) == len(lines) - 1


async def test_job_knobs() -> None:
    config = EmulatorConfig(
        quota_limit=None,
        job_seconds_by_report={HELPDESK.upper(): (20.0, 30.0)},
        retry_after_http_date=True,
        omit_status_url=True,
        move_location=True,
        preference_applied=True,
    )
    async with running(config) as (server, session, clock):
        async with session.get(f"{server.url}/{HELPDESK}", headers=ASYNC) as resp:
            assert resp.status == 202
            assert await resp.json(content_type=None) == {}
            assert resp.headers["Preference-Applied"] == "respond-async"
            when = parsedate_to_datetime(resp.headers["Retry-After"]).timestamp()
            first = resp.headers["Location"]
        assert when == START + 5
        job = next(iter(server.emulator.jobs))
        assert 20 <= job.ready_at - job.submitted_at <= 30
        moved = await poll(session, first)
        assert moved.status == 202
        second = moved.headers["Location"]
        assert second != first
        assert (await poll(session, first)).status == 404  # the old URL is gone
        clock.advance(30)
        assert (await poll(session, second)).status == 200


async def test_ignore_and_omit_location() -> None:
    config = EmulatorConfig(quota_limit=None, ignore_respond_async=True)
    async with (
        running(config) as (server, session, _),
        session.get(f"{server.url}/{HELPDESK}", headers=ASYNC) as resp,
    ):
        assert resp.status == 200
        assert "Preference-Applied" not in resp.headers
    config = EmulatorConfig(quota_limit=None, omit_location=True)
    async with (
        running(config) as (server, session, _),
        session.get(f"{server.url}/{HELPDESK}", headers=ASYNC) as resp,
    ):
        assert resp.status == 202
        assert "Location" not in resp.headers
        assert (await resp.json(content_type=None))["statusUrl"].startswith(server.url)


async def test_bad_request_is_rejected_before_a_job_starts() -> None:
    async with running() as (server, session, _):
        url = f"{server.url}/{HELPDESK}?$filter=Nope%20eq%201"
        async with session.get(URL(url, encoded=True), headers=ASYNC) as resp:
            assert resp.status == 400
        assert len(server.emulator.jobs) == 0

"""The fault injector: each kind misbehaves the way it says, once, on the paths it names."""

from __future__ import annotations

import json

import aiohttp
import pytest
from yarl import URL

from brightmetrics_async.testing import EmulatorConfig, Fault, FaultKind
from tests._emulator_helpers import AGENT_DETAIL, BEARER, SERVICE_SUMMARY, running

pytestmark = pytest.mark.anyio


async def test_server_error_fires_once_on_matching_path_and_spends_no_quota() -> None:
    async with running(EmulatorConfig(quota_limit=5)) as (server, session, _):
        server.emulator.faults.add(
            Fault(FaultKind.SERVER_ERROR, path_contains=SERVICE_SUMMARY, status=502)
        )
        async with session.get(server.url, headers=BEARER) as resp:
            assert resp.status == 200  # other path: untouched
        url = f"{server.url}/{SERVICE_SUMMARY}"
        async with session.get(url, headers=BEARER) as resp:
            assert resp.status == 502
            assert resp.content_type == "text/html"
            assert "<html>" in await resp.text()
        async with session.get(url, headers=BEARER) as resp:
            assert resp.status == 200
        assert server.emulator.quota_counts() == {"acme": 2}
        assert server.emulator.faults.fired == [
            (FaultKind.SERVER_ERROR, f"/OData.ashx/{SERVICE_SUMMARY}")
        ]


@pytest.mark.parametrize(
    "kind", [FaultKind.RESET_BEFORE_RESPONSE, FaultKind.RESET_MID_BODY, FaultKind.TRUNCATED_BODY]
)
async def test_connection_faults(kind: FaultKind) -> None:
    async with running() as (server, session, _):
        # aiohttp's client retries once when a connection drops before the status line.
        server.emulator.faults.add(Fault(kind, times=2))
        with pytest.raises(aiohttp.ClientError):
            async with session.get(f"{server.url}/{SERVICE_SUMMARY}", headers=BEARER) as resp:
                await resp.read()
        assert server.emulator.requests[-1].status == 0
        server.emulator.faults.clear()
        async with session.get(f"{server.url}/{SERVICE_SUMMARY}", headers=BEARER) as resp:
            assert resp.status == 200
            assert (await resp.json())["value"]


async def test_body_rewrites() -> None:
    async with running() as (server, session, _):
        faults = server.emulator.faults
        url = f"{server.url}/{AGENT_DETAIL}"
        faults.add(Fault(FaultKind.MALFORMED_JSON))
        async with session.get(url, headers=BEARER) as resp:
            with pytest.raises(json.JSONDecodeError):
                json.loads(await resp.read())
        faults.add(Fault(FaultKind.MISSING_VALUE))
        async with session.get(url, headers=BEARER) as resp:
            body = await resp.json()
            assert "value" not in body
            assert "@odata.nextLink" in body
        faults.add(Fault(FaultKind.WRONG_CONTENT_TYPE))
        async with session.get(url, headers=BEARER) as resp:
            assert resp.content_type == "text/html"
        faults.add(Fault(FaultKind.REPEAT_NEXT_LINK))
        async with session.get(url, headers=BEARER) as resp:
            assert (await resp.json())["@odata.nextLink"] == url
        faults.add(Fault(FaultKind.FOREIGN_NEXT_LINK, other_origin="http://evil.invalid"))
        async with session.get(url, headers=BEARER) as resp:
            link = (await resp.json())["@odata.nextLink"]
        assert link == f"http://evil.invalid/OData.ashx/{AGENT_DETAIL}"


async def test_replacing_answers_and_slow_body() -> None:
    async with running() as (server, session, _):
        faults = server.emulator.faults
        faults.add(Fault(FaultKind.TOO_MANY_REQUESTS, seconds=42))
        faults.add(Fault(FaultKind.STATUS_NOT_FOUND, path_contains="/status/"))
        faults.add(Fault(FaultKind.SLOW_BODY, seconds=0.01, path_contains=SERVICE_SUMMARY))
        async with session.get(server.url, headers=BEARER) as resp:
            assert resp.status == 429
            assert resp.headers["Retry-After"] == "42"
        url = f"{server.url}/{SERVICE_SUMMARY}"
        async with session.get(url, headers={**BEARER, "Prefer": "respond-async"}) as resp:
            location = resp.headers["Location"]
        async with session.get(URL(location, encoded=True), headers=BEARER) as resp:
            assert resp.status == 404
        async with session.get(URL(location, encoded=True), headers=BEARER) as resp:
            assert resp.status == 202  # flipped back
        async with session.get(url, headers=BEARER) as resp:
            assert resp.headers["Content-Length"] == str(len(await resp.read()))
        assert [k for k, _ in faults.fired] == [
            FaultKind.TOO_MANY_REQUESTS,
            FaultKind.SLOW_BODY,  # the respond-async request: a 202 body sent slowly
            FaultKind.STATUS_NOT_FOUND,
        ]


async def test_chaos_is_seeded() -> None:
    outcomes = []
    for _ in range(2):
        async with running(EmulatorConfig(quota_limit=None, seed=7)) as (server, session, _):
            server.emulator.faults.chaos(0.5, [Fault(FaultKind.SERVER_ERROR, times=None)])
            statuses = []
            for _ in range(12):
                async with session.get(server.url, headers=BEARER) as resp:
                    statuses.append(resp.status)
            outcomes.append(statuses)
    assert outcomes[0] == outcomes[1]
    assert set(outcomes[0]) == {200, 503}

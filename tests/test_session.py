"""The foundation, end to end over loopback HTTP against the emulator."""

from __future__ import annotations

import base64
import json
import logging

import aiohttp
import pytest
from aiohttp import web

import brightmetrics_async as bm
from brightmetrics_async.testing import (
    DEMO_API_KEY,
    DEMO_PASSWORD,
    DEMO_PASSWORD_HASH,
    DEMO_USER,
    SECOND_PASSWORD,
    SECOND_USER,
    Emulator,
    EmulatorServer,
    VirtualClock,
)

from ._servers import peer

AGENT_DETAIL = "6f40b845-fb28-4547-b73b-e11ce29f481b"
CALLER_ID = "68c8e362-b2c2-6f6d-498b-af782b253239"
SERVICE_SUMMARY = "03bd1235-eb2c-410f-a415-fefacd98df41"

pytestmark = pytest.mark.anyio


def _auths() -> list[tuple[str, bm.BasicAuth | bm.ApiKey, str]]:
    basic = "Basic " + base64.b64encode(f"{DEMO_USER}:{DEMO_PASSWORD_HASH}".encode()).decode()
    plain = "Basic " + base64.b64encode(f"{DEMO_USER}:*pass{DEMO_PASSWORD}".encode()).decode()
    key_basic = "Basic " + base64.b64encode(f"apikey:{DEMO_API_KEY}".encode()).decode()
    return [
        ("password", bm.BasicAuth(DEMO_USER, DEMO_PASSWORD), basic),
        ("hash", bm.BasicAuth(DEMO_USER, password_hash=DEMO_PASSWORD_HASH), basic),
        ("*pass", bm.BasicAuth(DEMO_USER, DEMO_PASSWORD, send_plaintext=True), plain),
        ("bearer", bm.ApiKey(DEMO_API_KEY), f"Bearer {DEMO_API_KEY}"),
        ("apikey-basic", bm.ApiKey(DEMO_API_KEY, basic=True), key_basic),
    ]


@pytest.mark.parametrize(("label", "auth", "header"), _auths(), ids=[a[0] for a in _auths()])
async def test_each_sign_in_form_sends_the_vendor_header(
    bm_server: EmulatorServer, label: str, auth: bm.BasicAuth | bm.ApiKey, header: str
) -> None:
    async with bm.Session(auth, base_url=bm_server.url, budget=bm.MemoryBudget()) as s:
        reports = await s.reports()
    assert reports
    (record,) = bm_server.emulator.requests
    assert record.header("Authorization") == header
    assert record.status == 200


async def test_wrong_credentials_raise_authentication_error(bm_server: EmulatorServer) -> None:
    auth = bm.BasicAuth(DEMO_USER, "not-the-password")
    async with bm.Session(auth, base_url=bm_server.url, budget=bm.MemoryBudget()) as s:
        with pytest.raises(bm.AuthenticationError) as info:
            await s.reports()
    assert info.value.status == 401
    assert "not-the-password" not in repr(info.value) + str(info.value)
    assert len(bm_server.emulator.requests) == 1, "auth errors are never retried"


async def test_reports_are_typed_and_cached(session: bm.Session, bm_emulator: Emulator) -> None:
    reports = await session.reports()
    assert all(isinstance(r, bm.Report) for r in reports)
    assert {r.url for r in reports} >= {AGENT_DETAIL, CALLER_ID, SERVICE_SUMMARY}
    assert await session.reports() == reports
    for title in ("Agent Detail", "Search by CallerID", "Agent Detail"):
        assert (await session.report(title)).title == title
    assert len(bm_emulator.requests) == 1, "the service document is fetched once"


async def test_report_references_resolve_without_requests(
    session: bm.Session, bm_emulator: Emulator, bm_server: EmulatorServer
) -> None:
    for ref in (AGENT_DETAIL, f"{bm_server.url}/{AGENT_DETAIL}", AGENT_DETAIL.upper()):
        assert (await session.report(ref)).url == AGENT_DETAIL
    assert bm_emulator.requests == []
    with pytest.raises(bm.NotFound):
        await session.report("No Such Report")
    assert len(bm_emulator.requests) == 1


async def test_filter_schema_in_the_vendor_shape(
    session: bm.Session, bm_emulator: Emulator
) -> None:
    schema = await session.filters("Agent Detail")
    assert dict(schema) == {
        "Call_Date_Time": "Edm.DateTimeOffset",
        "Media_Type": "Edm.String",
        "Agent_Name": "Edm.String",
        "Agent_Name_by_Queue_Membership": "Edm.String",
        "Agent_Name_by_Skill": "Edm.String",
        "Agent_Name_by_Group_Membership": "Edm.String",
        "Time_Talk_Total": "Edm.Double",
    }
    assert schema.entity_type == f"filters_{AGENT_DETAIL}"
    again = await session.filters(AGENT_DETAIL)
    assert again is schema
    metadata = bm_emulator.requests_to("$metadata")
    assert len(metadata) == 1
    assert metadata[0].path.endswith(f"/{AGENT_DETAIL}/$metadata")


async def test_pages_follow_next_links_verbatim(session: bm.Session, bm_emulator: Emulator) -> None:
    pages = [page async for page in session.pages(CALLER_ID)]
    assert len(pages) > 2
    assert pages[-1].next_link is None
    links = [p.next_link for p in pages[:-1]]
    data_requests = bm_emulator.requests_to(CALLER_ID)
    # Every next link reached the server byte for byte: no re-encoding of the skiptoken.
    assert [bm_emulator_target(r.target, bm_emulator) for r in data_requests[1:]] == links
    assert any(link and link.endswith("%3D") for link in links)
    rows = [row async for row in session.rows(CALLER_ID)]
    assert rows == [row for page in pages for row in page.rows]
    assert all(r.status == 200 for r in bm_emulator.requests)


def bm_emulator_target(target: str, emulator: Emulator) -> str:
    """A logged request target as an absolute URL on the emulator's origin."""
    origin = emulator.requests[0].header("Host")
    return f"http://{origin}{target}"


async def test_typed_rows_convert_dates_and_numbers(session: bm.Session) -> None:
    import datetime as dt

    async with session.rows(CALLER_ID, typed=True) as rows:
        row = await rows.__anext__()
    assert isinstance(row["Call_Date_Time"], dt.datetime)
    assert row["Call_Date_Time"].tzinfo is not None
    assert isinstance(row["Call_Duration"], float)
    async with session.rows(CALLER_ID) as raw:
        raw_row = await raw.__anext__()
    assert isinstance(raw_row["Call_Date_Time"], str)


async def test_abandoning_an_iterator_stops_and_releases(
    session: bm.Session, bm_emulator: Emulator
) -> None:
    async with session.pages(CALLER_ID) as pages:
        first = await pages.__anext__()
        assert first.next_link is not None
        checkpoint = pages.checkpoint
    assert checkpoint == first.next_link
    sent = len(bm_emulator.requests)
    http = session.aiohttp_session
    assert http is not None
    connector = http.connector
    assert connector is not None
    assert not connector._acquired  # no connection held by an abandoned iterator
    # The checkpoint continues where the first iterator stopped, without page one.
    rest = [p async for p in session.pages(CALLER_ID, start=checkpoint)]
    assert len(bm_emulator.requests) == sent + len(rest)
    assert bm_emulator.requests[sent].target.endswith(checkpoint.rsplit("/", 1)[-1])


async def test_repeated_next_link_is_an_error() -> None:
    async def loop(request: web.Request) -> web.StreamResponse:
        host = request.host
        return web.json_response(
            {
                "value": [{"a": 1}],
                "@odata.nextLink": f"http://{host}/OData.ashx/x?$skiptoken=same%3D",
            }
        )

    async with (
        peer(loop) as server,
        bm.Session(
            bm.ApiKey("k"), base_url=f"{server.url}/OData.ashx", budget=bm.MemoryBudget()
        ) as s,
    ):
        with pytest.raises(bm.UnexpectedResponse, match="repeated"):
            async for _ in s.pages(f"{server.url}/OData.ashx/{AGENT_DETAIL}", check=False):
                pass
    assert len(server.recorded.targets) == 2


async def test_next_link_to_another_origin_is_refused_without_credentials() -> None:
    async with peer() as elsewhere:

        async def redirecting(request: web.Request) -> web.StreamResponse:
            return web.json_response(
                {"value": [{"a": 1}], "@odata.nextLink": f"{elsewhere.url}/steal?$skiptoken=x"}
            )

        async with peer(redirecting) as service:
            base = f"{service.url}/OData.ashx"
            async with bm.Session(
                bm.ApiKey("secret-key"), base_url=base, budget=bm.MemoryBudget()
            ) as s:
                with pytest.raises(bm.UnsafeLink) as info:
                    async for _ in s.pages(AGENT_DETAIL):
                        pass
    assert elsewhere.recorded.targets == [], "nothing was sent to the other origin"
    assert "secret-key" not in str(info.value)
    assert service.recorded.authorizations == ["Bearer secret-key"]


async def test_plain_http_only_to_loopback() -> None:
    with pytest.raises(bm.ConfigurationError, match="plain HTTP"):
        bm.Session(bm.ApiKey("k"), base_url="http://example.com/OData.ashx")
    bm.Session(bm.ApiKey("k"), base_url="http://127.0.0.1:1/OData.ashx")


async def test_credentials_from_the_environment(
    bm_server: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRIGHTMETRICS_USER", DEMO_USER)
    monkeypatch.setenv("BRIGHTMETRICS_PASSWORD", DEMO_PASSWORD)
    monkeypatch.setenv("BRIGHTMETRICS_URL", bm_server.url)
    async with bm.Session(budget=bm.MemoryBudget()) as s:
        assert s.base_url == bm_server.url
        assert await s.reports()
    monkeypatch.delenv("BRIGHTMETRICS_USER")
    with pytest.raises(bm.ConfigurationError, match="no credentials"):
        bm.Session()


async def test_caller_owned_aiohttp_session_is_left_open(bm_server: EmulatorServer) -> None:
    async with aiohttp.ClientSession() as http:
        async with bm.Session(
            bm.ApiKey(DEMO_API_KEY), base_url=bm_server.url, session=http, budget=bm.MemoryBudget()
        ) as s:
            await s.reports()
        assert not http.closed
        assert s.aiohttp_session is http


async def test_constructor_does_no_io(bm_emulator: Emulator) -> None:
    s = bm.Session(bm.ApiKey(DEMO_API_KEY), base_url="http://127.0.0.1:9/OData.ashx")
    assert s.aiohttp_session is None
    await s.aclose()


async def test_nothing_secret_in_reprs_or_debug_logs(
    bm_server: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    # The demo password is the vendor's example, the word "password": scan for the second
    # user's distinctive one instead, with its hash and the API key.
    secrets = [SECOND_PASSWORD, bm.hash_password(SECOND_PASSWORD), DEMO_API_KEY]
    texts: list[str] = []
    with caplog.at_level(logging.DEBUG):
        for auth in (bm.BasicAuth(SECOND_USER, SECOND_PASSWORD), bm.ApiKey(DEMO_API_KEY)):
            async with bm.Session(auth, base_url=bm_server.url, budget=bm.MemoryBudget()) as s:
                texts += [repr(s), repr(auth), repr(await s.reports())]
                async for page in s.pages(CALLER_ID):
                    texts.append(repr(page))
                with pytest.raises(bm.NotFound) as info:
                    await s.filters("00000000-0000-0000-0000-000000000000")
                texts += [repr(info.value), str(info.value)]
    texts.append(caplog.text)
    blob = "\n".join(texts)
    assert "GET" in caplog.text
    for secret in secrets:
        assert secret not in blob


async def test_service_document_request_counts_against_budget(
    bm_server: EmulatorServer, bm_clock: VirtualClock
) -> None:
    budget = bm.MemoryBudget(limit=3, clock=bm_clock)
    async with bm.Session(
        bm.ApiKey(DEMO_API_KEY), base_url=bm_server.url, budget=budget, max_wait=0, clock=bm_clock
    ) as s:
        await s.reports()
        await s.filters(AGENT_DETAIL)
        await s.columns(AGENT_DETAIL)
        with pytest.raises(bm.BudgetExhausted) as info:
            await s.filters(CALLER_ID)
    assert info.value.next_free_at is not None
    assert len(bm_server.emulator.requests) == 3
    snap = await budget.snapshot(s.account)
    assert snap.spent == 3
    assert snap.remaining == 0


def test_json_pages_decode_with_the_stdlib_too() -> None:
    body = json.dumps({"value": [{"x": 1}]}).encode()
    from brightmetrics_async._protocol import parse_page

    assert parse_page(body).rows == [{"x": 1}]

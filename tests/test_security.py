"""Credentials go to the service's origin only; no secret is written anywhere; XML is parsed
safely. Foreign origins are real loopback servers that record whatever reaches them."""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

import brightmetrics_async as bm
from brightmetrics_async._journal import Journal
from brightmetrics_async._metadata import MAX_METADATA_BYTES
from brightmetrics_async._protocol import require_same_origin
from brightmetrics_async.testing import (
    DEMO_API_KEY,
    SECOND_PASSWORD,
    SECOND_USER,
    Fault,
    FaultKind,
    VirtualClock,
    hash_password,
)

from ._reliability import AGENT_DETAIL, CALLER_ID, SUMMARY, rig
from ._servers import Peer, peer

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def service_and_elsewhere(
    answer: Any, *, clock: VirtualClock | None = None
) -> AsyncIterator[tuple[bm.Session, Peer, Peer]]:
    """A scripted service (``answer(request, elsewhere_url)``) and a foreign recorder."""
    async with peer() as elsewhere:

        async def handler(request: web.Request) -> web.StreamResponse:
            return await answer(request, elsewhere.url)  # type: ignore[no-any-return]

        async with (
            peer(handler) as service,
            bm.Session(
                bm.ApiKey(DEMO_API_KEY),
                base_url=f"{service.url}/OData.ashx",
                budget=bm.MemoryBudget(clock=clock),
                clock=clock,
                check_filters=False,
            ) as s,
        ):
            yield s, service, elsewhere


def nothing_reached(elsewhere: Peer) -> None:
    assert elsewhere.recorded.targets == [], "a request reached the other origin"
    assert DEMO_API_KEY not in repr(elsewhere.recorded.headers)


# -- the origin policy -------------------------------------------------------------------------


async def test_foreign_next_link_from_the_emulator_is_not_followed(tmp_path: Path) -> None:
    async with peer() as elsewhere, rig(tmp_path) as r:
        r.emulator.faults.add(
            Fault(FaultKind.FOREIGN_NEXT_LINK, path_contains=CALLER_ID, other_origin=elsewhere.url)
        )
        with pytest.raises(bm.UnsafeLink) as info:
            [row async for row in r.session.rows(CALLER_ID)]
    nothing_reached(elsewhere)
    assert DEMO_API_KEY not in str(info.value)


async def test_202_location_on_another_origin(tmp_path: Path) -> None:
    async def answer(request: web.Request, other: str) -> web.StreamResponse:
        return web.json_response({}, status=202, headers={"Location": f"{other}/status/1"})

    async with service_and_elsewhere(answer) as (s, service, elsewhere):
        with pytest.raises(bm.UnsafeLink):
            await s.submit(SUMMARY)
    nothing_reached(elsewhere)
    assert len(service.recorded.targets) == 1


async def test_status_url_in_the_body_on_another_origin(tmp_path: Path) -> None:
    async def answer(request: web.Request, other: str) -> web.StreamResponse:
        return web.json_response({"statusUrl": f"{other}/OData.ashx/status/1"}, status=202)

    async with service_and_elsewhere(answer) as (s, _, elsewhere):
        with pytest.raises(bm.UnsafeLink):
            await s.submit(SUMMARY)
    nothing_reached(elsewhere)


async def test_a_poll_moving_the_job_to_another_origin() -> None:
    async def answer(request: web.Request, other: str) -> web.StreamResponse:
        if "/status/" in request.path:
            return web.json_response({}, status=202, headers={"Location": f"{other}/s/2"})
        own = f"http://{request.host}/OData.ashx/status/1"
        return web.json_response({}, status=202, headers={"Location": own, "Retry-After": "0"})

    async with service_and_elsewhere(answer, clock=VirtualClock()) as (s, service, elsewhere):
        job = await s.submit(SUMMARY)
        with pytest.raises(bm.UnsafeLink) as info:
            await job.result()
        assert info.value.token is not None
        assert DEMO_API_KEY not in info.value.token
    nothing_reached(elsewhere)
    assert len(service.recorded.targets) == 2


async def test_a_redirect_to_another_origin_is_refused() -> None:
    async def answer(request: web.Request, other: str) -> web.StreamResponse:
        return web.Response(status=302, headers={"Location": f"{other}/steal"})

    async with service_and_elsewhere(answer) as (s, service, elsewhere):
        with pytest.raises(bm.UnsafeLink):
            await s.download(SUMMARY, format="csv")
    nothing_reached(elsewhere)
    assert service.recorded.authorizations == [f"Bearer {DEMO_API_KEY}"]


async def test_a_same_origin_redirect_is_followed_and_spends_budget() -> None:
    async def answer(request: web.Request, other: str) -> web.StreamResponse:
        if request.path.endswith("/moved"):
            return web.Response(body=b"a,b\n", content_type="text/csv")
        return web.Response(status=302, headers={"Location": "/OData.ashx/moved"})

    async with service_and_elsewhere(answer) as (s, service, _):
        assert await s.download(SUMMARY, format="csv") == b"a,b\n"
        assert (await s.budget_status()).spent == 2
    assert len(service.recorded.targets) == 2


@pytest.mark.parametrize(
    "link",
    [
        "http://user:pw@{host}/OData.ashx/x?$skiptoken=1",
        "http://@{host}/OData.ashx/x?$skiptoken=1",
        "http://{host}/OData.ashx/x?$skiptoken=a b",
        "http://{host}/OData.ashx/x?$skiptoken=\x00",
    ],
    ids=["userinfo", "empty-userinfo", "blank", "control"],
)
async def test_malformed_or_credentialed_links_are_refused_before_spending(link: str) -> None:
    async def answer(request: web.Request, other: str) -> web.StreamResponse:
        return web.json_response(
            {"value": [{"a": 1}], "@odata.nextLink": link.format(host=request.host)}
        )

    async with service_and_elsewhere(answer) as (s, service, _):
        with pytest.raises(bm.UnsafeLink):
            [row async for row in s.rows(SUMMARY)]
        assert (await s.budget_status()).spent == 1
    assert len(service.recorded.targets) == 1


async def test_tokens_and_checkpoints_on_another_origin_are_refused(tmp_path: Path) -> None:
    async with peer() as elsewhere, rig(tmp_path, job_seconds=30.0) as r:
        job = await r.session.submit(SUMMARY)
        token = job.token()
        forged = token.replace(r.server.origin, elsewhere.url)
        assert forged != token
        with pytest.raises(bm.UnsafeLink):
            await r.session.resume(forged)
        with pytest.raises(bm.UnsafeLink):
            r.session.pages(CALLER_ID, start=f"{elsewhere.url}/OData.ashx/{CALLER_ID}?$skiptoken=x")
    nothing_reached(elsewhere)


def test_plain_http_only_to_loopback_and_no_downgrade() -> None:
    for url in ("http://example.com/OData.ashx", "http://10.0.0.1/OData.ashx"):
        with pytest.raises(bm.ConfigurationError, match="plain HTTP"):
            bm.Session(bm.ApiKey("k"), base_url=url)
    for url in ("http://127.0.0.1:8/OData.ashx", "http://localhost:8/OData.ashx"):
        bm.Session(bm.ApiKey("k"), base_url=url)
    base = "https://webapp.brightmetrics.com/OData.ashx"
    with pytest.raises(bm.UnsafeLink):
        require_same_origin("http://webapp.brightmetrics.com/OData.ashx/x", base, what="link")
    with pytest.raises(bm.UnsafeLink):
        require_same_origin("https://webapp.brightmetrics.com:8443/OData.ashx/x", base, what="l")


# -- no secret anywhere ------------------------------------------------------------------------


async def test_secret_scan_of_a_full_pull(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    password_hash = hash_password(SECOND_PASSWORD)
    header = base64.b64encode(f"{SECOND_USER}:{password_hash}".encode()).decode()
    secrets = [SECOND_PASSWORD, password_hash, header, DEMO_API_KEY]
    texts: list[str] = []
    for name in ("", "aiohttp", "aiohttp.client", "brightmetrics_async"):
        caplog.set_level(logging.DEBUG, logger=name or None)
    for auth in (bm.BasicAuth(SECOND_USER, SECOND_PASSWORD), bm.ApiKey(DEMO_API_KEY)):
        label = type(auth).__name__
        base = tmp_path / label
        async with (
            rig(base, auth=auth, job_seconds=6.0) as r,
            Journal(base / "journal.sqlite3", clock=r.clock) as journal,
        ):
            s = r.session
            texts += [repr(s), str(s), repr(auth), str(auth), repr(r.budget), repr(journal)]
            reports = await s.reports()
            texts.append(repr(reports))
            for report in reports:
                texts.append(repr(await s.filters(report)))
                texts.append(repr(dict(await s.columns(report))))
            for fmt in ("csv", "csv;formatted", "pdf", "xlsx"):
                await s.export(SUMMARY, r.out / f"s.{fmt.replace(';', '.')}", format=fmt)
            async with s.pages(CALLER_ID) as pages:
                texts += [repr(page) async for page in pages]
            job = await s.submit(AGENT_DETAIL, format="csv")
            token = job.token()
            texts += [repr(job), token, repr(await s.resume(token))]
            await job.export(r.out / "job.csv")
            items = [
                bm.PullItem(report.url, path=r.out / f"{report.name}.json") for report in reports
            ] + [bm.PullItem(SUMMARY, format="xlsx", path=r.out / "j.xlsx", use_async=True)]
            r.emulator.faults.add(Fault(FaultKind.SERVER_ERROR, path_contains="$skiptoken"))
            events: list[bm.PullEvent] = []
            async with s.pull_many(items, journal=journal, on_event=events.append) as pull:
                texts += [repr(result) for result in await pull.collect()]
            texts += [repr(event) for event in events]
            assert any(event.token for event in events), "a resume token was made"
            texts += [repr(e) for e in await journal.entries()]
            errors: list[bm.BrightmetricsError] = []
            for bad in (
                s.filters("00000000-0000-0000-0000-000000000000"),
                s.resume("not a token"),
                s.download(SUMMARY, filter="Nope eq 1", check=False),
            ):
                with pytest.raises(bm.BrightmetricsError) as info:
                    await bad
                errors.append(info.value)
            texts += [f"{e!r} {e!s} {e.__dict__!r}" for e in errors]
            assert len(errors) == 3
            texts.append(repr(await s.budget_status()))
        files = list(base.rglob("*sqlite3*"))
        assert {p.name for p in files} >= {"journal.sqlite3", "budget.sqlite3"}
        texts += [p.read_bytes().decode("latin-1") for p in files]
    texts.append(caplog.text)
    assert "GET" in caplog.text, "DEBUG logging was captured"
    blob = "\n".join(map(str, texts))
    for secret in secrets:
        assert secret not in blob


# -- XML ---------------------------------------------------------------------------------------

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">&lol3;</edmx:Edmx>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">&xxe;</edmx:Edmx>"""
HUGE = b"<edmx:Edmx>" + b" " * (MAX_METADATA_BYTES + 1) + b"</edmx:Edmx>"


@pytest.mark.parametrize(
    "body",
    [LAUGHS, EXTERNAL, HUGE, b"<a", b"\xff\xfe"],
    ids=["billion-laughs", "external-entity", "oversized", "truncated", "garbage"],
)
async def test_hostile_metadata_fails_cleanly(body: bytes) -> None:
    async def answer(request: web.Request, other: str) -> web.StreamResponse:
        if not request.path.endswith("$metadata"):  # the service document is fine
            value = [
                {"name": "Agent_Detail", "title": "A", "kind": "EntitySet", "url": AGENT_DETAIL}
            ]
            return web.json_response({"value": value})
        return web.Response(body=body, content_type="application/xml")

    async with service_and_elsewhere(answer) as (s, service, elsewhere):
        with pytest.raises(bm.UnexpectedResponse):
            await s.filters(AGENT_DETAIL)
        with pytest.raises(bm.UnexpectedResponse):
            await s.columns(AGENT_DETAIL)
    nothing_reached(elsewhere)
    metadata = [t for t in service.recorded.targets if t.endswith("$metadata")]
    assert len(metadata) == 2, "both documents were fetched, and refused"

"""Format negotiation by Accept and $format (content checks belong to the renderer's tests)."""

from __future__ import annotations

import pytest
from yarl import URL

from brightmetrics_async.testing import EmulatorConfig
from brightmetrics_async.testing._query import (
    CSV,
    CSV_FORMATTED,
    JSON,
    PDF_LANDSCAPE,
    PDF_PORTRAIT,
    XLSX,
    BadRequest,
    NotAcceptable,
    negotiate,
)
from tests._emulator_helpers import AGENT_DETAIL, BEARER, SERVICE_SUMMARY, running

pytestmark = pytest.mark.anyio

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, JSON),
        ("application/json", JSON),
        ("*/*", JSON),
        ("text/csv", CSV),
        ("text/csv; unformatted", CSV),
        ("text/csv; formatted", CSV_FORMATTED),
        ("text/csv;formatted", CSV_FORMATTED),
        ("application/pdf", PDF_PORTRAIT),
        ("application/pdf; portrait", PDF_PORTRAIT),
        ("application/pdf; landscape", PDF_LANDSCAPE),
        (XLSX_TYPE, XLSX),
        ("image/png, text/csv;q=0.5, application/pdf;q=0.9", PDF_PORTRAIT),
        ("application/json;odata.metadata=minimal", JSON),
    ],
)
def test_accept(accept: str | None, expected: object) -> None:
    assert negotiate({}, accept) == expected


@pytest.mark.parametrize("accept", ["image/png", "text/csv; fancy", "text/csv;q=0", "text/html"])
def test_unsupported_accept(accept: str) -> None:
    with pytest.raises(NotAcceptable):
        negotiate({}, accept)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("csv", CSV),
        ("csv;unformatted", CSV),
        ("csv;formatted", CSV_FORMATTED),
        ("pdf", PDF_PORTRAIT),
        ("pdf;portrait", PDF_PORTRAIT),
        ("pdf;landscape", PDF_LANDSCAPE),
        ("xlsx", XLSX),
        ("json", JSON),
    ],
)
def test_dollar_format_wins_over_accept(value: str, expected: object) -> None:
    assert negotiate({"$format": value}, "image/png") == expected


@pytest.mark.parametrize("value", ["xml", "csv;pretty", "", "atom"])
def test_unknown_dollar_format(value: str) -> None:
    with pytest.raises(BadRequest):
        negotiate({"$format": value}, None)


@pytest.mark.parametrize(
    ("query", "accept", "content_type", "magic"),
    [
        ("", "text/csv", "text/csv", b"Queue_Name,Calls_Offered"),
        ("", "text/csv; formatted", "text/csv", b"Queue Name,Calls Offered"),
        ("?$format=csv", None, "text/csv", b"Queue_Name,"),
        ("?$format=pdf;landscape", None, "application/pdf", b"%PDF"),
        ("", "application/pdf; portrait", "application/pdf", b"%PDF"),
        ("?$format=xlsx", None, XLSX_TYPE, b"PK\x03\x04"),
        ("", XLSX_TYPE, XLSX_TYPE, b"PK\x03\x04"),
        ("?$format=json", "text/csv", "application/json", b"{"),
    ],
)
async def test_formats_over_http(
    query: str, accept: str | None, content_type: str, magic: bytes
) -> None:
    headers = dict(BEARER) if accept is None else {**BEARER, "Accept": accept}
    async with running() as (server, session, _):
        url = URL(f"{server.url}/{SERVICE_SUMMARY}{query}", encoded=True)
        async with session.get(url, headers=headers) as resp:
            assert resp.status == 200
            assert resp.content_type == content_type
            assert (await resp.read()).startswith(magic)


async def test_error_statuses_for_formats() -> None:
    async with running() as (server, session, _):
        url = f"{server.url}/{SERVICE_SUMMARY}"
        async with session.get(url, headers={**BEARER, "Accept": "image/png"}) as resp:
            assert resp.status == 406
            assert (await resp.json())["error"]["code"] == "NotAcceptable"
        async with session.get(url + "?$format=xml", headers=BEARER) as resp:
            assert resp.status == 400


async def test_detail_csv_is_the_whole_range_streamed() -> None:
    async with running() as (server, session, _):
        url = f"{server.url}/{AGENT_DETAIL}"
        async with session.get(url, headers={**BEARER, "Accept": "text/csv"}) as resp:
            assert resp.headers.get("Transfer-Encoding") == "chunked"
            lines = (await resp.read()).splitlines()
        pages = 0
        rows = 0
        next_url: str | None = url
        while next_url:
            async with session.get(URL(next_url, encoded=True), headers=BEARER) as resp:
                body = await resp.json()
            rows += len(body["value"])
            pages += 1
            next_url = body.get("@odata.nextLink")
    assert pages > 1
    assert len(lines) - 1 == rows


async def test_export_min_bytes_repeats_rows() -> None:
    config = EmulatorConfig(quota_limit=None, export_min_bytes=3_000_000)
    async with running(config) as (server, session, _):
        url = f"{server.url}/{SERVICE_SUMMARY}?$format=csv"
        async with session.get(url, headers=BEARER) as resp:
            body = await resp.read()
    assert len(body) >= 3_000_000
    assert body.endswith(b"\r\n")
    lines = body.split(b"\r\n")[:-1]
    assert all(line.count(b",") == lines[0].count(b",") for line in lines)

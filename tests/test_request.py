"""The one request builder: every header (the credential aside) and query string, decided once."""

from __future__ import annotations

import pytest

import brightmetrics_async as bm
from brightmetrics_async._formats import Format
from brightmetrics_async._request import Requests

BASE = "https://webapp.brightmetrics.com/OData.ashx"
GUID = "68c8e362-b2c2-6f6d-498b-af782b253239"


def test_a_data_request_puts_filter_and_timezone_in_the_query_and_the_format_in_accept() -> None:
    r = Requests(BASE, format_via="header").data(
        GUID, fmt=Format.CSV, filter_text="Media_Type eq 'Voice'", timezone="UTC"
    )
    assert r.url == f"{BASE}/{GUID}?$filter=Media_Type%20eq%20'Voice'&timezone=UTC"
    assert dict(r.headers) == {"Accept": "text/csv"}
    assert (r.method, r.purpose, r.idempotent, r.what) == ("GET", "download", True, "csv download")


def test_format_via_query_sends_format_and_no_accept_except_for_json() -> None:
    builder = Requests(BASE, format_via="query")
    csv = builder.data(GUID, fmt=Format.CSV)
    assert csv.url == f"{BASE}/{GUID}?$format=csv"
    assert csv.headers == ()
    page = builder.data(GUID, fmt=Format.JSON, purpose="report page")
    assert page.url == f"{BASE}/{GUID}"
    assert dict(page.headers) == {"Accept": "application/json"}


@pytest.mark.parametrize("via", ["header", "query"])
def test_a_submission_prefers_respond_async_and_is_not_idempotent(via: str) -> None:
    r = Requests(BASE, format_via=via).data(GUID, fmt=Format.PDF, purpose="submit")  # type: ignore[arg-type]
    assert dict(r.headers)["Prefer"] == "respond-async"
    assert not r.idempotent
    assert r.what == "export submission"


def test_polls_and_results_ask_for_the_jobs_format() -> None:
    builder = Requests(BASE, format_via="query")
    status = f"{BASE}/status/5854e5ec"
    assert dict(builder.poll(status, Format.XLSX).headers)["Accept"] == Format.XLSX.media_type
    assert builder.result(status, Format.CSV).purpose == "export result"


def test_documents_and_pages() -> None:
    builder = Requests(BASE, format_via="header")
    assert builder.service_document().url == BASE
    assert builder.filter_metadata(GUID).url == f"{BASE}/{GUID}/$metadata"
    assert builder.service_metadata().url == f"{BASE}/$metadata"
    link = f"{BASE}/{GUID}?$skiptoken=abc%3D"
    page = builder.page(link)
    assert page.url == link, "a next link is sent verbatim"
    assert page.to(f"{BASE}/x").url == f"{BASE}/x"
    assert page.to(f"{BASE}/x").headers == page.headers


def test_a_query_is_the_keywords_of_every_data_method() -> None:
    q = bm.Query(GUID, format="csv", filter="Media_Type eq 'Voice'", timezone="UTC")
    assert q.format is bm.Format.CSV
    item = bm.PullItem(GUID, format="csv", filter="Media_Type eq 'Voice'", timezone="UTC")
    assert item.query == q
    assert bm.Session.query(q) is q
    assert bm.Session.query(GUID, format="csv", filter="Media_Type eq 'Voice'", timezone="UTC") == q


@pytest.mark.anyio
async def test_session_methods_take_a_query(session: bm.Session) -> None:
    q = bm.Query(GUID, format="csv", filter="Call_Type eq 'Inbound'")
    url = await session.data_url(q)
    request = await session.request(q)
    assert isinstance(url, str)
    assert url == request.url == f"{session.base_url}/{GUID}?$filter=Call_Type%20eq%20'Inbound'"
    assert await session.data_url(GUID, format="csv", filter="Call_Type eq 'Inbound'") == url
    assert dict(request.headers) == {"Accept": bm.Format.CSV.media_type}
    assert request.purpose == "download"
    body = await session.download(q)
    assert body == await session.download(GUID, format="csv", filter="Call_Type eq 'Inbound'")

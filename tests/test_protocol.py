"""The sans-I/O core: status mapping (table-driven), service document, pages, origins."""

from __future__ import annotations

import json

import pytest

import brightmetrics_async as bm
from brightmetrics_async._protocol import (
    error_for_status,
    parse_odata_error,
    parse_page,
    parse_service_document,
    require_same_origin,
    resolve_report,
)

ODATA_ERROR = json.dumps({"error": {"code": "BadFilter", "message": "Unknown property X"}}).encode()
HTML_ERROR = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>x</body></html>"
)
JSON = {"Content-Type": "application/json"}
HTML = {"Content-Type": "text/html; charset=utf-8"}


@pytest.mark.parametrize(
    ("status", "headers", "body", "cls", "code", "message"),
    [
        (200, JSON, b"{}", None, None, None),
        (202, JSON, b"{}", None, None, None),
        (304, {}, b"", None, None, None),
        (400, JSON, ODATA_ERROR, bm.ApiError, "BadFilter", "Unknown property X"),
        (401, JSON, ODATA_ERROR, bm.AuthenticationError, "BadFilter", "Unknown property X"),
        (401, {}, b"", bm.AuthenticationError, None, None),
        (403, HTML, HTML_ERROR, bm.AuthenticationError, None, "502 Bad Gateway"),
        (404, JSON, b"", bm.NotFound, None, None),
        (
            406,
            {"Content-Type": "text/plain"},
            b"Not acceptable",
            bm.ApiError,
            None,
            "Not acceptable",
        ),
        (410, JSON, ODATA_ERROR, bm.ApiError, "BadFilter", "Unknown property X"),
        (429, JSON, ODATA_ERROR, bm.RateLimited, "BadFilter", "Unknown property X"),
        (500, HTML, HTML_ERROR, bm.ApiError, None, "502 Bad Gateway"),
        (502, HTML, HTML_ERROR, bm.ApiError, None, "502 Bad Gateway"),
        (503, {}, b"\x00\xff garbage", bm.ApiError, None, None),
        (504, JSON, b"{not json", bm.ApiError, None, None),
        (
            500,
            JSON,
            b'{"error": {"code": "E", "message": {"value": "v3 shape"}}}',
            bm.ApiError,
            "E",
            "v3 shape",
        ),
    ],
)
def test_error_for_status(
    status: int,
    headers: dict[str, str],
    body: bytes,
    cls: type[bm.ApiError] | None,
    code: str | None,
    message: str | None,
) -> None:
    err = error_for_status(status, headers, body, retry_after=7.0, what="x")
    if cls is None:
        assert err is None
        return
    assert type(err) is cls
    assert err is not None
    assert err.status == status
    assert err.code == code
    assert err.error_message == message
    assert err.retry_after == 7.0
    assert f"HTTP {status}" in str(err)


def test_error_messages_are_clipped() -> None:
    _code, message = parse_odata_error(
        b'{"error": {"message": "' + b"x" * 5000 + b'"}}', "application/json"
    )
    assert message is not None
    assert len(message) <= 300


SERVICE_DOC = json.dumps(
    {
        "@odata.context": "https://webapp.brightmetrics.com/$metadata",
        "value": [
            {
                "name": "Service_Summary_03bd1235eb2c410fa415fefacd98df41",
                "title": "Service Summary",
                "kind": "EntitySet",
                "url": "03bd1235-eb2c-410f-a415-fefacd98df41",
            },
            {
                "name": "Helpdesk_Workgroup_Service_Level_Summary_w_o_Wait_Time_0c15c8a5128b488b8758ef15868c3b5b",
                "title": "Helpdesk Workgroup Service-Level Summary w/o Wait Time",
                "kind": "EntitySet",
                "url": "0c15c8a5-128b-488b-8758-ef15868c3b5b",
            },
        ],
    }
).encode()


def test_service_document_becomes_reports() -> None:
    reports = parse_service_document(SERVICE_DOC)
    assert [r.title for r in reports] == [
        "Service Summary",
        "Helpdesk Workgroup Service-Level Summary w/o Wait Time",
    ]
    assert reports[0] == bm.Report(
        name="Service_Summary_03bd1235eb2c410fa415fefacd98df41",
        title="Service Summary",
        kind="EntitySet",
        url="03bd1235-eb2c-410f-a415-fefacd98df41",
    )


@pytest.mark.parametrize(
    "body",
    [b"[]", b"{}", b'{"value": 3}', b'{"value": [{"name": 1}]}', b"not json", b'{"value": [3]}'],
)
def test_bad_service_documents(body: bytes) -> None:
    with pytest.raises(bm.UnexpectedResponse):
        parse_service_document(body)


def test_resolve_report_by_every_reference() -> None:
    reports = parse_service_document(SERVICE_DOC)
    target = reports[1]
    for ref in (
        "0c15c8a5-128b-488b-8758-ef15868c3b5b",
        "0C15C8A5128B488B8758EF15868C3B5B",
        "https://webapp.brightmetrics.com/OData.ashx/0c15c8a5-128b-488b-8758-ef15868c3b5b",
        target.name,
        target.title,
    ):
        assert resolve_report(ref, reports) == target
    with pytest.raises(bm.NotFound):
        resolve_report("No such report", reports)


def test_page_with_both_next_link_spellings() -> None:
    link = "https://h/OData.ashx/x?$skiptoken=abc%3D"
    for key in ("@odata.nextLink", "@nextLink"):
        page = parse_page(json.dumps({"value": [{"a": 1}], key: link}).encode())
        assert page.next_link == link
        assert page.rows == [{"a": 1}]
    assert parse_page(b'{"value": []}').next_link is None


@pytest.mark.parametrize(
    "body",
    [
        b'{"rows": []}',
        b"[1]",
        b'{"value": {}}',
        b'{"value": [1]}',
        b"{",
        b'{"value": [], "@odata.nextLink": 5}',
    ],
)
def test_malformed_pages(body: bytes) -> None:
    with pytest.raises(bm.UnexpectedResponse):
        parse_page(body)


@pytest.mark.parametrize(
    ("link", "ok"),
    [
        ("https://webapp.brightmetrics.com/OData.ashx/x?$skiptoken=a%3D", True),
        ("https://WEBAPP.brightmetrics.com:443/OData.ashx/x", True),
        ("http://webapp.brightmetrics.com/OData.ashx/x", False),
        ("https://evil.example.com/OData.ashx/x", False),
        ("https://webapp.brightmetrics.com:8443/OData.ashx/x", False),
        ("/OData.ashx/x", False),
        ("javascript:alert(1)", False),
    ],
)
def test_same_origin(link: str, ok: bool) -> None:
    base = "https://webapp.brightmetrics.com/OData.ashx"
    if ok:
        assert require_same_origin(link, base, what="next link") == link
    else:
        with pytest.raises(bm.UnsafeLink):
            require_same_origin(link, base, what="next link")


NESTED = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize("status", [400, 404, 429, 500, 503])
def test_a_deeply_nested_error_body_is_an_api_error(status: int) -> None:
    error = error_for_status(status, {"Content-Type": "application/json"}, NESTED)
    assert isinstance(error, bm.ApiError)
    assert error.status == status


def test_a_deeply_nested_page_is_unexpected() -> None:
    with pytest.raises(bm.UnexpectedResponse):
        parse_page(NESTED)


def test_deeply_nested_json_without_orjson_raises_errors_of_the_tree() -> None:
    """The standard decoder recurses: without orjson, RecursionError must not escape."""
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['orjson'] = None\n"
        "import brightmetrics_async as bm\n"
        "from brightmetrics_async._protocol import error_for_status, parse_page\n"
        "nested = b'[' * 100_000 + b']' * 100_000\n"
        "error = error_for_status(500, {'Content-Type': 'application/json'}, nested)\n"
        "assert isinstance(error, bm.ApiError), error\n"
        "try:\n"
        "    parse_page(nested)\n"
        "except bm.UnexpectedResponse:\n"
        "    print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"

"""Compressed bodies cannot make the client hold more than the limits: every body read into
memory is counted after decoding, while aiohttp inflates it, and refused past its limit with
an UnexpectedResponse that names the limit and is not retried."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest
from aiohttp import web

import brightmetrics_async as bm
from brightmetrics_async.testing import VirtualClock

from .._servers import peer
from ._hostile import GUID, MB, SMALL, bomb, compressed, hostile, spent_equals_seen, unreachable

pytestmark = pytest.mark.anyio

SERVICE_DOC = {"value": [{"name": "Summary", "kind": "EntitySet", "url": GUID, "title": "S"}]}


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_page_bomb_stops_at_the_page_limit(encoding: str) -> None:
    async def answer(request: web.Request) -> web.StreamResponse:
        return compressed(bomb(64, encoding=encoding), encoding=encoding)

    async with hostile(answer) as (s, service):
        with pytest.raises(bm.UnexpectedResponse, match=r"Limits\.page = 262144 bytes"):
            [row async for row in s.rows(GUID)]
        assert await spent_equals_seen(s, service) == 1  # not retried


@pytest.mark.parametrize("where", ["service document", "service metadata", "filter metadata"])
async def test_document_bombs_stop_at_the_metadata_limit(where: str) -> None:
    async def answer(request: web.Request) -> web.StreamResponse:
        path = request.path
        if where == "service document" or path.endswith("/$metadata"):
            return compressed(bomb(32, prefix=b"<?xml"), content_type="application/xml")
        return web.json_response(SERVICE_DOC)

    async with hostile(answer) as (s, service):
        call = s.filters(GUID) if where == "filter metadata" else s.columns(GUID)
        with pytest.raises(bm.UnexpectedResponse, match=r"Limits\.metadata"):
            await call
        await spent_equals_seen(s, service)


async def test_a_202_body_bomb_on_submission_stops_at_the_status_limit() -> None:
    async def answer(request: web.Request) -> web.StreamResponse:
        status = f"http://{request.host}/OData.ashx/status/1"
        return compressed(bomb(16), status=202, headers={"Location": status})

    async with hostile(answer) as (s, service):
        with pytest.raises(bm.UnexpectedResponse, match=r"Limits\.status = 8192"):
            await s.submit(GUID, format="csv")
        assert await spent_equals_seen(s, service) == 1


async def test_a_202_body_bomb_on_a_poll_carries_the_token() -> None:
    async def answer(request: web.Request) -> web.StreamResponse:
        status = f"http://{request.host}/OData.ashx/status/1"
        headers = {"Location": status, "Retry-After": "5"}
        if "/status/" in request.path:
            return compressed(bomb(16), status=202, headers=headers)
        return web.json_response({}, status=202, headers=headers)

    async with hostile(answer, clock=VirtualClock()) as (s, service):
        job = await s.submit(GUID, format="csv")
        with pytest.raises(bm.UnexpectedResponse, match=r"Limits\.status") as info:
            await job.result()
        assert info.value.token is not None
        assert await spent_equals_seen(s, service) == 2


async def test_an_error_body_bomb_is_read_only_up_to_the_error_limit() -> None:
    async def answer(request: web.Request) -> web.StreamResponse:
        return compressed(bomb(64), status=400)

    async with hostile(answer) as (s, service):
        with pytest.raises(bm.ApiError) as info:
            [row async for row in s.rows(GUID)]
        assert info.value.status == 400
        assert await spent_equals_seen(s, service) == 1


async def test_an_uncompressed_body_declared_too_long_is_refused_before_reading() -> None:
    async def answer(request: web.Request) -> web.StreamResponse:
        return web.json_response({"value": [{"a": "x" * MB}]})

    async with hostile(answer) as (s, service):
        with pytest.raises(bm.UnexpectedResponse, match=r"Limits\.page"):
            [row async for row in s.rows(GUID)]
        assert await spent_equals_seen(s, service) == 1


async def test_a_compressed_page_within_the_limits_is_read() -> None:
    import gzip

    page = json.dumps({"value": [{"n": i} for i in range(1000)]}).encode()

    async def answer(request: web.Request) -> web.StreamResponse:
        return compressed(gzip.compress(page))

    async with hostile(answer) as (s, service):
        rows = [row async for row in s.rows(GUID)]
        assert rows == [{"n": i} for i in range(1000)]
        assert await spent_equals_seen(s, service) == 1


@pytest.mark.parametrize("how", ["max_bytes", "Limits.export"])
async def test_an_export_bomb_stops_at_max_bytes_and_leaves_no_file(
    tmp_path: Path, how: str
) -> None:
    async def answer(request: web.Request) -> web.StreamResponse:
        return compressed(bomb(64, prefix=b"a,b\n"), content_type="text/csv")

    target = tmp_path / "out" / "r.csv"
    limits = bm.Limits(export=MB) if how == "Limits.export" else SMALL
    async with hostile(answer, limits=limits) as (s, service):
        max_bytes = MB if how == "max_bytes" else None
        with pytest.raises(bm.UnexpectedResponse, match=how.replace(".", r"\.")):
            await s.export(GUID, target, format="csv", max_bytes=max_bytes)
        assert await spent_equals_seen(s, service) == 1
    assert not target.exists()
    assert list(target.parent.iterdir()) == []  # no temporary file left either


def test_limits_are_checked() -> None:
    assert bm.Limits() == bm.Limits(page=64 * MB, metadata=8 * MB, status=65536, error=65536)
    assert bm.Limits().export is None
    with pytest.raises(TypeError):
        bm.Limits(page="64MB")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        bm.Limits(status=True)
    with pytest.raises(bm.ConfigurationError):
        bm.Limits(metadata=0)
    with pytest.raises(TypeError):
        bm.Session(bm.ApiKey("k"), base_url="http://127.0.0.1:9", limits={"page": 1})  # type: ignore[arg-type]


async def test_max_bytes_is_checked_before_any_request(tmp_path: Path) -> None:
    async with hostile(unreachable) as (s, service):
        with pytest.raises(TypeError):
            await s.export(GUID, tmp_path / "x.csv", format="csv", max_bytes="1MB")  # type: ignore[arg-type]
        with pytest.raises(bm.ConfigurationError):
            await s.export(GUID, tmp_path / "x.csv", format="csv", max_bytes=0)
        assert await spent_equals_seen(s, service) == 0


RSS_CLIENT = Path(__file__).with_name("_rss_client.py")


def bomb_server(giga: int = 1024) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Gigabyte bombs for the RSS client: the encoding is the first path segment."""

    async def answer(request: web.Request) -> web.StreamResponse:
        path = request.path
        encoding = "deflate" if path.startswith("/deflate/") else "gzip"
        status = f"http://{request.host}/{encoding}/OData.ashx/status/1"

        def bombed(prefix: bytes = b'{"value": [', **kw: Any) -> web.Response:
            return compressed(bomb(giga, encoding=encoding, prefix=prefix), encoding=encoding, **kw)

        if path.endswith("/OData.ashx"):
            return web.json_response(SERVICE_DOC)
        if path.endswith("/$metadata"):
            return bombed(b"<?xml", content_type="application/xml")
        if request.headers.get("Prefer") == "respond-async":
            return bombed(status=202, headers={"Location": status})
        if "error" in request.query_string:
            return bombed(status=400)
        if "csv" in request.headers.get("Accept", "") + request.query_string:
            return bombed(b"a,b\n", content_type="text/csv")
        return bombed()

    return answer


@pytest.mark.slow
async def test_peak_memory_stays_under_200_mb_at_default_limits(tmp_path: Path) -> None:
    """Gigabyte bombs (about 1 MB on the wire each), gzip and deflate, on a page, both
    ``$metadata`` documents, a 202 body, an error body and an export with ``max_bytes``,
    against the default limits, all in one separate client process: its peak RSS (VmHWM, its
    own memory map's high-water mark) stays under 200 MB, and bodies are inflated by the
    library (``auto_decompress=False``), in bounded steps."""
    async with peer(bomb_server()) as service:
        done = await anyio.run_process(
            [sys.executable, str(RSS_CLIENT), service.url, str(tmp_path)], check=False
        )
        seen = list(service.recorded.targets)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    report = json.loads(done.stdout)
    expected = {"error": "ApiError"}
    assert report["outcomes"] == {
        f"{kind}-{encoding}": expected.get(kind, "UnexpectedResponse")
        for encoding in ("gzip", "deflate")
        for kind in ("page", "metadata", "filter-metadata", "submit", "error", "export")
    }
    assert len(seen) == 12 + 2  # one request a case, and the service document once per encoding
    assert list(tmp_path.iterdir()) == []  # the refused exports left nothing
    assert report["peak_rss_mb"] < 200, report


def test_the_readme_lists_the_limits_and_their_defaults() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = readme.split("<!-- limits -->", 1)[1].split("\n\n", 1)[0]
    listed = dict(re.findall(r"\| `Limits\.(\w+)` \| ([^|]+) \|", table))
    sizes = {"64 MB": 64 * MB, "8 MB": 8 * MB, "64 KB": 64 * 1024, "none": None}
    defaults = attrs.asdict(bm.Limits())
    assert {name: sizes[text.strip()] for name, text in listed.items()} == defaults


async def test_a_json_export_stops_at_max_bytes_and_leaves_no_file(tmp_path: Path) -> None:
    async def answer(request: web.Request) -> web.StreamResponse:
        n = int(request.query.get("$skiptoken", "0"))
        link = f"http://{request.host}/OData.ashx/{GUID}?$skiptoken={n + 1}"
        return web.json_response({"value": [{"x": "y" * 1000}] * 100, "@odata.nextLink": link})

    target = tmp_path / "r.json"
    async with hostile(answer) as (s, service):
        with pytest.raises(bm.UnexpectedResponse, match="max_bytes"):
            await s.export(GUID, target, format="json", max_bytes=300_000)
        assert await spent_equals_seen(s, service) == 3  # 100 KB a page: the third passes it
    assert list(tmp_path.iterdir()) == []


async def test_a_job_export_bomb_stops_at_max_bytes(tmp_path: Path) -> None:
    async def answer(request: web.Request) -> web.StreamResponse:
        if "/status/" in request.path:
            return compressed(bomb(64, prefix=b"a,b\n"), content_type="text/csv")
        status = f"http://{request.host}/OData.ashx/status/1"
        return web.json_response({}, status=202, headers={"Location": status, "Retry-After": "5"})

    target = tmp_path / "r.csv"
    async with hostile(answer, clock=VirtualClock()) as (s, service):
        job = await s.submit(GUID, format="csv")
        with pytest.raises(bm.UnexpectedResponse, match="max_bytes"):
            await job.export(target, max_bytes=MB)
        with pytest.raises(TypeError):
            await job.export(target, max_bytes=1.5)  # type: ignore[arg-type]
        assert await spent_equals_seen(s, service) == 2
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd", "x-unknown"])
async def test_a_body_that_does_not_decode_is_a_library_error(encoding: str) -> None:
    async def answer(request: web.Request) -> web.StreamResponse:
        return compressed(b"\x1f\x8b\x08\x00garbage" * 10, encoding=encoding)

    async with hostile(answer) as (s, service):
        with pytest.raises(bm.BrightmetricsError):
            [row async for row in s.rows(GUID)]
        await spent_equals_seen(s, service)

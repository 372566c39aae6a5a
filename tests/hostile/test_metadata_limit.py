"""The CSDL parser's size bound follows ``Limits.metadata`` both ways: a lower limit refuses a
document earlier, a higher one accepts a document larger than the 8 MB default."""

from __future__ import annotations

import pytest
from aiohttp import web

import brightmetrics_async as bm
from brightmetrics_async._metadata import (
    MAX_METADATA_BYTES,
    parse_filter_metadata,
    parse_root_metadata,
)

from ._hostile import GUID, MB, hostile, spent_equals_seen

pytestmark = pytest.mark.anyio

SERVICE_DOC = {"value": [{"name": "Summary", "kind": "EntitySet", "url": GUID, "title": "S"}]}


def csdl(size: int) -> bytes:
    """A valid CSDL document (one entity set ``Summary``) padded with blanks to ``size``."""
    head = (
        b'<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">'
        b'<edmx:DataServices><Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" '
        b'Namespace="NS"><EntityType Name="Row"><Property Name="CallDate" '
        b'Type="Edm.DateTimeOffset"/><Property Name="Agent" Type="Edm.String"/></EntityType>'
        b'<EntityContainer Name="C"><EntitySet Name="Summary" EntityType="NS.Row"/>'
        b"</EntityContainer></Schema></edmx:DataServices>"
    )
    tail = b"</edmx:Edmx>"
    return head + b" " * (size - len(head) - len(tail)) + tail


COLUMNS = {"CallDate": "Edm.DateTimeOffset", "Agent": "Edm.String"}


def test_the_parsers_take_their_bound() -> None:
    doc = csdl(MAX_METADATA_BYTES + MB)
    assert parse_filter_metadata(doc, limit=len(doc)).properties == COLUMNS
    assert parse_root_metadata(doc, limit=len(doc)) == {"Summary": COLUMNS}
    for parse in (parse_filter_metadata, parse_root_metadata):
        with pytest.raises(bm.UnexpectedResponse, match=r"Limits\.metadata = 8388608 bytes"):
            parse(doc)  # the default bound
        with pytest.raises(bm.UnexpectedResponse, match=r"Limits\.metadata = 1000 bytes"):
            parse(csdl(1001), limit=1000)
        parse(csdl(1000), limit=1000)


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
async def test_a_higher_metadata_limit_accepts_a_larger_document(compress: bool) -> None:
    doc = csdl(MAX_METADATA_BYTES + 2 * MB)
    limits = bm.Limits(metadata=16 * MB)

    async def answer(request: web.Request) -> web.StreamResponse:
        if request.path.endswith("/$metadata"):
            response = web.Response(body=doc, content_type="application/xml")
            if compress:
                response.enable_compression(web.ContentCoding.gzip)
            return response
        return web.json_response(SERVICE_DOC)

    async with hostile(answer, limits=limits) as (s, peer):
        assert (await s.filters(GUID)).properties == COLUMNS
        assert await s.columns(GUID) == COLUMNS
        await spent_equals_seen(s, peer)
    async with hostile(answer, limits=bm.Limits()) as (s, peer):  # the 8 MB default
        with pytest.raises(bm.UnexpectedResponse, match=r"Limits\.metadata = 8388608"):
            await s.filters(GUID)
        await spent_equals_seen(s, peer)


async def test_a_lower_metadata_limit_refuses_earlier() -> None:
    doc = csdl(64 * 1024)

    async def answer(request: web.Request) -> web.StreamResponse:
        if request.path.endswith("/$metadata"):
            return web.Response(body=doc, content_type="application/xml")
        return web.json_response(SERVICE_DOC)

    async with hostile(answer, limits=bm.Limits(metadata=32 * 1024)) as (s, peer):
        with pytest.raises(bm.UnexpectedResponse, match=r"Limits\.metadata = 32768"):
            await s.filters(GUID)
        with pytest.raises(bm.UnexpectedResponse, match=r"Limits\.metadata = 32768"):
            await s.columns(GUID)
        await spent_equals_seen(s, peer)  # refused, not retried
    async with hostile(answer, limits=bm.Limits(metadata=64 * 1024)) as (s, peer):
        assert (await s.filters(GUID)).properties == COLUMNS

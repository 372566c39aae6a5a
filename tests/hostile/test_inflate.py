"""The library inflates compressed bodies itself (``_inflate``), in bounded steps: what it
advertises, what it decodes, what it refuses, and how little it holds while doing so."""

from __future__ import annotations

import gzip
import json
import tracemalloc
import zlib
from pathlib import Path

import pytest
from aiohttp import web

import brightmetrics_async as bm
from brightmetrics_async._inflate import ACCEPT_ENCODING, Inflating, decoded

from ._hostile import GUID, MB, bomb, compressed, hostile, spent_equals_seen

pytestmark = pytest.mark.anyio

PAGE = json.dumps({"value": [{"n": i, "s": "x" * 50} for i in range(2000)]}).encode()
ROWS = [{"n": i, "s": "x" * 50} for i in range(2000)]


class Wire:
    """A stream of fixed pieces, as aiohttp's reader hands them out (at most ``n`` each)."""

    def __init__(self, data: bytes, piece: int = 64 * 1024) -> None:
        self._data, self._piece = data, piece

    async def read(self, n: int = -1, /) -> bytes:
        size = self._piece if n < 0 else min(n, self._piece)
        out, self._data = self._data[:size], self._data[size:]
        return out


def raw_deflate(data: bytes) -> bytes:
    co = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return co.compress(data) + co.flush()


ENCODED = {
    "gzip": ("gzip", gzip.compress(PAGE)),
    "x-gzip": ("x-gzip", gzip.compress(PAGE)),
    "deflate (zlib)": ("deflate", zlib.compress(PAGE)),
    "deflate (raw)": ("deflate", raw_deflate(PAGE)),
    "gzip, two members": ("gzip", gzip.compress(PAGE[:5000]) + gzip.compress(PAGE[5000:])),
    "identity": ("identity", PAGE),
}


@pytest.mark.parametrize("case", ENCODED, ids=list(ENCODED))
async def test_compressed_pages_are_read_and_the_request_asks_only_for_gzip_and_deflate(
    case: str,
) -> None:
    encoding, body = ENCODED[case]

    async def answer(request: web.Request) -> web.StreamResponse:
        return compressed(body, encoding=encoding)

    async with hostile(answer) as (s, service):
        assert [row async for row in s.rows(GUID)] == ROWS
        assert await spent_equals_seen(s, service) == 1
    assert service.recorded.headers[0]["Accept-Encoding"] == ACCEPT_ENCODING == "gzip, deflate"


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_compressed_export_is_written_decoded(tmp_path: Path, encoding: str) -> None:
    csv = b"a,b\n" + b"".join(b"%d,%d\n" % (i, i * i) for i in range(100_000))
    body = gzip.compress(csv) if encoding == "gzip" else zlib.compress(csv)

    async def answer(request: web.Request) -> web.StreamResponse:
        return compressed(body, encoding=encoding, content_type="text/csv")

    target = tmp_path / "r.csv"
    async with hostile(answer) as (s, service):
        await s.export(GUID, target, format="csv", max_bytes=len(csv))
        assert target.read_bytes() == csv
        with pytest.raises(bm.UnexpectedResponse, match="max_bytes = 1000 bytes"):
            await s.export(GUID, tmp_path / "small.csv", format="csv", max_bytes=1000)
        assert await spent_equals_seen(s, service) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv"]


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_compressed_stream_cut_short_is_a_transport_error(encoding: str) -> None:
    whole = gzip.compress(PAGE) if encoding == "gzip" else zlib.compress(PAGE)

    async def answer(request: web.Request) -> web.StreamResponse:
        # Framed correctly (Content-Length of what is sent), but the compressed stream stops.
        return compressed(whole[: len(whole) // 2], encoding=encoding)

    async with hostile(answer) as (s, service):
        with pytest.raises(bm.TransportError, match="cut short"):
            [row async for row in s.rows(GUID)]
        await spent_equals_seen(s, service)


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_every_step_is_bounded_whatever_the_ratio(encoding: str) -> None:
    """100 MB inflated from a 1 GB bomb, 256 KB at a time: no step returns more than asked,
    and the Python heap never holds more than a few steps (tracemalloc's peak)."""
    wire = Wire(bomb(1024, encoding=encoding))
    stream = Inflating(wire, encoding)
    step = 256 * 1024
    tracemalloc.start()
    try:
        total = 0
        while total < 100 * MB:
            out = await stream.read(step)
            assert 0 < len(out) <= step
            total += len(out)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * MB


async def test_decoded_refuses_codings_it_did_not_ask_for() -> None:
    wire = Wire(b"abc")
    assert decoded(wire, {}) is wire
    assert decoded(wire, {"Content-Encoding": "identity"}) is wire
    assert isinstance(decoded(wire, {"Content-Encoding": " GZIP "}), Inflating)
    for coding in ("br", "zstd", "gzip, gzip", "compress"):
        with pytest.raises(bm.UnexpectedResponse, match="not asked for"):
            decoded(wire, {"Content-Encoding": coding})


async def test_malformed_compressed_data_is_an_unexpected_response() -> None:
    stream = Inflating(Wire(b"\x1f\x8b\x08\x00garbage" * 10), "gzip")
    with pytest.raises(bm.UnexpectedResponse, match="malformed"):
        await stream.read(1024)
    assert await Inflating(Wire(b""), "gzip").read(10) == b""  # an empty body is empty
    whole = Inflating(Wire(zlib.compress(PAGE), piece=1), "deflate")  # a byte at a time
    assert await whole.read() == PAGE


async def test_gzip_members_split_at_a_piece_boundary_and_deflate_trailers() -> None:
    first, second = gzip.compress(PAGE[:5000]), gzip.compress(PAGE[5000:])
    members = Inflating(Wire(first + second, piece=len(first)), "gzip")
    assert await members.read() == PAGE
    # Bytes after a finished deflate stream are not part of the body, and not waited for.
    trailing = Inflating(Wire(zlib.compress(PAGE) + b"junk" * 1000, piece=len(PAGE)), "deflate")
    assert await trailing.read() == PAGE
    # Junk after a gzip member is not a member: refused.
    junk = Inflating(Wire(first + b"junk"), "gzip")
    with pytest.raises(bm.UnexpectedResponse, match="malformed"):
        await junk.read()

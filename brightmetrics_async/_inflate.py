"""Inflating compressed bodies ourselves, in bounded steps.

Theory of operation
-------------------
A gzip or deflate body of one megabyte can inflate to a gigabyte. The transport asks aiohttp
for the body *as sent* (``auto_decompress=False``) and this module inflates it: every call of
:meth:`Inflating.read` returns at most ``n`` decoded bytes, using
``zlib.decompressobj().decompress(data, max_length)``, which stops at ``max_length`` and keeps
the rest of its input in ``unconsumed_tail`` for the next call. No step can produce more than
``n`` bytes, whatever the ratio, so a reader that counts what it gets (``_limits``) stops a
bomb at its limit having held about one step of it.

Only what can be inflated here is advertised (:data:`ACCEPT_ENCODING`): ``gzip`` and
``deflate`` (zlib-wrapped, or raw as some servers send it). No kept library decodes brotli or
zstd, so they are not offered; a server that sends them anyway, or stacks several codings, gets
:class:`UnexpectedResponse`. Malformed compressed data is :class:`UnexpectedResponse` too (the
same server would send it again); a compressed stream that ends early is a
:class:`TransportError`, like any body cut short.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Protocol

from ._errors import TransportError, UnexpectedResponse

__all__ = ["ACCEPT_ENCODING", "Inflating", "Stream", "decoded"]

#: What the client accepts: only the codings :class:`Inflating` decodes.
ACCEPT_ENCODING = "gzip, deflate"
#: Compressed bytes asked of the wire per step.
_WIRE_CHUNK = 64 * 1024


class Stream(Protocol):
    """What is read: aiohttp's ``StreamReader`` or an :class:`Inflating` over it."""

    async def read(self, n: int = -1, /) -> bytes: ...


def decoded(stream: Stream, headers: Mapping[str, str]) -> Stream:
    """``stream`` when the body is not encoded, else an :class:`Inflating` over it.

    Raises :class:`UnexpectedResponse` for a coding that is not gzip or deflate.
    """
    coding = headers.get("Content-Encoding", "").strip().lower()
    if coding in ("", "identity"):
        return stream
    if coding in ("gzip", "x-gzip", "deflate"):
        return Inflating(stream, "deflate" if coding == "deflate" else "gzip")
    raise UnexpectedResponse(
        f"the response is encoded with {coding[:40]!r}, which was not asked for "
        f"(Accept-Encoding: {ACCEPT_ENCODING})"
    )


class Inflating:
    """The decoded bytes of a gzip or deflate ``stream``, at most ``n`` per :meth:`read`."""

    __slots__ = ("_coding", "_decoder", "_ended", "_full", "_stream", "_tail")

    def __init__(self, stream: Stream, coding: str) -> None:
        self._stream = stream
        self._coding = coding
        self._decoder: zlib._Decompress | None = None
        self._tail = b""  # compressed input not consumed yet
        self._full = False  # the last step filled its output: more may be pending
        self._ended = False  # the wire has no more bytes

    async def read(self, n: int = -1, /) -> bytes:
        """Up to ``n`` decoded bytes (``n < 0``: all that is left); ``b""`` at the end.

        Raises :class:`UnexpectedResponse` for malformed data, :class:`TransportError` when
        the compressed stream ends early.
        """
        if n < 0:
            parts = []
            while part := await self.read(_WIRE_CHUNK * 4):
                parts.append(part)
            return b"".join(parts)
        if n == 0:
            return b""
        while True:
            if self._tail or self._full:
                out = self._step(n)
                if out:
                    return out
                continue
            if self._ended:
                self._finish()
                return b""
            raw = await self._stream.read(_WIRE_CHUNK)
            if not raw:
                self._ended = True
            elif self._decoder is None and len(raw) < 2 and not self._tail:
                # The deflate flavour is told by the first two bytes: wait for both.
                second = await self._stream.read(_WIRE_CHUNK)
                self._tail = raw + second
                self._ended = not second
            elif self._decoder is not None and self._decoder.eof:
                # A gzip member ended with the previous piece: a further one starts here.
                self._decoder, self._tail = None, raw
            else:
                self._tail = raw

    def _step(self, n: int) -> bytes:
        decoder = self._decoder
        if decoder is None:
            decoder = self._decoder = _decoder(self._coding, self._tail)
        try:
            out = decoder.decompress(self._tail, n)
        except zlib.error as exc:
            self._tail, self._full = b"", False
            raise UnexpectedResponse(
                f"the {self._coding} response body is malformed ({exc}); not read further"
            ) from None
        self._tail = decoder.unconsumed_tail
        self._full = len(out) == n
        if decoder.eof:
            rest = decoder.unused_data
            self._full = False
            if self._coding == "gzip" and rest.strip(b"\x00"):
                # A further gzip member (concatenated gzip files are one gzip body).
                self._decoder, self._tail = None, rest
            else:
                self._tail = b""
                # A deflate stream is one stream: whatever follows it is not read.
                self._ended = self._ended or self._coding == "deflate"
        return out

    def _finish(self) -> None:
        decoder = self._decoder
        if decoder is not None and not decoder.eof:
            raise TransportError(
                f"the {self._coding} response body was cut short (its compressed stream is "
                "incomplete)"
            )


def _decoder(coding: str, first: bytes) -> zlib._Decompress:
    if coding == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    # "deflate" means zlib-wrapped (RFC 9110), but some servers send raw deflate: a zlib
    # header is 0x?8 then a byte making the pair a multiple of 31.
    zlib_header = len(first) >= 2 and first[0] & 0x0F == 8 and (first[0] << 8 | first[1]) % 31 == 0
    return zlib.decompressobj(zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS)

"""Reading response bodies: whole, as a page, streamed to a file, or spooled for later.

Each function checks what the protocol promises (the Content-Type of the requested format, a
body as long as its Content-Length) and raises :class:`UnexpectedResponse` otherwise; a
connection dropped mid-body surfaces from :class:`Response` as :class:`TransportError`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from typing import TYPE_CHECKING

from ._errors import UnexpectedResponse
from ._formats import Format
from ._models import Page
from ._protocol import parse_page

if TYPE_CHECKING:
    from ._atomic import AtomicFile
    from ._http import Response

__all__ = ["CHUNK", "check_type", "read_body", "read_page", "spool", "stream_to"]

CHUNK = 256 * 1024
_SPOOL_MEMORY = 8 * 1024 * 1024


def check_type(resp: Response, fmt: Format) -> None:
    """Raise :class:`UnexpectedResponse` unless the body is of the requested format."""
    if not fmt.matches(resp.content_type):
        raise UnexpectedResponse(
            f"asked for {fmt.main_type}, the server sent {resp.content_type or 'no Content-Type'}"
        )


async def read_body(resp: Response) -> bytes:
    """The whole body (a document: at most ``Limits.metadata`` bytes)."""
    return await resp.read("metadata", what="document")  # hook #14


async def read_page(resp: Response) -> Page:
    """A JSON page of report rows."""
    if not Format.JSON.matches(resp.content_type):
        raise UnexpectedResponse(
            f"a report page must be JSON, the server sent {resp.content_type or 'no Content-Type'}"
        )
    return parse_page(await resp.read("page", what="report page"))  # hook #14


async def stream_to(
    resp: Response,
    out: AtomicFile,
    fmt: Format,
    progress: Callable[[int], None] | None = None,
    max_bytes: int | None = None,
) -> None:
    """Write a response body to ``out`` in chunks, checking type and completeness.

    ``out`` is restarted first, so a retried request never appends to a failed try.
    """
    check_type(resp, fmt)
    out.restart()
    async for chunk in await resp.iter_chunks(CHUNK, max_bytes=max_bytes):  # hook #14
        out.write(chunk)
        if progress is not None:
            progress(out.bytes_written)
    expected = resp.content_length
    if expected is not None and out.bytes_written != expected and not _compressed(resp):
        raise UnexpectedResponse(f"the body was cut short: {out.bytes_written} of {expected} bytes")


def _compressed(resp: Response) -> bool:
    # aiohttp decompresses: the bytes written differ from a Content-Length of the encoded body.
    return resp.headers.get("Content-Encoding", "identity").lower() not in ("", "identity")


async def spool(resp: Response, fmt: Format) -> tempfile.SpooledTemporaryFile[bytes]:
    """Keep a result body for later: in memory up to 8 MB, then in a temporary file."""
    check_type(resp, fmt)
    buf: tempfile.SpooledTemporaryFile[bytes] = tempfile.SpooledTemporaryFile(_SPOOL_MEMORY)
    try:
        async for chunk in await resp.iter_chunks(CHUNK):
            buf.write(chunk)
    except BaseException:
        buf.close()
        raise
    return buf

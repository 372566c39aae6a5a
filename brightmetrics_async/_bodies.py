"""Reading answers' bodies, as flows: whole, as a page, streamed to a file, or spooled.

Each one checks what the protocol promises (the Content-Type of the requested format, a body
as long as its Content-Length) and raises :class:`UnexpectedResponse` otherwise; a connection
dropped mid-body is thrown in by the driver as :class:`TransportError`. The byte limits of
bodies read into memory are here, one per kind of body.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable

from ._errors import UnexpectedResponse
from ._fetch import STATUS_BODY_LIMIT, Flow, Head, Read, Sink, Stream
from ._formats import Format
from ._models import Page
from ._protocol import parse_page

__all__ = [
    "METADATA_BODY_LIMIT",
    "PAGE_BODY_LIMIT",
    "STATUS_BODY_LIMIT",
    "Spool",
    "check_type",
    "read_body",
    "read_page",
    "read_page_body",
    "read_result",
    "read_typed",
    "stream_typed",
]

#: Bodies read into memory, by kind (None: no limit of ours).
PAGE_BODY_LIMIT: int | None = None
METADATA_BODY_LIMIT: int | None = None
DATA_BODY_LIMIT: int | None = None
_SPOOL_MEMORY = 8 * 1024 * 1024


def check_type(head: Head, fmt: Format) -> None:
    """Raise :class:`UnexpectedResponse` unless the body is of the requested format."""
    if not fmt.matches(head.content_type):
        raise UnexpectedResponse(
            f"asked for {fmt.main_type}, the server sent {head.content_type or 'no Content-Type'}"
        )


def read_body(head: Head) -> Flow[bytes]:
    """A whole metadata body (service document, ``$metadata``)."""
    body: bytes = yield Read(METADATA_BODY_LIMIT)
    return body


def read_page(head: Head) -> Flow[Page]:
    """A JSON page of report rows."""
    return parse_page((yield from read_page_body(head)))


def read_page_body(head: Head) -> Flow[bytes]:
    """A JSON page's body, unparsed (to keep in a result cache, #17)."""
    ctype = head.headers.get("Content-Type")
    if not (ctype is not None and ctype.startswith("application/json")) and not (
        Format.JSON.matches(ctype)
    ):
        raise UnexpectedResponse(
            f"a report page must be JSON, the server sent {head.content_type or 'no Content-Type'}"
        )
    body: bytes = yield Read(PAGE_BODY_LIMIT)
    return body


def read_result(head: Head) -> Flow[bytes]:
    """A job's result read whole (any type: the job's format was asked at submission)."""
    body: bytes = yield Read(DATA_BODY_LIMIT)
    return body


def read_typed(fmt: Format) -> Callable[[Head], Flow[bytes]]:
    """A whole body of format ``fmt``."""

    def consume(head: Head) -> Flow[bytes]:
        check_type(head, fmt)
        body: bytes = yield Read(DATA_BODY_LIMIT)
        return body

    return consume


def stream_typed(
    sink: Sink, fmt: Format, progress: Callable[[int], None] | None = None
) -> Callable[[Head], Flow[int]]:
    """A body of format ``fmt`` written to ``sink`` in chunks, checked for completeness.

    ``sink`` is restarted first, so a retried request never appends to a failed try.
    """

    def consume(head: Head) -> Flow[int]:
        check_type(head, fmt)
        written: int = yield Stream(sink, progress)
        expected = head.content_length
        if expected is not None and written != expected and not _compressed(head):
            raise UnexpectedResponse(f"the body was cut short: {written} of {expected} bytes")
        return written

    return consume


def _compressed(head: Head) -> bool:
    # aiohttp decompresses: the bytes written differ from a Content-Length of the encoded body.
    return head.headers.get("Content-Encoding", "identity").lower() not in ("", "identity")


class Spool:
    """A result kept for later: in memory up to 8 MB, then in a temporary file."""

    def __init__(self) -> None:
        self.file: tempfile.SpooledTemporaryFile[bytes] = tempfile.SpooledTemporaryFile(
            _SPOOL_MEMORY
        )
        self.bytes_written = 0

    def restart(self) -> None:
        self.file.seek(0)
        self.file.truncate()
        self.bytes_written = 0

    def write(self, data: bytes) -> None:
        self.file.write(data)
        self.bytes_written += len(data)

    def read_all(self) -> bytes:
        self.file.seek(0)
        return self.file.read()

    def close(self) -> None:
        self.file.close()

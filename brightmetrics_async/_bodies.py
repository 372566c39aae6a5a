"""Reading answers' bodies, as flows: whole, as a page, streamed to a file, or spooled.

Each one checks what the protocol promises (the Content-Type of the requested format, a body
as long as its Content-Length) and raises :class:`UnexpectedResponse` otherwise; a connection
dropped mid-body is thrown in by the driver as :class:`TransportError`. How much of a body may
be held is the session's :class:`Limits` (one limit per kind of body, counted after decoding):
each reader is made for the limits it reads under, and a body past its limit is refused with
an :class:`UnexpectedResponse` naming the limit (never retried).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable

from ._errors import UnexpectedResponse
from ._fetch import Consume, Flow, Head, Read, Sink, Stream
from ._formats import Format
from ._limits import Limits, export_limit
from ._models import Page
from ._protocol import parse_page

__all__ = [
    "Spool",
    "check_type",
    "read_body",
    "read_page",
    "read_page_body",
    "read_result",
    "read_status",
    "read_typed",
    "stream_typed",
]

_SPOOL_MEMORY = 8 * 1024 * 1024


def check_type(head: Head, fmt: Format) -> None:
    """Raise :class:`UnexpectedResponse` unless the body is of the requested format."""
    if not fmt.matches(head.content_type):
        raise UnexpectedResponse(
            f"asked for {fmt.main_type}, the server sent {head.content_type or 'no Content-Type'}"
        )


def read_body(limits: Limits) -> Consume[bytes]:
    """A whole metadata body (service document, ``$metadata``): ``Limits.metadata``."""

    def consume(head: Head) -> Flow[bytes]:
        body = head.body
        if body is None:
            body = yield Read(limits.metadata, name="Limits.metadata")
        return body

    return consume


def read_page(limits: Limits, on_page: Callable[[Page], None] | None = None) -> Consume[Page]:
    """A JSON page of report rows: ``Limits.page``; ``on_page`` is told of each page read."""
    read = Read(limits.page, name="Limits.page")  # made once: one page per request

    def consume(head: Head) -> Flow[Page]:
        _check_page_type(head)
        body = head.body
        page = parse_page(body if body is not None else (yield read))
        if on_page is not None:
            on_page(page)
        return page

    return consume


def read_page_body(limits: Limits) -> Consume[bytes]:
    """A JSON page's body, unparsed (to keep in a result cache, #17): ``Limits.page``."""
    read = Read(limits.page, name="Limits.page")

    def consume(head: Head) -> Flow[bytes]:
        _check_page_type(head)
        body = head.body
        if body is None:
            body = yield read
        return body

    return consume


def _check_page_type(head: Head) -> None:
    ctype = head.headers.get("Content-Type")
    if not (ctype is not None and ctype.startswith("application/json")) and not (
        Format.JSON.matches(ctype)
    ):
        raise UnexpectedResponse(
            f"a report page must be JSON, the server sent {head.content_type or 'no Content-Type'}"
        )


def read_status(limits: Limits) -> Flow[bytes]:
    """The body of a 202 (job submitted or still running): ``Limits.status``."""
    body: bytes = yield Read(limits.status, name="Limits.status")
    return body


def read_result(limits: Limits) -> Consume[bytes]:
    """A job's result read whole (any type: the job's format was asked at submission);
    like every other body read whole into memory, at most ``Limits.page``."""

    def consume(head: Head) -> Flow[bytes]:
        body: bytes = yield Read(limits.page, name="Limits.page")
        return body

    return consume


def read_typed(fmt: Format, limits: Limits) -> Consume[bytes]:
    """A whole body of format ``fmt`` (at most ``Limits.page``)."""

    def consume(head: Head) -> Flow[bytes]:
        check_type(head, fmt)
        body: bytes = yield Read(limits.page, name="Limits.page")
        return body

    return consume


def stream_typed(
    sink: Sink,
    fmt: Format,
    progress: Callable[[int], None] | None = None,
    *,
    limits: Limits,
    max_bytes: int | None = None,
) -> Consume[int]:
    """A body of format ``fmt`` written to ``sink`` in chunks, checked for completeness.

    ``sink`` is restarted first, so a retried request never appends to a failed try. The
    body may reach ``max_bytes`` decoded bytes when given, else ``Limits.export`` (None: no
    limit); past it :class:`UnexpectedResponse`, found while writing.
    """
    limit, name = export_limit(max_bytes, limits)

    def consume(head: Head) -> Flow[int]:
        check_type(head, fmt)
        written: int = yield Stream(sink, progress, limit, name)
        expected = head.content_length
        if expected is not None and written != expected and not _compressed(head):
            raise UnexpectedResponse(f"the body was cut short: {written} of {expected} bytes")
        return written

    return consume


def _compressed(head: Head) -> bool:
    # Inflated (_inflate): the bytes written differ from a Content-Length of the encoded body.
    return head.headers.get("Content-Encoding", "identity").lower() not in ("", "identity")


class Spool:
    """A result kept for later: in memory up to 8 MB, then in a temporary file."""

    def __init__(self) -> None:
        # Made on first use: most spools are never written (a submission answered 202, a
        # poll still running), and 10,000 submissions at once hold one each (#11).
        self._file: tempfile.SpooledTemporaryFile[bytes] | None = None
        self.bytes_written = 0

    @property
    def file(self) -> tempfile.SpooledTemporaryFile[bytes]:
        """The spooled bytes (in memory up to 8 MB, then a temporary file)."""
        if self._file is None:
            self._file = tempfile.SpooledTemporaryFile(_SPOOL_MEMORY)
        return self._file

    def restart(self) -> None:
        if self._file is not None:
            self._file.seek(0)
            self._file.truncate()
        self.bytes_written = 0

    def write(self, data: bytes) -> None:
        self.file.write(data)
        self.bytes_written += len(data)

    def read_all(self) -> bytes:
        self.file.seek(0)
        return self.file.read()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

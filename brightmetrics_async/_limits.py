"""How much a server may make the client hold: the decoded size of every body.

A response body is counted *after* decoding: a gzip or deflate body of a few megabytes can
inflate to gigabytes, so a limit on the wire size protects nothing. The library inflates
bodies itself (``_inflate``: aiohttp hands them over as sent), and no step returns more than
was asked, so reading in chunks of :data:`CHUNK` and counting the decoded bytes keeps memory
near the limit: the read stops as soon as the count passes it, with
:class:`UnexpectedResponse` naming the limit. That error is not retried (the server would
send the same body again).

Bodies read into memory have a limit each (:class:`Limits`); streamed exports have none
unless ``Limits.export`` or an export's ``max_bytes`` sets one. A declared Content-Length
above the limit (on a body that is not compressed) is refused before reading.
"""

from __future__ import annotations

from typing import Any

import attrs

from ._errors import ConfigurationError, UnexpectedResponse
from ._inflate import Stream

__all__ = [
    "CHUNK",
    "Limits",
    "Meter",
    "check_max_bytes",
    "export_limit",
    "export_meter",
    "read_limited",
    "too_large",
    "whole",
]

#: Decoded bytes asked of the stream per read (``_inflate`` never returns more).
CHUNK = 256 * 1024
MB = 1024 * 1024


def _size(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None and attribute.name == "export":
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"Limits.{attribute.name} must be an int (bytes), not {value!r}")
    if value < 1:
        raise ConfigurationError(f"Limits.{attribute.name} must be at least 1 byte, got {value!r}")


@attrs.frozen(kw_only=True)
class Limits:
    """Maximum decoded sizes, in bytes, of what a server may make the client hold.

    ``page``: a JSON page of rows, or any other body read whole into memory (``download``,
    ``Job.result``); ``metadata``: the service document and ``$metadata`` documents (the
    CSDL parser follows it both ways);
    ``status``: the body of a 202 (job submitted or still running); ``error``: the part
    of an error body that is read to explain it (the rest is dropped, not refused);
    ``export``: a streamed export or spooled job result (None: no limit; one export can
    set its own with ``max_bytes=``).

    Raises ``TypeError`` for a size that is not an int, :class:`ConfigurationError` for one
    below 1.
    """

    page: int = attrs.field(default=64 * MB, validator=_size)
    metadata: int = attrs.field(default=8 * MB, validator=_size)
    status: int = attrs.field(default=64 * 1024, validator=_size)
    error: int = attrs.field(default=64 * 1024, validator=_size)
    export: int | None = attrs.field(default=None, validator=_size)


def too_large(what: str, name: str, limit: int) -> UnexpectedResponse:
    """The error for a body past ``limit`` (``name`` says which limit, e.g. ``Limits.page``)."""
    return UnexpectedResponse(
        f"{what}: the response body is larger than {name} = {limit} bytes (after decoding); "
        "not read further"
    )


def whole(declared: int | None, encoded: bool, *, limit: int, name: str, what: str) -> bool:
    """Whether a body may be read in one go: framed by its Content-Length (``declared``) and
    not ``encoded``, it cannot grow past the declared size (the fast path of every ordinary
    page). Raises :class:`UnexpectedResponse` naming ``name`` when that size passes ``limit``.
    """
    if declared is None or encoded:
        return False
    if declared > limit:
        raise too_large(what, name, limit)
    return True


async def read_limited(
    stream: Stream,
    *,
    limit: int,
    name: str,
    what: str,
    declared: int | None = None,
    encoded: bool = False,
) -> bytes:
    """Read ``stream`` to its end, at most ``limit`` decoded bytes, in :data:`CHUNK` steps.

    ``declared`` is the Content-Length: when the body is not ``encoded`` it is checked up
    front, and the body (which the HTTP framing stops there) is read in one go.
    Raises :class:`UnexpectedResponse` naming ``name`` as soon as the body passes ``limit``.
    """
    if whole(declared, encoded, limit=limit, name=name, what=what):
        return await stream.read()
    # One growing buffer, emptied before the error is raised: the error's traceback keeps
    # this frame and its locals alive until the garbage collector runs, and a refused bomb
    # must not keep its megabytes that long (a second bomb would then double the peak).
    first = await stream.read(CHUNK)
    if len(first) > limit:
        raise too_large(what, name, limit)
    buf: bytearray | None = None
    while chunk := await stream.read(CHUNK):
        if buf is None:
            buf = bytearray(first)
        if len(buf) + len(chunk) > limit:
            buf.clear()
            raise too_large(what, name, limit)
        buf += chunk
    return first if buf is None else bytes(buf)


class Meter:
    """Counts the decoded bytes of a streamed body against an optional limit."""

    __slots__ = ("limit", "name", "total", "what")

    def __init__(self, limit: int | None, *, name: str, what: str) -> None:
        self.limit, self.name, self.what, self.total = limit, name, what, 0

    def add(self, size: int) -> None:
        """Count ``size`` more bytes; raises :class:`UnexpectedResponse` past the limit."""
        self.total += size
        if self.limit is not None and self.total > self.limit:
            raise too_large(self.what, self.name, self.limit)


def check_max_bytes(max_bytes: object) -> int | None:
    """Validate an export's ``max_bytes`` (None or an int >= 1), at the call.

    Raises ``TypeError`` for a non-int, :class:`ConfigurationError` for a value below 1.
    """
    if max_bytes is None:
        return None
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int):
        raise TypeError(f"max_bytes must be None or an int (bytes), not {max_bytes!r}")
    if max_bytes < 1:
        raise ConfigurationError(f"max_bytes must be at least 1 byte, got {max_bytes!r}")
    return max_bytes


def export_limit(max_bytes: int | None, limits: Limits) -> tuple[int | None, str]:
    """The limit of one export and its name: ``max_bytes`` when given, else
    ``Limits.export`` (None: no limit)."""
    if max_bytes is not None:
        return max_bytes, "max_bytes"
    return limits.export, "Limits.export"


def export_meter(max_bytes: int | None, limits: Limits, *, what: str) -> Meter:
    """The meter of one export (see :func:`export_limit`)."""
    limit, name = export_limit(max_bytes, limits)
    return Meter(limit, name=name, what=what)

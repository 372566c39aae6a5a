"""The transport, the one module that imports aiohttp: it sends and maps exceptions, no more.

Every rule (URLs, tries, statuses, redirects, 429) is the flows' (``_fetch``); budget and clock
are the driver's. Bodies are received as sent (``auto_decompress=False``) and inflated by
``_inflate`` in bounded steps; every body read into memory goes through :meth:`Response.read`,
which counts the bytes *after* decoding (``_limits.read_limited``), so a compressed bomb stops
at its limit.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Mapping
from typing import cast

import aiohttp
import attrs
from aiohttp.client_proto import ResponseHandler
from yarl import URL

from ._errors import (
    BrightmetricsError,
    ConfigurationError,
    RequestTimeout,
    TransportError,
)
from ._inflate import ACCEPT_ENCODING, Stream, decoded
from ._limits import CHUNK, read_limited, whole
from ._version import VERSION

__all__ = ["Response", "Timeouts", "Transport", "USER_AGENT"]

USER_AGENT = f"brightmetrics-async/{VERSION}"


@attrs.frozen
class Timeouts:
    """Per-request timeouts in seconds: ``connect`` (TCP + TLS), ``read`` (between two reads of
    the body) and ``total`` (one whole request; None = unbounded, as exports may be large)."""

    connect: float | None = 15.0
    read: float | None = 120.0
    total: float | None = None


class Response:
    """An answer whose body is still on the wire; released by the driver."""

    __slots__ = ("_body", "_raw", "headers", "status")

    def __init__(self, raw: aiohttp.ClientResponse) -> None:
        self._raw = raw
        self.status: int = raw.status
        self.headers: Mapping[str, str] = raw.headers
        self._body: Stream | None = None  # the decoded body, made on first read (#14)

    def _decoded(self) -> Stream:
        if self._body is None:
            self._body = decoded(self._raw.content, self.headers)
        return self._body

    async def read(
        self,
        limit: int | None = None,
        *,
        truncate: bool = False,
        name: str = "the limit",
        what: str = "response",
    ) -> bytes:
        """The body, at most ``limit`` decoded bytes: cut there (``truncate``) or refused
        beyond it with an :class:`UnexpectedResponse` naming ``name``.

        A truncated or reset body raises :class:`TransportError`.
        """
        try:
            content = self._decoded()
            if limit is None:
                return await content.read()
            if truncate:
                parts: list[bytes] = []
                left = limit
                while left > 0 and (chunk := await content.read(min(left, CHUNK))):
                    parts.append(chunk)
                    left -= len(chunk)
                return b"".join(parts)
            declared = self._raw.content_length
            encoded = content is not self._raw.content  # an Inflating over the wire
            if whole(declared, encoded, limit=limit, name=name, what=what):
                return await content.read()  # read_limited's first step, one frame less
            return await read_limited(
                content, limit=limit, name=name, what=what, declared=declared, encoded=encoded
            )
        except BaseException as exc:
            raise map_exception(exc) from exc

    async def chunks(self, size: int) -> AsyncIterator[bytes]:
        """The body in chunks of at most ``size`` bytes."""
        while True:
            try:
                chunk = await self._decoded().read(size)
            except BaseException as exc:
                raise map_exception(exc) from exc
            if not chunk:
                return
            yield chunk

    def release(self) -> None:
        """Give the connection back (or close it when the body was not read)."""
        self._raw.release()


def _connector() -> aiohttp.TCPConnector:
    connector = aiohttp.TCPConnector(limit=64, limit_per_host=32)
    if _LAZY_TIMER and isinstance(getattr(connector, "_factory", None), functools.partial):
        factory = functools.partial(_Protocol, loop=asyncio.get_running_loop())
        connector._factory = cast("functools.partial[ResponseHandler]", factory)
    return connector


def map_exception(exc: BaseException, *, before_send: bool = False) -> BaseException:
    """aiohttp/asyncio exceptions -> the error tree; anything else (cancellation) unchanged."""
    if isinstance(exc, BrightmetricsError):
        return exc
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return RequestTimeout("the request timed out")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return TransportError("the response body was cut short (connection closed mid-body)")
    if isinstance(exc, aiohttp.ClientConnectorError):
        reason = exc.strerror or type(exc).__name__
        return TransportError(f"cannot connect to the service: {reason}", before_send=True)
    if isinstance(exc, aiohttp.ClientError):
        return TransportError(f"connection error: {type(exc).__name__}", before_send=before_send)
    if isinstance(exc, OSError):
        return TransportError(f"network error: {exc.strerror or type(exc).__name__}")
    return exc


class _Protocol(ResponseHandler):
    """aiohttp's connection protocol with a lazy read timer (``Timeouts.read``).

    aiohttp cancels and schedules a timer on every arrival of data (three per small request;
    about 10 us of CPU, benchmarks/bulk.py). Here an arrival only notes its time; one timer
    per connection, when it fires, raises the timeout if no data came for ``read`` seconds,
    else sleeps again until then. Same deadline, same error (aiohttp's own
    ``_on_read_timeout``). Used only where aiohttp's protocol has the hooks it overrides.
    """

    _active = False
    _last = 0.0

    def _reschedule_timeout(self) -> None:
        timeout = self._read_timeout
        if not timeout:
            self._active = False
            return
        self._last = now = self._loop.time()
        self._active = True
        handle = self._read_timeout_handle
        if handle is None or handle.when() > now + timeout:
            if handle is not None:
                handle.cancel()
            self._read_timeout_handle = self._loop.call_at(now + timeout, self._lapse)

    def _drop_timeout(self) -> None:
        self._active = False  # the timer, if any, finds nothing to do when it fires

    def _lapse(self) -> None:
        self._read_timeout_handle = None
        timeout = self._read_timeout
        if not (self._active and timeout):
            return
        due = self._last + timeout
        if self._loop.time() >= due:
            self._active = False
            self._on_read_timeout()
        else:
            self._read_timeout_handle = self._loop.call_at(due, self._lapse)

    def connection_lost(self, exc: BaseException | None) -> None:
        handle, self._read_timeout_handle = self._read_timeout_handle, None
        if handle is not None:
            handle.cancel()
        super().connection_lost(exc)


_LAZY_TIMER = all(
    callable(getattr(ResponseHandler, name, None))
    for name in ("_reschedule_timeout", "_drop_timeout", "_on_read_timeout", "connection_lost")
)


class Transport:
    """Sends GET requests over one aiohttp session (opened lazily, or the caller's)."""

    def __init__(self, timeouts: Timeouts, session: aiohttp.ClientSession | None = None) -> None:
        self._timeouts = timeouts
        self._session = session
        self._owns_session = session is None

    @property
    def session(self) -> aiohttp.ClientSession | None:
        """The aiohttp session in use (None before the first request)."""
        return self._session

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            if not self._owns_session:
                raise ConfigurationError("the caller-owned aiohttp.ClientSession is closed")
            t = self._timeouts
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(
                    total=t.total, sock_connect=t.connect, sock_read=t.read
                ),
                headers={"User-Agent": USER_AGENT},
                connector=_connector(),
            )
            # aiohttp silently resends an idempotent request once when a pooled connection
            # turns out closed (RFC 9112 9.3.1). That second request would bypass the budget:
            # switch it off and let the flows' retry rule, which spends a token, decide.
            if hasattr(self._session, "_retry_connection"):
                self._session._retry_connection = False
        return self._session

    async def send(self, method: str, url: str, headers: dict[str, str]) -> Response:
        """Send one request (the URL verbatim, never re-encoded; no redirect followed).

        ``headers`` is the caller's fresh dict: the transport adds its Accept-Encoding to it.
        """
        headers["Accept-Encoding"] = ACCEPT_ENCODING  # #14: what we inflate
        http = self._session
        if http is None or http.closed:
            http = self._http()
        try:
            raw = await http.request(
                method,
                URL(url, encoded=True),
                headers=headers,
                allow_redirects=False,
                auto_decompress=False,
            )
        except BaseException as exc:
            raise map_exception(exc) from exc
        return Response(raw)

    async def aclose(self) -> None:
        """Close the aiohttp session if this transport opened it."""
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None if self._owns_session else self._session

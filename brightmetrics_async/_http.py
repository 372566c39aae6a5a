"""The one module that talks to the network.

Theory of operation
-------------------
``HttpClient.fetch(url, consume, ...)`` is the only way a request leaves the library. For each
try it:

1. refuses a URL on another origin than the configured service (credentials go nowhere else),
   and plain HTTP anywhere but loopback;
2. spends one token of the account's budget (``Budget.acquire``) - every try, redirect hop and
   poll included, so nothing bypasses the 150-a-day limit;
3. sends the request with the credential attached, redirects not followed automatically;
4. follows a same-origin redirect itself (another token), refuses a cross-origin one;
5. hands an accepted status to ``consume`` (which reads or streams the body), or maps an error
   status to the error tree with ``error_for_status``; a 429 also records a "blocked until" in the
   shared budget store, so every process of the account pauses;
6. retries transient failures per the ``RetryPolicy`` (the body read included: ``consume`` must
   be restartable), sleeping with the injected clock.

aiohttp exceptions are converted to ours here and only here.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import TYPE_CHECKING, TypeVar

import aiohttp
import attrs
from yarl import URL

from ._budget import Default
from ._clock import Clock
from ._errors import (
    BrightmetricsError,
    BudgetExhausted,
    ConfigurationError,
    RateLimited,
    RequestTimeout,
    TransportError,
    UnexpectedResponse,
    UnsafeLink,
)
from ._protocol import error_for_status, is_loopback, origin_of, require_same_origin
from ._retry import RetryPolicy
from ._retry_after import parse_retry_after
from ._singleflight import flights

if TYPE_CHECKING:
    from ._auth import Auth
    from ._budget import Budget

__all__ = ["HttpClient", "Response", "Timeouts"]

T = TypeVar("T")
log = logging.getLogger("brightmetrics_async")

_MAX_REDIRECTS = 5
_ERROR_BODY_LIMIT = 64 * 1024
_VERSION = "0.1.0"


@attrs.frozen
class Timeouts:
    """Per-request timeouts in seconds: ``connect`` (TCP + TLS), ``read`` (between two reads of
    the body) and ``total`` (one whole request; None = unbounded, as exports may be large)."""

    connect: float | None = 15.0
    read: float | None = 120.0
    total: float | None = None

    def _aiohttp(self) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(
            total=self.total, sock_connect=self.connect, sock_read=self.read
        )


class Response:
    """A response whose status was accepted; the body is read through this object only."""

    __slots__ = ("_raw", "headers", "status", "url")

    def __init__(self, raw: aiohttp.ClientResponse) -> None:
        self._raw = raw
        self.status: int = raw.status
        self.headers: Mapping[str, str] = raw.headers
        self.url: str = str(raw.url)

    @property
    def content_type(self) -> str | None:
        """The Content-Type header, verbatim."""
        return self.headers.get("Content-Type")

    @property
    def content_length(self) -> int | None:
        """The declared Content-Length, if any."""
        return self._raw.content_length

    async def read(self) -> bytes:
        """The whole body; a truncated or reset body raises :class:`TransportError`."""
        try:
            return await self._raw.read()
        except BaseException as exc:
            raise _map_exception(exc, before_send=False) from exc

    async def iter_chunks(self, size: int = 256 * 1024) -> _Chunks:
        """An async iterator over body chunks of at most ``size`` bytes."""
        return _Chunks(self._raw, size)


class _Chunks:
    def __init__(self, raw: aiohttp.ClientResponse, size: int) -> None:
        self._raw, self._size = raw, size

    def __aiter__(self) -> _Chunks:
        return self

    async def __anext__(self) -> bytes:
        try:
            chunk = await self._raw.content.read(self._size)
        except BaseException as exc:
            raise _map_exception(exc, before_send=False) from exc
        if not chunk:
            raise StopAsyncIteration
        return chunk


def _map_exception(exc: BaseException, *, before_send: bool) -> BaseException:
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


_BLANK_OR_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def _checked_url(url: str, base_url: str, *, what: str) -> URL:
    """The URL to send, after the origin policy; raises :class:`UnsafeLink` before any spend.

    Server-sent links are refused when on another origin, when they carry user information
    (aiohttp would turn it into a second credential, or fail), or when malformed (blanks or
    control characters, a bad port): no budget token is spent on a request that cannot go.
    """
    require_same_origin(url, base_url, what=what)
    if _BLANK_OR_CONTROL.search(url):
        raise UnsafeLink(f"{what}: the URL contains blanks or control characters; not followed")
    try:
        target = URL(url, encoded=True)
        port = target.port
    except (ValueError, TypeError) as exc:
        raise UnsafeLink(f"{what}: the URL is malformed; not followed") from exc
    if port is None:
        raise UnsafeLink(f"{what}: the URL has no usable port; not followed")
    # "@" anywhere in the authority is user information, even where yarl would not parse it.
    authority = url.split("://", 1)[-1].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if target.user is not None or target.password is not None or "@" in authority:
        raise UnsafeLink(f"{what}: the URL carries user information; not followed")
    return target


def _redirect_target(current: URL, location: str, *, what: str) -> str:
    try:
        return str(current.join(URL(location, encoded=True)))
    except (ValueError, TypeError) as exc:
        raise UnsafeLink(f"{what}: the redirect Location is malformed; not followed") from exc


class HttpClient:
    """Sends every request of one Session: budget, credentials, origin policy, retries."""

    def __init__(
        self,
        *,
        base_url: str,
        auth: Auth,
        budget: Budget,
        account: str,
        clock: Clock,
        timeouts: Timeouts,
        retry: RetryPolicy,
        max_wait: float | Default | None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        scheme, host, _ = origin_of(base_url)
        if scheme != "https" and not is_loopback(host):
            raise ConfigurationError(
                "refusing plain HTTP to a non-loopback host: credentials would travel in clear"
            )
        self.base_url = base_url
        self._auth = auth
        self.budget = budget
        self.account = account
        self.clock = clock
        self._timeouts = timeouts
        self._retry = retry
        self._max_wait = max_wait
        self._session = session
        self._owns_session = session is None
        self.requests_sent = 0
        self._digest: str | None = None

    @property
    def session(self) -> aiohttp.ClientSession | None:
        """The aiohttp session in use (None before the first request)."""
        return self._session

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            if not self._owns_session:
                raise ConfigurationError("the caller-owned aiohttp.ClientSession is closed")
            self._session = aiohttp.ClientSession(
                timeout=self._timeouts._aiohttp(),
                headers={"User-Agent": f"brightmetrics-async/{_VERSION}"},
                connector=aiohttp.TCPConnector(limit=64, limit_per_host=32),
            )
            # aiohttp silently resends an idempotent request once when a pooled connection
            # turns out closed (RFC 9112 9.3.1). That second request would bypass the budget:
            # switch it off and let our own retry loop, which spends a token, decide.
            if hasattr(self._session, "_retry_connection"):
                self._session._retry_connection = False
        return self._session

    async def aclose(self) -> None:
        """Close the aiohttp session if this client opened it."""
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None if self._owns_session else self._session

    async def fetch(
        self,
        url: str,
        consume: Callable[[Response], Awaitable[T]],
        *,
        what: str,
        headers: Mapping[str, str] | None = None,
        ok: Collection[int] = (200,),
        idempotent: bool = True,
        interactive: bool = False,
        shared: bool = False,
    ) -> T:
        """Send a GET to ``url`` (verbatim, never re-encoded) and return ``consume(response)``.

        ``shared=True`` (documents, pages): a concurrent identical request of this process
        (same URL, headers, credential and ``consume``) is not sent twice; both get its answer.

        Raises :class:`UnsafeLink`, :class:`BudgetExhausted`, :class:`ApiError` subclasses,
        :class:`TransportError` or what ``consume`` raises.
        """
        if shared and idempotent:  # #12: identical concurrent GETs share one request
            key = (url, tuple(sorted((headers or {}).items())), self._credential(), consume, *ok)
            return await flights().do(
                key,
                lambda: self.fetch(
                    url, consume, what=what, headers=headers, ok=ok, interactive=interactive
                ),
            )
        attempt, waited = 1, 0.0
        while True:
            try:
                return await self._once(url, consume, what, headers, ok, interactive)
            except BrightmetricsError as error:
                retry_after = getattr(error, "retry_after", None)
                if isinstance(error, RateLimited):
                    self._check_block(error, retry_after)
                    retry_after = 0.0  # the block recorded in the budget store paces the retry
                if not self._retry.should_retry(error, idempotent=idempotent):
                    raise
                if attempt >= self._retry.attempts:
                    raise
                if retry_after is not None and retry_after > self._retry.max_retry_after:
                    raise
                delay = self._retry.delay(attempt, retry_after=retry_after)
                if waited + delay > self._retry.total:
                    raise
                log.debug("%s: %s; retry %d in %.1fs", what, error.message, attempt, delay)
                await self.clock.sleep(delay)
                attempt, waited = attempt + 1, waited + delay

    def _credential(self) -> str:
        """A digest of the credential: requests of other credentials never share an answer."""
        if self._digest is None:  # credentials are fixed for a client's life
            self._digest = hashlib.sha256(self._auth.header().encode()).hexdigest()
        return self._digest

    def _check_block(self, error: RateLimited, retry_after: float | None) -> None:
        wait = 60.0 if retry_after is None else retry_after
        limit = self.budget.max_wait if isinstance(self._max_wait, Default) else self._max_wait
        if limit is not None and wait > limit:
            raise BudgetExhausted(
                f"the service refused the request (HTTP 429) for {wait:.0f}s, "
                f"longer than max_wait={limit:.0f}s",
                next_free_at=self.clock.time() + wait,
            ) from error

    async def _once(
        self,
        url: str,
        consume: Callable[[Response], Awaitable[T]],
        what: str,
        headers: Mapping[str, str] | None,
        ok: Collection[int],
        interactive: bool,
    ) -> T:
        for _hop in range(_MAX_REDIRECTS + 1):
            target = _checked_url(url, self.base_url, what=what)
            await self.budget.acquire(
                self.account, max_wait=self._max_wait, interactive=interactive
            )
            send = {**(headers or {}), "Authorization": self._auth.header()}
            log.debug("GET %s (%s)", url, what)
            try:
                raw = await self._http().get(target, headers=send, allow_redirects=False)
            except BaseException as exc:
                raise _map_exception(exc, before_send=False) from exc
            finally:
                self.requests_sent += 1
            try:
                log.debug("%s -> HTTP %d", what, raw.status)
                if raw.status in ok:
                    return await consume(Response(raw))
                if 300 <= raw.status < 400 and "Location" in raw.headers:
                    url = _redirect_target(raw.url, raw.headers["Location"], what=what)
                    continue
                await self._raise_for(raw, what)
            finally:
                raw.release()
        raise UnsafeLink(f"{what}: more than {_MAX_REDIRECTS} redirects")

    async def _raise_for(self, raw: aiohttp.ClientResponse, what: str) -> None:
        try:
            body = await raw.content.read(_ERROR_BODY_LIMIT)
        except (TimeoutError, aiohttp.ClientError, OSError):
            body = b""
        now = self.clock.time()
        retry_after = parse_retry_after(raw.headers.get("Retry-After"), now=now)
        error = error_for_status(raw.status, raw.headers, body, retry_after=retry_after, what=what)
        if error is None:
            raise UnexpectedResponse(f"{what}: unexpected HTTP {raw.status}")
        if raw.status == 429:
            # The server is the truth: others on the account spend the same quota.
            await self.budget.block_until(self.account, now + (retry_after or 60.0))
        raise error

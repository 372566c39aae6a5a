"""The driver: runs any flow (``_fetch``) over the network.

For each command a flow yields it does one thing: ``Send`` spends one budget token (a
``use_reserve`` session may spend the budget's reserve), adds the credential and sends through
the transport; ``Read``/``Stream`` read the body of the last answer, within the limit the
flow gave; ``Sleep`` waits on the injected clock; ``Block`` records a 429 in the budget store.
A failure is thrown back into the flow, which decides. The driver decides nothing.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from ._budget import Default
from ._documents import Documents
from ._errors import UnexpectedResponse
from ._fetch import Block, Cached, Document, Flow, Head, Now, Read, Send, Sleep, Stream
from ._limits import Limits, Meter, too_large
from ._otel import NO_TELEMETRY, NULL_CALL, RequestCall, Telemetry
from ._singleflight import flights

if TYPE_CHECKING:
    from ._auth import Auth
    from ._budget import Budget
    from ._clock import Clock
    from ._http import Response, Transport
    from ._request import Request

__all__ = ["CHUNK", "SHARED", "Driver"]

T = TypeVar("T")
log = logging.getLogger("brightmetrics_async")
CHUNK = 256 * 1024
#: Idempotent GETs whose concurrent identical copies (same URL, headers and credential) in
#: this process are sent once, their answer shared (#12, ``_singleflight``).
SHARED = frozenset({"service document", "filter metadata", "service metadata", "report page"})


class Driver:
    """Runs flows for one session: budget, credential, transport, clock."""

    def __init__(
        self,
        transport: Transport,
        *,
        auth: Auth,
        budget: Budget,
        account: str,
        clock: Clock,
        max_wait: float | Default | None,
        use_reserve: bool = False,
    ) -> None:
        self.transport = transport
        self._auth = auth
        self.budget = budget
        self.account = account
        self.clock = clock
        self._max_wait = max_wait
        self.use_reserve = use_reserve
        self.documents = Documents()
        self.requests_sent = 0
        #: The observer told about every request sent (#17, ``_otel``); set by the session.
        self.telemetry: Telemetry = NO_TELEMETRY
        self._digest: str | None = None
        #: The body limits (#14) an answer shared by identical requests is read within.
        self.limits = Limits()

    @property
    def max_wait(self) -> float | None:
        """The longest wait for budget (or a 429) this session accepts."""
        mw = self._max_wait
        return self.budget.max_wait if isinstance(mw, Default) else mw

    async def run(self, flow: Flow[T], *, interactive: bool = False) -> T:
        """Run ``flow`` to its end and return its value (or raise what it raises).

        ``interactive`` (or a ``use_reserve`` driver) lets its requests spend the budget's
        reserve tokens.
        """
        interactive = interactive or self.use_reserve
        reply: Any = None
        error: Exception | None = None
        response: Response | Buffered | None = None
        what = "response"  # the request whose answer is being read
        try:
            while True:
                try:
                    command = flow.send(reply) if error is None else flow.throw(error)
                except StopIteration as stop:
                    return stop.value  # type: ignore[no-any-return]
                reply = error = None
                try:
                    if isinstance(command, Send):
                        if response is not None:
                            response.release()
                            response = None
                        request = command.request
                        what = request.what
                        if request.method == "GET" and request.purpose in SHARED:
                            key = (request.url, request.headers, self._credential())
                            response = await flights().do(
                                key, functools.partial(self._send_whole, request, interactive)
                            )
                        else:
                            response = await self._acquire_send(request, interactive)
                        # Redirects are not followed by the transport: the URL that
                        # answered is the URL sent.
                        reply = Head(
                            response.status,
                            response.headers,
                            request.url,
                            self.clock.time(),
                            request,
                        )
                    elif isinstance(command, Read):
                        assert response is not None
                        reply = await response.read(
                            command.limit,
                            truncate=command.truncate,
                            name=command.name,
                            what=what,
                        )
                    elif isinstance(command, Stream):
                        assert response is not None
                        reply = await _stream(response, command, what)
                    elif isinstance(command, Sleep):
                        await self.clock.sleep(command.seconds)
                    elif isinstance(command, Now):
                        reply = self.clock.time()
                    elif isinstance(command, Block):
                        await self.budget.block_until(self.account, command.until)
                    elif isinstance(command, Cached):
                        reply = self.documents.get(command.key)
                    elif isinstance(command, Document):
                        reply = await self.documents.load(
                            command.key, command.flow, self.run, command.parse
                        )
                    else:  # pragma: no cover - a flow bug
                        raise TypeError(f"unknown command {command!r}")
                except Exception as exc:
                    error = exc
        finally:
            if response is not None:
                response.release()
            flow.close()

    async def _acquire_send(self, request: Request, interactive: bool) -> Response:
        """Spend a token (the wait observed by telemetry), then :meth:`_send`."""
        asked_at = self.clock.time()
        await self.budget.acquire(self.account, max_wait=self._max_wait, interactive=interactive)
        return await self._send(request, asked_at)

    async def _send(self, request: Request, asked_at: float) -> Response:
        """Send ``request`` (its token spent) under the telemetry observer (#17)."""
        observed = self.telemetry.request(request.purpose, request.url, method=request.method)
        if observed is NULL_CALL:  # nobody observes (no OpenTelemetry SDK): no span work
            return await self._transmit(request, None)
        with observed as call:
            call.waited(self.clock.time() - asked_at)
            await call.read_budget(self.budget, self.account)
            response = await self._transmit(request, call)
            call.got(response.status)
            return response

    async def _transmit(self, request: Request, call: RequestCall | None) -> Response:
        """Attach the credential (and the trace context), send, count."""
        headers = dict(request.headers)
        headers["Authorization"] = self._auth.header()
        if call is not None:
            call.inject(headers)
        if debug := log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s (%s)", request.method, request.url, request.what)
        try:
            response = await self.transport.send(request.method, request.url, headers)
        finally:
            self.requests_sent += 1
        if debug:
            log.debug("%s -> HTTP %d", request.what, response.status)
        return response

    async def _send_whole(self, request: Request, interactive: bool) -> Buffered:
        """:meth:`_acquire_send` and read the body, so that followers may share the answer.

        The body is read as the flows read it (#14): a success within ``Limits.page`` (a
        page) or ``Limits.metadata`` (a document), refused past it - the refusal is kept and
        raised to each reader -, an error answer cut at ``Limits.error``.
        """
        limits = self.limits
        response = await self._acquire_send(request, interactive)
        try:
            if not 200 <= response.status < 300:
                body = await response.read(limits.error, truncate=True, what=request.what)
                return Buffered(response.status, response.headers, body)
            if request.purpose == "report page":
                limit, name = limits.page, "Limits.page"
            else:
                limit, name = limits.metadata, "Limits.metadata"
            try:
                body = await response.read(limit, name=name, what=request.what)
            except UnexpectedResponse as refused:
                return Buffered(response.status, response.headers, b"", refused)
            return Buffered(response.status, response.headers, body)
        finally:
            response.release()

    def _credential(self) -> str:
        """A digest of the credential: requests of other credentials never share an answer."""
        if self._digest is None:
            self._digest = hashlib.sha256(self._auth.header().encode()).hexdigest()
        return self._digest


class Buffered:
    """An answer read whole (shared by identical concurrent requests); ``refused``: the
    body was past its limit, raised to whoever reads it."""

    __slots__ = ("_body", "_refused", "headers", "status")

    def __init__(
        self,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
        refused: UnexpectedResponse | None = None,
    ) -> None:
        self.status = status
        self.headers = headers
        self._body = body
        self._refused = refused

    async def read(
        self,
        limit: int | None = None,
        *,
        truncate: bool = False,
        name: str = "the limit",
        what: str = "response",
    ) -> bytes:
        """The body, at most ``limit`` bytes (as :meth:`Response.read`)."""
        if self._refused is not None:
            raise UnexpectedResponse(str(self._refused))
        body = self._body
        if limit is not None and len(body) > limit:
            if not truncate:
                raise too_large(what, name, limit)
            return body[:limit]
        return body

    async def chunks(self, size: int) -> AsyncIterator[bytes]:
        """The body in chunks of at most ``size`` bytes."""
        if self._refused is not None:
            raise UnexpectedResponse(str(self._refused))
        for at in range(0, len(self._body), size):
            yield self._body[at : at + size]

    def release(self) -> None:
        """Nothing to give back."""


async def _stream(response: Response | Buffered, command: Stream, what: str) -> int:
    sink, progress = command.sink, command.progress
    meter = Meter(command.limit, name=command.name, what=what)
    sink.restart()
    async for chunk in response.chunks(CHUNK):
        meter.add(len(chunk))  # counted after decoding, before the chunk is written
        sink.write(chunk)
        if progress is not None:
            progress(sink.bytes_written)
    written: int = sink.bytes_written
    return written

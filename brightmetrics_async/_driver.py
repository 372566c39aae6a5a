"""The driver: runs any flow (``_fetch``) over the network.

For each command a flow yields it does one thing: ``Send`` spends one budget token (a
``use_reserve`` session may spend the budget's reserve), adds the credential and sends through
the transport; ``Read``/``Stream`` read the body of the last answer, within the limit the
flow gave; ``Sleep`` waits on the injected clock; ``Block`` records a 429 in the budget store.
A failure is thrown back into the flow, which decides. The driver decides nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Hashable, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, TypeVar

from ._budget import Default
from ._documents import Documents
from ._errors import UnexpectedResponse
from ._fetch import Block, Cached, Command, Document, Flow, Head, Now, Read, Send, Sleep, Stream
from ._limits import Limits, Meter, too_large
from ._otel import NO_TELEMETRY, NULL_CALL, RequestCall, Telemetry
from ._singleflight import SingleFlight, flights

if TYPE_CHECKING:
    from ._auth import Auth
    from ._budget import Budget
    from ._clock import Clock
    from ._http import Response, Transport
    from ._request import Request

__all__ = ["CHUNK", "SHARED", "Driver"]

T = TypeVar("T")
#: Builds a named tuple from a tuple without its Python-level ``__new__`` (one per answer).
_tuple = tuple.__new__
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
        # The single-flight registry of the loop last run on (``_singleflight.flights``).
        self._flights: SingleFlight | None = None
        self._flights_loop: asyncio.AbstractEventLoop | None = None

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
        # The loop runs once per command of every request: it is written for speed (the
        # commands a page needs first, exact type tests, no per-command allocation but the
        # answer), benchmarks/bulk.py measures it.
        interactive = interactive or self.use_reserve
        response: Response | Buffered | None = None
        what = "response"  # the request whose answer is being read
        try:
            command: Any = flow.send(None)  # dispatched on its exact type below
            while True:
                try:
                    kind = type(command)
                    if kind is Send:
                        if response is not None:
                            response.release()
                            response = None
                        request = command[0]
                        what = request.what
                        body = None
                        if request.purpose in SHARED and request.method == "GET":
                            response = shared = await self._shared(request, interactive)
                            body = shared.body  # read whole already (a success, in its limit)
                        else:
                            response = await self._acquire_send(request, interactive)
                        # Redirects are not followed by the transport: the URL that
                        # answered is the URL sent.
                        reply: Any = _tuple(
                            Head,
                            (
                                response.status,
                                response.headers,
                                request.url,
                                self.clock.time(),
                                request,
                                body,
                            ),
                        )
                    elif kind is Read:
                        assert response is not None
                        limit, truncate, name = command
                        reply = await response.read(limit, truncate=truncate, name=name, what=what)
                    elif kind is Sleep:  # here, not in _other: a waiting job holds one less frame
                        seconds, command = command[0], None  # and no Sleep while it sleeps
                        if response is not None:
                            # Nothing reads an answer after a sleep (the next command is a
                            # Send): a job waiting for its next poll holds no response (#11).
                            response.release()
                            response = None
                        await self.clock.sleep(seconds)
                        reply = None
                    else:
                        reply = await self._other(command, response, what)
                except Exception as exc:
                    command = flow.throw(exc)
                else:
                    command = flow.send(reply)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        finally:
            if response is not None:
                response.release()
            flow.close()

    async def _other(
        self, command: Command, response: Response | Buffered | None, what: str
    ) -> Any:
        """The commands other than ``Send``, ``Read`` and ``Sleep``."""
        if isinstance(command, Stream):
            assert response is not None
            return await _stream(response, command, what)
        if isinstance(command, Now):
            return self.clock.time()
        if isinstance(command, Block):
            await self.budget.block_until(self.account, command.until)
            return None
        if isinstance(command, Cached):
            return self.documents.get(command.key)
        if isinstance(command, Document):
            return await self.documents.load(command.key, command.flow, self.run, command.parse)
        raise TypeError(f"unknown command {command!r}")  # pragma: no cover - a flow bug

    def _shared(self, request: Request, interactive: bool) -> Awaitable[Buffered]:
        """A GET whose concurrent identical copies are sent once (``_singleflight``)."""
        loop = asyncio.get_running_loop()
        registry = self._flights
        if registry is None or loop is not self._flights_loop:
            registry = self._flights = flights()
            self._flights_loop = loop
        key = (request.url, request.headers, self._digest or self._credential())
        return self._send_whole(request, interactive, registry, key)

    def _acquire_send(self, request: Request, interactive: bool) -> Awaitable[Response]:
        """Spend a token, then send ``request`` (observed by telemetry, #17).

        Not a coroutine itself: when nobody observes and the budget grants a token at once
        (the common case), the answer is the transmission's own coroutine.
        """
        observed = self.telemetry.request(request.purpose, request.url, method=request.method)
        if observed is not NULL_CALL:
            return self._observed(observed, request, interactive)
        # Nobody observes (no OpenTelemetry SDK): no span work, no wait measured.
        if self.budget.spend_now(self.account, interactive=interactive) is None:
            return self._wait_send(request, interactive)
        return self._transmit(request, None)

    async def _wait_send(self, request: Request, interactive: bool) -> Response:
        await self.budget.acquire(self.account, max_wait=self._max_wait, interactive=interactive)
        return await self._transmit(request, None)

    async def _observed(
        self,
        observed: AbstractContextManager[RequestCall],
        request: Request,
        interactive: bool,
    ) -> Response:
        asked_at = self.clock.time()
        await self.budget.acquire(self.account, max_wait=self._max_wait, interactive=interactive)
        with observed as call:
            call.waited(self.clock.time() - asked_at)
            await call.read_budget(self.budget, self.account)
            response = await self._transmit(request, call)
            call.got(response.status)
            return response

    def _transmit(self, request: Request, call: RequestCall | None) -> Awaitable[Response]:
        """Attach the credential (and the trace context), count, send.

        Not a coroutine itself: the answer is the transport's own coroutine (one frame less
        on every resumption of a request), counted as sent once it is made - the caller
        awaits it at once, so a request that raises or is cancelled on the wire was sent.
        """
        headers = dict(request.headers)
        headers["Authorization"] = self._auth.header()
        if call is not None:
            call.inject(headers)
        if log.isEnabledFor(logging.DEBUG):
            return self._logged(request, headers)
        self.requests_sent += 1
        return self.transport.send(request.method, request.url, headers)

    async def _logged(self, request: Request, headers: dict[str, str]) -> Response:
        log.debug("%s %s (%s)", request.method, request.url, request.what)
        self.requests_sent += 1
        response = await self.transport.send(request.method, request.url, headers)
        log.debug("%s -> HTTP %d", request.what, response.status)
        return response

    async def _send_whole(
        self,
        request: Request,
        interactive: bool,
        registry: SingleFlight | None = None,
        key: Hashable = None,
    ) -> Buffered:
        """:meth:`_acquire_send` and read the body, so that followers may share the answer.

        With a ``registry``, the request leads the ``key`` there (its followers get this
        answer), or follows the identical request already in flight: ``SingleFlight.do``
        in this frame, one coroutine less per request.

        The body is read as the flows read it (#14): a success within ``Limits.page`` (a
        page) or ``Limits.metadata`` (a document), refused past it - the refusal is kept and
        raised to each reader -, an error answer cut at ``Limits.error``.
        """
        mine = None
        if registry is not None:
            mine = registry.lead(key)
            if mine is None:
                return await registry.do(key, self._send_whole, request, interactive)
        try:
            limits = self.limits
            response = await self._acquire_send(request, interactive)
            try:
                if not 200 <= response.status < 300:
                    body = await response.read(limits.error, truncate=True, what=request.what)
                    answer = Buffered(response.status, response.headers, body)
                else:
                    if request.purpose == "report page":
                        limit, name = limits.page, "Limits.page"
                    else:
                        limit, name = limits.metadata, "Limits.metadata"
                    try:
                        body = await response.read(limit, name=name, what=request.what)
                        answer = Buffered(response.status, response.headers, body)
                    except UnexpectedResponse as refused:
                        answer = Buffered(response.status, response.headers, b"", refused)
            finally:
                response.release()
        except BaseException as exc:
            if mine is not None:
                mine.settle(error=exc)
            raise
        if mine is not None:
            mine.settle(answer)
        return answer

    def _credential(self) -> str:
        """A digest of the credential: requests of other credentials never share an answer."""
        if self._digest is None:
            self._digest = hashlib.sha256(self._auth.header().encode()).hexdigest()
        return self._digest


class Buffered:
    """An answer read whole (shared by identical concurrent requests); ``refused``: the
    body was past its limit, raised to whoever reads it."""

    __slots__ = ("_body", "_refused", "body", "headers", "status")

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
        #: The body for the flow's ``Head`` (#11): a success within its limit, else None.
        self.body = body if refused is None and 200 <= status < 300 else None

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

"""The driver: runs any flow (``_fetch``) over the network.

For each command a flow yields it does one thing: ``Send`` spends one budget token, adds the
credential and sends through the transport; ``Read``/``Stream`` read the body of the last
answer; ``Sleep`` waits on the injected clock; ``Block`` records a 429 in the budget store.
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
    ) -> None:
        self.transport = transport
        self._auth = auth
        self.budget = budget
        self.account = account
        self.clock = clock
        self._max_wait = max_wait
        self.documents = Documents()
        self.requests_sent = 0
        self._digest: str | None = None

    @property
    def max_wait(self) -> float | None:
        """The longest wait for budget (or a 429) this session accepts."""
        mw = self._max_wait
        return self.budget.max_wait if isinstance(mw, Default) else mw

    async def run(self, flow: Flow[T], *, interactive: bool = False) -> T:
        """Run ``flow`` to its end and return its value (or raise what it raises)."""
        reply: Any = None
        error: Exception | None = None
        response: Response | Buffered | None = None
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
                        if request.method == "GET" and request.purpose in SHARED:
                            key = (request.url, request.headers, self._credential())
                            response = await flights().do(
                                key, functools.partial(self._send_whole, request, interactive)
                            )
                        else:
                            response = await self._send(request, interactive)
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
                        reply = await response.read(command.limit, truncate=command.truncate)
                    elif isinstance(command, Stream):
                        assert response is not None
                        reply = await _stream(response, command)
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

    async def _send(self, request: Request, interactive: bool) -> Response:
        """Spend a token, add the credential, send."""
        await self.budget.acquire(self.account, max_wait=self._max_wait, interactive=interactive)
        headers = dict(request.headers)
        headers["Authorization"] = self._auth.header()
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
        """:meth:`_send` and read the whole body, so that followers may share the answer."""
        response = await self._send(request, interactive)
        try:
            return Buffered(response.status, response.headers, await response.read())
        finally:
            response.release()

    def _credential(self) -> str:
        """A digest of the credential: requests of other credentials never share an answer."""
        if self._digest is None:
            self._digest = hashlib.sha256(self._auth.header().encode()).hexdigest()
        return self._digest


class Buffered:
    """An answer read whole (shared by identical concurrent requests)."""

    __slots__ = ("_body", "headers", "status")

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self._body = body

    async def read(self, limit: int | None = None, *, truncate: bool = False) -> bytes:
        """The body, at most ``limit`` bytes (as :meth:`Response.read`)."""
        if limit is None or len(self._body) <= limit:
            return self._body
        if not truncate:
            raise UnexpectedResponse(f"the body is larger than {limit} bytes; not read")
        return self._body[:limit]

    async def chunks(self, size: int) -> AsyncIterator[bytes]:
        """The body in chunks of at most ``size`` bytes."""
        for at in range(0, len(self._body), size):
            yield self._body[at : at + size]

    def release(self) -> None:
        """Nothing to give back."""


async def _stream(response: Response | Buffered, command: Stream) -> int:
    sink, progress = command.sink, command.progress
    sink.restart()
    async for chunk in response.chunks(CHUNK):
        sink.write(chunk)
        if progress is not None:
            progress(sink.bytes_written)
    written: int = sink.bytes_written
    return written

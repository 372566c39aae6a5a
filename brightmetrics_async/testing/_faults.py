"""Fault injection: make the emulator misbehave on purpose, the ways real servers do.

Theory of operation
-------------------
A :class:`Faults` holds an ordered list of armed :class:`Fault` rules and, optionally, a seeded
random "chaos" schedule. For each request the first armed rule whose ``path_contains`` occurs in
the raw request target (and, for a rule armed with a ``rate`` below 1, whose seeded draw falls
under it) fires and spends one of its ``times`` (None: fires forever); failing
that, the chaos schedule may fire one of its kinds with its probability, drawn from a
``random.Random(seed)`` so a run is reproducible. Faults act before authentication, so a faulted
request does not spend the quota. Kinds that replace the answer (``SERVER_ERROR``,
``TOO_MANY_REQUESTS``, ``STATUS_NOT_FOUND``, ``RESET_BEFORE_RESPONSE``) skip the handler;
``DELAY`` waits first; the others rewrite or cut the handler's answer. A streamed answer (a CSV
export) is already on the wire and cannot be rewritten, so body faults do nothing to it.
Every fired fault is appended to ``fired`` as ``(kind, raw target)``.
"""

from __future__ import annotations

import asyncio
import enum
import json
import random
import socket
import struct
from collections.abc import Awaitable, Callable, Sequence

import attrs
from aiohttp import web

__all__ = ["ConnectionDropped", "Fault", "FaultKind", "Faults"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_HTML = "<html><head><title>{status} Error</title></head><body><h1>Server Error</h1></body></html>"


class FaultKind(enum.Enum):
    """What a fault does to the request it fires on."""

    DELAY = "delay"  # wait ``seconds`` before answering
    SLOW_BODY = "slow_body"  # send the body in 8 pieces, ``seconds`` apart in total
    RESET_BEFORE_RESPONSE = "reset_before_response"  # drop the connection, no status line
    RESET_MID_BODY = "reset_mid_body"  # chunked body cut at ``fraction``, then dropped
    TRUNCATED_BODY = "truncated_body"  # full Content-Length, fewer bytes, then dropped
    SERVER_ERROR = "server_error"  # ``status`` (5xx) with an HTML body
    TOO_MANY_REQUESTS = "too_many_requests"  # 429, ``Retry-After: seconds``
    MALFORMED_JSON = "malformed_json"  # the body cut in half, status and headers kept
    MISSING_VALUE = "missing_value"  # a JSON page without its ``value``
    WRONG_CONTENT_TYPE = "wrong_content_type"  # the real body labelled text/html
    STATUS_NOT_FOUND = "status_not_found"  # 404 (e.g. a status URL flipping 202/404)
    REPEAT_NEXT_LINK = "repeat_next_link"  # ``@odata.nextLink`` is the requested URL again
    FOREIGN_NEXT_LINK = "foreign_next_link"  # ``@odata.nextLink`` on ``other_origin``


@attrs.frozen
class Fault:
    """A fault rule: ``kind`` fires on requests whose raw target contains ``path_contains``
    (any request when None), ``times`` times (None: forever). ``status``, ``seconds``,
    ``fraction`` and ``other_origin`` parameterise the kinds that use them.
    """

    kind: FaultKind
    path_contains: str | None = None
    times: int | None = 1
    status: int = 503
    seconds: float = 1.0
    fraction: float = 0.5
    other_origin: str = "http://elsewhere.invalid"


class ConnectionDropped(Exception):
    """Raised after a fault dropped the connection; the request log records status 0."""


class Faults:
    """Armed fault rules and an optional seeded chaos schedule; see the module docstring."""

    def __init__(self, *, seed: int) -> None:
        self._rng = random.Random(seed)
        self._rules: list[tuple[Fault, list[int | None], float]] = []
        self._chaos: tuple[float, tuple[Fault, ...]] | None = None
        self.fired: list[tuple[FaultKind, str]] = []

    def add(self, fault: Fault, *, rate: float = 1.0) -> None:
        """Arm ``fault`` (after the rules already armed) on a ``rate`` share of the requests.

        Raises ValueError unless ``0 < rate <= 1``.
        """
        if not 0 < rate <= 1:
            raise ValueError("a fault's rate is a share of requests: 0 < rate <= 1")
        self._rules.append((fault, [fault.times], rate))

    def chaos(self, probability: float, faults: Sequence[Fault]) -> None:
        """Fire one of ``faults`` (chosen at random) on each request with ``probability``."""
        self._chaos = (probability, tuple(faults))

    def clear(self) -> None:
        """Disarm every rule and the chaos schedule."""
        self._rules.clear()
        self._chaos = None

    def _take(self, target: str) -> Fault | None:
        for fault, left, rate in self._rules:
            if left[0] == 0 or (fault.path_contains and fault.path_contains not in target):
                continue
            if rate < 1 and self._rng.random() >= rate:
                continue
            if left[0] is not None:
                left[0] -= 1
            return fault
        if self._chaos is not None:
            probability, faults = self._chaos
            if faults and self._rng.random() < probability:
                fault = self._rng.choice(faults)
                if not fault.path_contains or fault.path_contains in target:
                    return fault
        return None

    async def handle(
        self, request: web.Request, handler: Handler, *, now: float
    ) -> web.StreamResponse:
        """Answer ``request``, injecting the fault that is due, if any.

        Raises ConnectionDropped when the fault drops the connection.
        """
        fault = self._take(request.raw_path)
        if fault is None:
            return await handler(request)
        self.fired.append((fault.kind, request.raw_path))
        kind = fault.kind
        if kind is FaultKind.RESET_BEFORE_RESPONSE:
            _drop(request)
        if kind is FaultKind.SERVER_ERROR:
            html = _HTML.format(status=fault.status)
            return web.Response(status=fault.status, text=html, content_type="text/html")
        if kind is FaultKind.TOO_MANY_REQUESTS:
            body = {"error": {"code": "TooManyRequests", "message": "Injected rate limit."}}
            headers = {"Retry-After": f"{fault.seconds:g}"}
            return web.json_response(body, status=429, headers=headers)
        if kind is FaultKind.STATUS_NOT_FOUND:
            body = {"error": {"code": "NotFound", "message": "Injected not found."}}
            return web.json_response(body, status=404)
        if kind is FaultKind.DELAY:
            await asyncio.sleep(fault.seconds)
            return await handler(request)
        response = await handler(request)
        if not isinstance(response, web.Response) or response.prepared:
            return response  # streamed: already on the wire
        return await _rewrite(request, response, fault)


def _drop(request: web.Request) -> None:
    """Close the connection with a TCP RST (SO_LINGER 0), then stop handling."""
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    raise ConnectionDropped


async def _rewrite(
    request: web.Request, response: web.Response, fault: Fault
) -> web.StreamResponse:
    body = bytes(response.body) if isinstance(response.body, bytes | bytearray) else b""
    kind = fault.kind
    if kind in (FaultKind.MALFORMED_JSON, FaultKind.MISSING_VALUE, FaultKind.WRONG_CONTENT_TYPE):
        if kind is FaultKind.MALFORMED_JSON:
            response.body = body[: len(body) // 2]
        elif kind is FaultKind.MISSING_VALUE:
            response.body = _edit_json(body, lambda doc: doc.pop("value", None))
        else:
            response.headers["Content-Type"] = "text/html; charset=utf-8"
        return response
    if kind in (FaultKind.REPEAT_NEXT_LINK, FaultKind.FOREIGN_NEXT_LINK):
        if kind is FaultKind.REPEAT_NEXT_LINK:
            link = f"{request.url.origin()}{request.raw_path}"
        else:
            link = f"{fault.other_origin}{request.raw_path}"
        response.body = _edit_json(body, lambda doc: doc.__setitem__("@odata.nextLink", link))
        return response
    # The remaining kinds control how the bytes go out.
    stream = web.StreamResponse(status=response.status, headers=response.headers)
    cut = int(len(body) * fault.fraction)
    if kind is FaultKind.RESET_MID_BODY:
        stream.enable_chunked_encoding()
        stream.headers.pop("Content-Length", None)
    else:
        stream.content_length = len(body)
    await stream.prepare(request)
    if kind is FaultKind.SLOW_BODY:
        pieces = 8
        step = max(1, -(-len(body) // pieces))
        for offset in range(0, len(body), step):
            await stream.write(body[offset : offset + step])
            await asyncio.sleep(fault.seconds / pieces)
        await stream.write_eof()
        return stream
    await stream.write(body[:cut])
    _drop(request)
    return stream  # pragma: no cover - _drop always raises


def _edit_json(body: bytes, edit: Callable[[dict[str, object]], object]) -> bytes:
    try:
        doc = json.loads(body)
    except ValueError:
        return body
    if isinstance(doc, dict):
        edit(doc)
    return json.dumps(doc).encode()

"""Flows: what a flow may ask of its driver, and the fetch flow every request goes through.

Theory of operation
-------------------
A flow is a generator. It yields commands and is sent their answers::

    Send(request)      -> Head       (one budget token; the body stays on the wire, or is
                                      in ``Head.body`` when the driver read it whole)
    Read(limit)        -> bytes      (the body of the last Head, at most ``limit`` bytes)
    Stream(sink)       -> int        (the body of the last Head, written to ``sink``)
    Sleep(seconds)     -> None       (on the injected clock)
    Now()              -> float      (the injected clock's time)
    Block(until)       -> None       (a 429: the whole account pauses until then)
    Document(key, ...) -> Any        (a shared document, fetched once per session)
    Cached(key)        -> Any | None (a shared document if already known)

and returns its value. A failure of a command (a reset connection, a timeout) is thrown into
the flow at the ``yield``, so the flow decides what it means. Nothing here does I/O or reads
a clock: a flow can be run by the network driver, by the dry-run driver, or by a test feeding
recorded answers (``tests/samples/``).

:func:`fetch` is the flow of one request and its policy: the link check before every send,
same-origin redirects (at most 5), the mapping of an error status to the error tree, the 429
rule (record the block for the account; refuse a wait longer than ``max_wait``), and retries
of transient failures per the :class:`RetryPolicy`, honouring ``Retry-After``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Generator, Mapping
from typing import Any, NamedTuple, Protocol, TypeVar

import attrs

from ._errors import (
    BrightmetricsError,
    BudgetExhausted,
    RateLimited,
    TransportError,
    UnexpectedResponse,
    UnsafeLink,
)
from ._limits import Limits
from ._protocol import check_link, error_for_status, redirect_target
from ._request import Request
from ._retry import RetryPolicy
from ._retry_after import parse_retry_after

_tuple = tuple.__new__

__all__ = [
    "Block",
    "Cached",
    "Command",
    "Consume",
    "Document",
    "Flow",
    "Head",
    "Now",
    "Policy",
    "Read",
    "Sink",
    "Sleep",
    "Send",
    "Stream",
    "fetch",
    "rate_limit",
    "read_error",
    "send_following_redirects",
]

T = TypeVar("T")
log = logging.getLogger("brightmetrics_async")

MAX_REDIRECTS = 5
#: The wait a 429 without a usable Retry-After imposes on the account.
DEFAULT_429_WAIT = 60.0


# Commands are named tuples: a flow makes several per request, and a tuple is the cheapest
# frozen value Python builds.


class Send(NamedTuple):
    """Spend a budget token and send ``request``; answered with a :class:`Head`."""

    request: Request


class Read(NamedTuple):
    """Read the last answer's body, at most ``limit`` decoded bytes: cut there if
    ``truncate``, else refused past it (:class:`UnexpectedResponse` naming ``name``)."""

    limit: int | None = None
    truncate: bool = False
    name: str = "the limit"


class Sink(Protocol):
    """Where a streamed body goes: restarted before each try (``AtomicFile`` is one)."""

    @property
    def bytes_written(self) -> int:
        """Bytes written since the last restart."""
        ...

    def restart(self) -> None:
        """Drop what was written (a retried request starts again)."""
        ...

    def write(self, data: bytes, /) -> None:
        """Append ``data``."""
        ...


class Stream(NamedTuple):
    """Write the last answer's body to ``sink`` (restarted first); answered with its size.

    Past ``limit`` decoded bytes (None: no limit) the body is refused with an
    :class:`UnexpectedResponse` naming ``name``."""

    sink: Sink
    progress: Callable[[int], None] | None = None
    limit: int | None = None
    name: str = "max_bytes"


class Sleep(NamedTuple):
    """Wait ``seconds`` on the injected clock."""

    seconds: float


class Now(NamedTuple):
    """Ask the injected clock's time."""


class Block(NamedTuple):
    """The service answered 429: record that the account is blocked until ``until``."""

    until: float


class Document(NamedTuple):
    """A shared document (service document, a filter schema, the root ``$metadata``), parsed:
    from the session's cache, or by running ``flow`` (which fetches ``request``) once."""

    key: str
    request: Request
    flow: Any
    #: When set, ``flow`` returns the document's bytes and this parses them (so a driver
    #: may keep the bytes in a knowledge store, #12).
    parse: Any = None


class Cached(NamedTuple):
    """The parsed document ``key`` if it is already known, else None (no request)."""

    key: str


class Head(NamedTuple):
    """Status line and headers of an answer (the body is read by a further command)."""

    status: int
    headers: Mapping[str, str]
    url: str
    received_at: float
    request: Request
    #: The body of a successful answer the driver already read whole within the limit the
    #: flow would read it under (a shared GET: a page or a document), else None: ``Read`` it.
    body: bytes | None = None

    @property
    def content_type(self) -> str | None:
        """The Content-Type header, verbatim."""
        return self.headers.get("Content-Type")

    @property
    def content_length(self) -> int | None:
        """The declared Content-Length, if any."""
        value = self.headers.get("Content-Length")
        return int(value) if value is not None and value.isdigit() else None


Command = Send | Read | Stream | Sleep | Now | Block | Document | Cached
Flow = Generator[Command, Any, T]
Consume = Callable[[Head], Flow[T]]


@attrs.frozen
class Policy:
    """What a session's flows need to decide: origin, retries, the longest 429 wait, and
    how much of each body may be held (:class:`Limits`, the one source of those sizes)."""

    base_url: str
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)
    max_wait: float | None = None
    limits: Limits = attrs.field(factory=Limits)


def send_following_redirects(
    policy: Policy, request: Request, answered: list[Head] | None = None
) -> Flow[Head]:
    """Send ``request``; follow same-origin redirects; return the first other answer.

    ``answered`` collects every answer received (a redirect hop included).
    """
    check_link(request.url, policy.base_url, what=request.what)
    head: Head = yield _tuple(Send, (request,))  # Send(request), without its __new__
    if answered is not None:
        answered.append(head)
    if _redirect(head):
        head = yield from follow_redirect(policy, head, answered)
    return head


def _redirect(head: Head) -> bool:
    """Whether ``head`` is a redirect to follow (a 3xx with a Location)."""
    return 300 <= head.status < 400 and "Location" in head.headers


def follow_redirect(policy: Policy, head: Head, answered: list[Head] | None = None) -> Flow[Head]:
    """The answer past the redirect ``head`` (a 3xx with a Location) and any that follow it,
    each hop checked like the first request (same origin, at most :data:`MAX_REDIRECTS`)."""
    request = head.request
    what = request.what
    for _hop in range(MAX_REDIRECTS):
        request = request.to(redirect_target(head.url, head.headers["Location"], what=what))
        check_link(request.url, policy.base_url, what=what)
        head = yield _tuple(Send, (request,))
        if answered is not None:
            answered.append(head)
        if not _redirect(head):
            return head
    raise UnsafeLink(f"{what}: more than {MAX_REDIRECTS} redirects")


def fetch(
    policy: Policy,
    request: Request,
    consume: Consume[T],
    *,
    ok: Collection[int] = (200,),
) -> Flow[T]:
    """Send ``request`` until an accepted answer, and return ``consume(head)``'s value.

    ``consume`` is a flow reading the body; a transient failure while it reads retries the
    whole request. Raises :class:`UnsafeLink`, :class:`BudgetExhausted`, :class:`ApiError`
    subclasses, :class:`TransportError` or what ``consume`` raises.
    """
    retry = policy.retry
    attempt, waited = 1, 0.0
    while True:
        try:
            # send_following_redirects, its first hop inline: one generator less per request
            check_link(request.url, policy.base_url, what=request.what)
            head: Head = yield _tuple(Send, (request,))
            if _redirect(head):
                head = yield from follow_redirect(policy, head)
            if head.status in ok:
                return (yield from consume(head))
            yield from raise_for_status(policy, head)
        except BrightmetricsError as error:
            retry_after = getattr(error, "retry_after", None)
            if isinstance(error, RateLimited):
                # The block recorded in the budget store paces the retry.
                retry_after = 0.0
            if not retry.should_retry(error, idempotent=request.idempotent):
                raise
            if attempt >= retry.attempts:
                raise
            if retry_after is not None and retry_after > retry.max_retry_after:
                raise
            delay = retry.delay(attempt, retry_after=retry_after)
            if waited + delay > retry.total:
                raise
            log.debug("%s: %s; retry %d in %.1fs", request.what, error.message, attempt, delay)
            yield Sleep(delay)
            attempt, waited = attempt + 1, waited + delay


def raise_for_status(policy: Policy, head: Head) -> Flow[None]:
    """Raise the error of ``head``'s status (its body read up to ``Limits.error``, the rest
    dropped); 429 blocks."""
    try:
        body = yield from read_error(policy.limits)
    except TransportError:
        body = b""
    what = head.request.what
    retry_after = parse_retry_after(head.headers.get("Retry-After"), now=head.received_at)
    error = error_for_status(head.status, head.headers, body, retry_after=retry_after, what=what)
    if error is None:
        raise UnexpectedResponse(f"{what}: unexpected HTTP {head.status}")
    if head.status == 429:
        yield from rate_limit(policy, head, error, retry_after)
    raise error


def read_error(limits: Limits) -> Flow[bytes]:
    """The part of an error body that explains it: up to ``Limits.error``, the rest dropped."""
    body: bytes = yield Read(limits.error, truncate=True, name="Limits.error")
    return body


def rate_limit(
    policy: Policy, head: Head, error: BrightmetricsError, retry_after: float | None
) -> Flow[None]:
    """The 429 rule: the server is the truth, others on the account spend the same quota.

    Records the block for the whole account; a wait longer than ``max_wait`` raises
    :class:`BudgetExhausted` (after recording).
    """
    wait = DEFAULT_429_WAIT if retry_after is None else retry_after
    yield Block(head.received_at + (retry_after or DEFAULT_429_WAIT))
    limit = policy.max_wait
    if limit is not None and wait > limit:
        raise BudgetExhausted(
            f"the service refused the request (HTTP 429) for {wait:.0f}s, "
            f"longer than max_wait={limit:.0f}s",
            next_free_at=head.received_at + wait,
        ) from error

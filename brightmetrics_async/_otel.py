"""OpenTelemetry, the way instrumented libraries do it: optional, off the wire, no secrets.

Theory of operation
-------------------
The driver reports to an **observer** (:class:`Telemetry`) at the one place it sends a
request (``request(purpose, url)``, a context manager: kind - from the request's purpose -,
report, status, error type, the budget left after it). The session's operations (a ``rows``
pull, a ``download`` / ``export``, a job wait, a bulk pull) open an :class:`Operation` the
requests they send are children of; a job wait adds one event per poll and, when done, records
the job's duration and polls. :data:`NO_TELEMETRY` is the observer that does nothing;
``_otel_setup.telemetry_for`` gives it when the ``opentelemetry`` API is not installed, in
which case nothing of OpenTelemetry is imported at all (the package's import never touches it).

With the API installed, the global tracer and meter providers are used unless the session was
given others. The spans follow the HTTP client semantic conventions (``http.request.method``,
``server.address``, ``server.port``, ``url.full`` - never with user information -,
``http.response.status_code``, ``error.type``), plus ``brightmetrics.request.kind`` (one of
:data:`KINDS`), ``brightmetrics.report`` and ``brightmetrics.budget.remaining``. No trace
context travels to the vendor, a third party, unless ``propagate=True``.

Metrics: ``brightmetrics.requests`` (counter; kind and outcome), ``brightmetrics.budget.remaining``
(observable gauge per account), ``brightmetrics.job.duration`` (histogram, s),
``brightmetrics.job.polls`` (histogram), ``brightmetrics.budget.wait`` (histogram, s; one
record per request that had to wait for a token).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from ._budget import Budget

__all__ = [
    "KINDS",
    "NO_TELEMETRY",
    "NULL_CALL",
    "Operation",
    "RequestCall",
    "Telemetry",
    "kind_of",
]

#: The values of ``brightmetrics.request.kind``.
KINDS = ("service_document", "metadata", "page", "download", "submit", "poll")
_SCOPE = "brightmetrics_async"
_current: contextvars.ContextVar[Operation | None] = contextvars.ContextVar(
    "brightmetrics_operation", default=None
)


def kind_of(purpose: str) -> str:
    """The request kind of a request's purpose (``_request.Purpose``: "report page", ...)."""
    if purpose == "service document":
        return "service_document"
    if purpose.endswith("metadata"):
        return "metadata"
    if purpose == "report page":
        return "page"
    if purpose == "submit":
        return "submit"
    if purpose in ("status poll", "export result"):
        return "poll"
    return "download"  # "download", "export"


def report_of(url: str, base_url: str) -> str | None:
    """The report segment of a data or metadata URL under ``base_url`` (None for others)."""
    if not url.startswith(base_url + "/"):
        return None
    segment = url[len(base_url) + 1 :].split("?", 1)[0].split("/", 1)[0]
    return segment if segment and not segment.startswith("$") and segment != "status" else None


def safe_url(url: str) -> str:
    """``url`` without user information (``url.full`` must never carry a credential)."""
    if "@" not in url:
        return url  # the common case, without parsing
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


class Operation:
    """An operation (rows, download, export, job wait, pull): the parent of its requests.

    Use ``with op.within():`` around the awaits that send its requests; ``end()`` finishes it
    (idempotent). The null operation does nothing.
    """

    __slots__ = ("_ended", "_telemetry", "_token", "report", "span")

    def __init__(self, telemetry: Telemetry, span: Any, report: str | None) -> None:
        self._telemetry = telemetry
        self.span = span
        self.report = report
        self._ended = False
        self._token: contextvars.Token[Operation | None] | None = None

    def __enter__(self) -> Operation:
        """:meth:`Telemetry.operating`'s block: current within it, ended at its end (the
        operation is its own context manager: every waiting job holds one, #11)."""
        self._token = _current.set(self)
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if self._token is not None:
            _current.reset(self._token)
            self._token = None
        self.end(exc)

    @contextlib.contextmanager
    def within(self) -> Iterator[Operation]:
        """Make this the current operation for the block (its requests become children)."""
        token = _current.set(self)
        try:
            yield self
        finally:
            _current.reset(token)

    def event(self, name: str, attributes: Mapping[str, str | int | float] | None = None) -> None:
        """Add an event (e.g. one per poll) to the operation's span."""
        if self.span is not None and not self._ended:
            self.span.add_event(name, attributes=dict(attributes or {}))

    def end(self, error: BaseException | None = None) -> None:
        """Finish the span, with ``error.type`` when ``error`` is given."""
        if self._ended or self.span is None:
            self._ended = True
            return
        self._ended = True
        if error is not None:
            self.span.set_attribute("error.type", type(error).__qualname__)
            self._telemetry._set_error(self.span, error)
        self.span.end()


class RequestCall:
    """One request being sent: the transport tells it the status and the budget left."""

    def __init__(self, telemetry: Telemetry, span: Any, kind: str) -> None:
        self._telemetry = telemetry
        self.span = span
        self.kind = kind
        self.status: int | None = None

    def inject(self, headers: MutableMapping[str, str]) -> None:
        """Add trace-context headers, only when the session asked for propagation."""
        if self.span is not None and self._telemetry.propagate:
            self._telemetry._inject(self.span, headers)

    def waited(self, seconds: float) -> None:
        """The request waited ``seconds`` for a budget token (recorded when > 0)."""
        if self.span is not None and seconds > 0:
            self._telemetry._budget_wait.record(seconds, {"brightmetrics.request.kind": self.kind})

    async def read_budget(self, budget: Budget, account: str) -> None:
        """Note what is left of ``account``'s budget (a store read, only when enabled)."""
        # Only for a recording span: with no SDK configured this costs no store read.
        if self.span is None or not self.span.is_recording():
            return
        try:
            remaining = (await budget.snapshot(account)).remaining
        except Exception:
            return
        self.span.set_attribute("brightmetrics.budget.remaining", remaining)
        self._telemetry._remaining[account] = remaining

    def got(self, status: int) -> None:
        """The response's status."""
        if self.span is not None:  # the shared null call keeps nothing
            self.status = status
            self.span.set_attribute("http.response.status_code", status)


class _NullCall(RequestCall):
    def __enter__(self) -> RequestCall:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None


class Telemetry:
    """The observer the sending layer and the operations report to (see the module docstring).

    Build it with ``_otel_setup.telemetry_for``; this base class is the do-nothing observer.
    """

    enabled = False
    propagate = False

    base_url = ""

    def request(
        self, purpose: str, url: str, *, method: str = "GET"
    ) -> contextlib.AbstractContextManager[RequestCall]:
        """Observe one request (one span; one count by kind and outcome)."""
        return _NULL_CALL  # the null observer's path costs next to nothing per request

    def operation(self, name: str, *, report: str | None = None) -> Operation:
        """Start an operation span (end it with :meth:`Operation.end`)."""
        return Operation(self, None, report)

    def operating(
        self, name: str, *, report: str | None = None
    ) -> contextlib.AbstractContextManager[Operation]:
        """An operation for the length of a block, current within it, ended with its error."""
        return self.operation(name, report=report)

    def poll(self, polls: int, state: str) -> None:
        """A job poll was answered: one event on the current operation."""
        op = _current.get()
        if op is not None:
            op.event("brightmetrics.poll", {"brightmetrics.job.polls": polls, "state": state})

    def job_finished(self, *, seconds: float, polls: int, report: str, format: str) -> None:  # noqa: A002
        """A job's result arrived: its duration and polls."""

    def _set_error(self, span: Any, error: BaseException) -> None:
        pass

    def _inject(self, span: Any, headers: MutableMapping[str, str]) -> None:
        pass

    # Only reached through an enabled RequestCall.
    _budget_wait: Any = None
    _remaining: dict[str, int] = {}  # noqa: RUF012 - never written on the null observer


#: The observer that does nothing (OpenTelemetry absent or not wanted).
NO_TELEMETRY = Telemetry()
_NULL_CALL = _NullCall(NO_TELEMETRY, None, "")
#: What :meth:`Telemetry.request` returns when nobody observes: the sender may skip it.
NULL_CALL: contextlib.AbstractContextManager[RequestCall] = _NULL_CALL

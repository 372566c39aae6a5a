"""Running flows without the network: the synchronous driver, and the dry run of a pull.

:class:`SyncDriver` runs any flow with no I/O: each request it would send is recorded in
``sent`` and answered by a ``respond`` function; time is virtual (``Sleep`` moves it). Tests
feed it recorded responses (``tests/samples/``); the dry run feeds it what is known.

:class:`DryRun` is how a pull's cost is known before it starts: it runs the very flows a
pull runs (``_ops``, ``_job_flow``, the pager) against a :class:`Known` - cached documents,
learned page counts per report, learned job durations - and counts what they send. Where
nothing is known it guesses, and says so (``guessed``).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, TypeVar

import attrs
from multidict import CIMultiDict

from ._errors import JobExpired
from ._fetch import Block, Cached, Document, Flow, Head, Now, Read, Send, Sleep, Stream
from ._formats import Format
from ._job_flow import submit, wait
from ._knowledge._shape import filter_text, job_history_key
from ._limits import too_large
from ._models import Report
from ._ops import SERVICE_DOCUMENT, SERVICE_METADATA, UNKNOWN_SCHEMA, Ops
from ._pager import Pager, pages_flow
from ._polling import Accepted, JobPoller
from ._protocol import guid_of
from ._request import Query, Request

__all__ = ["Answer", "DryRun", "Known", "SyncDriver"]

T = TypeVar("T")


@attrs.frozen
class Answer:
    """A recorded (or made-up) response: status, headers, body."""

    status: int
    headers: Mapping[str, str] = attrs.field(factory=dict)
    body: bytes = b""


class SyncDriver:
    """Runs flows synchronously; ``respond(request, now)`` answers each request sent."""

    def __init__(
        self,
        respond: Callable[[Request, float], Answer],
        *,
        now: float = 0.0,
        documents: Callable[[Document], Any] | None = None,
        cached: Callable[[str], Any] | None = None,
    ) -> None:
        self._respond = respond
        self._documents = documents
        self._cached = cached
        self.docs: dict[str, Any] = {}
        self.now = now
        self.sent: list[Request] = []
        self.blocked_until: float | None = None

    def run(self, flow: Flow[T]) -> T:
        """Run ``flow`` to its end; its value (or what it raises)."""
        reply: Any = None
        error: Exception | None = None
        answer: Answer | None = None
        while True:
            try:
                command = flow.send(reply) if error is None else flow.throw(error)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            reply = error = None
            try:
                if isinstance(command, Send):
                    self.sent.append(command.request)
                    answer = self._respond(command.request, self.now)
                    headers = CIMultiDict(answer.headers)
                    reply = Head(
                        answer.status, headers, command.request.url, self.now, command.request
                    )
                elif isinstance(command, Read):
                    assert answer is not None
                    what = _what(self.sent)
                    reply = _limited(answer.body, command, what)
                elif isinstance(command, Stream):
                    assert answer is not None
                    command.sink.restart()
                    if command.limit is not None and len(answer.body) > command.limit:
                        what = _what(self.sent)
                        raise too_large(what, command.name, command.limit)
                    command.sink.write(answer.body)
                    if command.progress is not None:
                        command.progress(command.sink.bytes_written)
                    reply = command.sink.bytes_written
                elif isinstance(command, Sleep):
                    self.now += max(0.0, command.seconds)
                elif isinstance(command, Now):
                    reply = self.now
                elif isinstance(command, Block):
                    self.blocked_until = max(self.blocked_until or 0.0, command.until)
                elif isinstance(command, Cached):
                    reply = self.docs.get(command.key)
                    if reply is None and self._cached is not None:
                        reply = self._cached(command.key)
                elif isinstance(command, Document):
                    reply = self._document(command)
            except Exception as exc:
                error = exc

    def _document(self, command: Document) -> Any:
        if command.key in self.docs:
            command.flow.close()
            return self.docs[command.key]
        known = self._cached(command.key) if self._cached is not None else None
        if known is not None:
            command.flow.close()
        elif self._documents is not None:
            # Not known: the request is counted, the document stood in for.
            self.sent.append(command.request)
            command.flow.close()
            known = self._documents(command)
        else:
            known = self.run(command.flow)
            if command.parse is not None:
                known = command.parse(known)
        self.docs[command.key] = known
        return known


def _limited(body: bytes, read: Read, what: str) -> bytes:
    limit = read.limit
    if limit is None or len(body) <= limit:
        return body
    if read.truncate:
        return body[:limit]
    raise too_large(what, read.name, limit)


def _what(sent: list[Request]) -> str:
    """What the last request sent was for (named in a refused body's error)."""
    return sent[-1].what if sent else "response"


class Known(Protocol):
    """What a dry run may know. None everywhere means "not known": the dry run guesses."""

    def document(self, key: str) -> Any | None:
        """A cached document (service document, a filter schema, the root ``$metadata``)."""

    def pages(self, report: Report, query: Query) -> int | None:
        """How many pages ``query`` of ``report`` has, if learned."""

    def job_seconds(self, report: Report, query: Query) -> float | None:
        """How long a job of ``query`` (its format and filter shape) of ``report`` runs, if
        learned: looked up by the key the learner writes (``job_history_key``)."""

    def retry_after(self) -> float:
        """The ``Retry-After`` the service answers a submission or a pending poll with."""


class _AnyColumns(dict[str, Mapping[str, str]]):
    """Stands in for an unknown root ``$metadata``: every report has (unknown) columns."""

    def __missing__(self, key: str) -> Mapping[str, str]:
        return {}


@attrs.define
class _Item:
    """What the dry run of one item spent."""

    query: Query | None = None
    guessed: list[str] = attrs.field(factory=list)
    polls: int = 0
    job_seconds: float | None = None


class DryRun:
    """Runs the flows of a pull against what is known, sending nothing.

    ``ops``: a session's flows (its builder, policy and filter checking); ``known``: see
    :class:`Known`; ``default_pages`` / ``default_job_seconds``: the guesses when a page
    count or a job duration is not known.
    """

    def __init__(
        self,
        ops: Ops,
        known: Known,
        *,
        poll_policy: Any,
        history: Any = None,
        default_pages: int,
        default_job_seconds: float,
        now: float = 0.0,
    ) -> None:
        self._ops = ops
        self._known = known
        self._poll_policy = poll_policy
        self._history = history
        self._default_pages = default_pages
        self._default_job = default_job_seconds
        self._jobs: dict[str, tuple[float, float]] = {}  # status URL -> (start, duration)
        self._links: dict[str, tuple[int, int]] = {}  # page URL -> (page index, page count)
        self._reports: dict[str, Report] = {}
        self._item = _Item()
        self.refs: list[str] = []
        #: The job duration the last item's dry run assumed (None: no job).
        self.job_seconds: float | None = None
        self.driver = SyncDriver(
            self._respond, now=now, documents=self._stand_in, cached=known.document
        )

    @property
    def sent(self) -> list[Request]:
        """Every request the flows sent, in order."""
        return self.driver.sent

    # -- items --------------------------------------------------------------------------

    def item(
        self, query: Query, *, use_async: bool = False, typed: bool = False
    ) -> tuple[int, list[str], int]:
        """Dry-run one item: ``(requests, what was guessed, polls)``."""
        self._item = item = _Item(query)
        before = len(self.driver.sent)
        # A job longer than its status URL's life expires: the polls sent are counted.
        with contextlib.suppress(JobExpired):
            self.driver.run(self._item_flow(query, use_async=use_async, typed=typed))
        self.job_seconds = item.job_seconds
        return len(self.driver.sent) - before, item.guessed, item.polls

    def _item_flow(self, query: Query, *, use_async: bool, typed: bool) -> Flow[None]:
        ops = self._ops
        rep = yield from ops.report(query.report)
        self._reports[rep.url] = rep
        if use_async:
            request = yield from ops.data_request(query, "submit")
            accepted = yield from submit(ops.policy, request, query.format, _Null())
            assert isinstance(accepted, Accepted)
            poller = JobPoller(
                accepted.status_url,
                submitted_at=accepted.accepted_at,
                policy=self._poll_policy,
                history=self._history,
                history_key=job_history_key(rep.url, query.format.value, filter_text(query.filter)),
                retry_after=accepted.retry_after,
            )
            item = self._item
            polls_before = len(self.driver.sent)
            try:
                yield from wait(ops.policy, ops.requests, poller, query.format, _drop)
            finally:
                item.polls = len(self.driver.sent) - polls_before
            if typed:  # the rows are typed with the root $metadata once they are in
                yield from ops.columns(query.report)
        elif query.format is Format.JSON:
            if typed:
                request = yield from ops.data_request(query, "report page")
                yield from ops.columns(query.report)
                yield from pages_flow(ops, Pager(request.url), None)
            else:
                yield from pages_flow(ops, Pager(None), query)
        else:
            yield from ops.download(query)

    # -- what the service would answer ------------------------------------------------------

    def _stand_in(self, command: Document) -> Any:
        return stand_in(command.key, self.refs)

    def _respond(self, request: Request, now: float) -> Answer:
        purpose = request.purpose
        if purpose == "report page":
            return self._page(request)
        if purpose == "submit":
            return self._submitted(request, now)
        if purpose in ("status poll", "export result"):
            start, duration = self._jobs[request.url]
            if now - start < duration:
                return Answer(202, {"Retry-After": f"{self._known.retry_after():g}"})
            return _body_of(request)
        return _body_of(request)

    def _page(self, request: Request) -> Answer:
        url = request.url
        index, count = self._links.pop(url, (0, 0))
        if index == 0:
            rep = self._reports.get(_report_url(url, self._ops.requests.base_url))
            query = self._item.query
            known = None
            if rep is not None and query is not None:
                known = self._known.pages(rep, query)
            if known is None:
                self._item.guessed.append(f"{self._default_pages} pages")
                count = self._default_pages
            else:
                count = max(1, known)
        page: dict[str, Any] = {"value": []}
        if index + 1 < count:
            link = f"{url.split('?', 1)[0]}?$skiptoken=dry-{index + 1}"
            self._links[link] = (index + 1, count)
            page["@odata.nextLink"] = link
        return Answer(200, {"Content-Type": "application/json"}, json.dumps(page).encode())

    def _submitted(self, request: Request, now: float) -> Answer:
        rep = self._reports.get(_report_url(request.url, self._ops.requests.base_url))
        query = self._item.query
        known = rep is not None and query is not None
        seconds = self._known.job_seconds(rep, query) if known else None  # type: ignore[arg-type]
        if seconds is None:
            seconds = self._default_job
            self._item.guessed.append(f"a job of {seconds:g} s")
        status_url = f"{self._ops.requests.base_url}/$dry-run/jobs/{len(self._jobs) + 1}"
        self._jobs[status_url] = (now, seconds)
        self._item.job_seconds = seconds
        headers = {"Location": status_url, "Retry-After": f"{self._known.retry_after():g}"}
        return Answer(202, headers)


def stand_in(key: str, refs: Iterable[str]) -> Any:
    """What stands in for document ``key`` when it is not known: a service document naming
    every report in ``refs``, root ``$metadata`` describing any report, an unchecked schema."""
    if key == SERVICE_DOCUMENT:
        reports: dict[str, Report] = {}
        for ref in refs:
            guid = guid_of(ref)
            url = guid or f"dry-run-{len(reports) + 1}"
            reports.setdefault(ref, Report(name=ref, title=ref, kind="EntitySet", url=url))
        return list(reports.values())
    if key == SERVICE_METADATA:
        return _AnyColumns()
    return UNKNOWN_SCHEMA  # a filter schema: the filter's types are not checked


def _report_url(url: str, base_url: str) -> str:
    return url[len(base_url) + 1 :].split("?", 1)[0].split("/", 1)[0]


def _format_of(request: Request) -> Format:
    for name, value in request.headers:
        if name == "Accept":
            return next((f for f in Format if f.media_type == value), Format.JSON)
    for part in request.url.split("?", 1)[-1].split("&"):
        if part.startswith("$format="):
            return Format(part.split("=", 1)[1])
    return Format.JSON


def _body_of(request: Request) -> Answer:
    fmt = _format_of(request)
    body = b'{"value": []}' if fmt is Format.JSON else b""
    return Answer(200, {"Content-Type": fmt.media_type}, body)


class _Null:
    """A sink that keeps nothing (a dry run reads no result)."""

    bytes_written = 0

    def restart(self) -> None:
        self.bytes_written = 0

    def write(self, data: bytes) -> None:
        self.bytes_written += len(data)


def _drop(head: Head) -> Flow[None]:
    yield from ()

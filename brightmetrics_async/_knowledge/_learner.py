"""``Learner``: the session's side of the knowledge store, behind a few one-line hooks.

The session calls it where it fetches a document (:meth:`Learner.document`), before it submits
a job (:meth:`Learner.job_key`), where a JSON pull ends (:meth:`Learner.pages_done`) and when a
data request is refused (:meth:`Learner.contradicted`). It keeps which documents this session
took from the store, so that a server answer contradicting one of them (a 404 for a report the
cached service document lists, a 400 for a filter the cached schema accepts) drops it, and the
caller fetches it again - once.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from .._errors import ApiError, BrightmetricsError, NotFound
from .._metadata import parse_filter_metadata, parse_root_metadata
from .._models import Report
from .._poll_policy import JobHistory, PollPolicy
from .._protocol import guid_of, parse_service_document, resolve_report
from .._pull_items import PullItem
from ._facade import Knowledge
from ._plan import ItemKnowledge, Learned
from ._shape import filter_text, job_history_key, range_key

__all__ = ["ROOT", "SERVICE", "LearnedHistory", "Learner", "filters_key", "store_key"]

_T = TypeVar("_T")

SERVICE = "doc:service"
ROOT = "doc:root"


def filters_key(report_url: str) -> str:
    """The document key of a report's filter ``$metadata``."""
    return f"doc:filters:{report_url.lower()}"


# The session's document keys (``_ops``) and the store's.
_SERVICE_DOCUMENT, _SERVICE_METADATA, _FILTERS = (
    "service document",
    "service metadata",
    "filter metadata ",
)


def store_key(key: str) -> str:
    """The store key of the session's document ``key`` (see ``_ops``)."""
    if key == _SERVICE_DOCUMENT:
        return SERVICE
    if key == _SERVICE_METADATA:
        return ROOT
    if key.startswith(_FILTERS):
        return filters_key(key[len(_FILTERS) :])
    return f"doc:{key}"


class LearnedHistory(JobHistory):
    """A :class:`JobHistory` that remembers what it records until :meth:`Learner.flush`."""

    def __init__(self) -> None:
        super().__init__()
        self.unsaved: list[tuple[str, float]] = []
        self.loaded: set[str] = set()

    def record(self, key: str, duration: float) -> None:
        super().record(key, duration)
        if 0 <= duration < math.inf:  # what JobHistory keeps
            self.unsaved.append((key, duration))


class Learner:
    """What one session knows and learns (see the module docstring)."""

    def __init__(self, knowledge: Knowledge, history: LearnedHistory) -> None:
        self.knowledge = knowledge
        self.history = history
        self.from_store: set[str] = set()

    async def peek(self, key: str, parse: Callable[[bytes], _T]) -> _T | None:
        """The document ``key`` from the store when fresh and sound, else None (no request)."""
        body = await self.knowledge.document(key)
        if body is None:
            return None
        try:
            return parse(body)
        except BrightmetricsError:
            return None

    async def document(
        self, key: str, fetch: Callable[[], Awaitable[bytes]], parse: Callable[[bytes], _T]
    ) -> _T:
        """The document ``key``: from the store when fresh and sound, else fetched and saved.

        Raises what ``fetch`` and ``parse`` raise for a fetched document; a stored one that
        does not parse is dropped and fetched instead.
        """
        body = await self.knowledge.document(key)
        if body is not None:
            try:
                value = parse(body)
            except BrightmetricsError:
                await self.knowledge.drop(key)
            else:
                self.from_store.add(key)
                return value
        body = await fetch()
        value = parse(body)
        self.from_store.discard(key)
        await self.knowledge.save(key, body)
        return value

    async def load(
        self, key: str, fetch: Callable[[], Awaitable[bytes]], parse: Callable[[bytes], _T]
    ) -> _T:
        """:meth:`document` by the session's document key (``_ops``)."""
        return await self.document(store_key(key), fetch, parse)

    async def contradicted(
        self, error: BaseException, report_url: str, *, by_name: bool, filtered: bool
    ) -> str:
        """Drop the stored document ``error`` proves wrong; return its key ('' for none).

        A 404 on a report found by name in the stored service document drops that document
        (a GUID the caller gave proves nothing about it); a 400 on a
        filter checked against a stored schema drops the schema. A document fetched in this
        session is never dropped (the server may simply refuse), so each is fetched again
        at most once.
        """
        if not isinstance(error, ApiError):
            return ""
        if error.status == 404 and by_name and SERVICE in self.from_store:
            key = SERVICE
        elif error.status == 400 and filtered and filters_key(report_url) in self.from_store:
            key = filters_key(report_url)
        else:
            return ""
        self.from_store.discard(key)
        await self.knowledge.drop(key)
        return key

    async def job_key(self, report_url: str, fmt: str, filter_text: str | None) -> str:
        """The history key of a job (report, format, filter shape), its durations loaded."""
        await self.flush()
        key = job_history_key(report_url, fmt, filter_text)
        if key not in self.history.loaded:
            self.history.loaded.add(key)
            self.history.seed(key, await self.knowledge.numbers("job", key))
        return key

    async def durations(self, report_url: str, fmt: str, filter_text: str | None) -> list[float]:
        """The learned durations of such a job (no request)."""
        return list(self.history.durations(await self.job_key(report_url, fmt, filter_text)))

    async def pages_done(self, report_url: str, filter_text: str | None, pages: int) -> None:
        """Record the page count of a JSON pull read from its first page to its last."""
        await self.knowledge.learn(
            "pages", report_url.lower(), range_key(filter_text), value=float(pages)
        )

    async def known_pages(self, report_url: str, filter_text: str | None) -> int | None:
        """The page count of the last such pull, or None."""
        found = await self.knowledge.numbers("pages", report_url.lower(), range_key(filter_text))
        return max(1, int(found[-1])) if found else None

    async def flush(self) -> None:
        """Save the durations recorded since the last flush."""
        pending, self.history.unsaved = self.history.unsaved, []
        for key, seconds in pending:
            await self.knowledge.learn("job", key, value=seconds)

    async def snapshot(
        self,
        items: Sequence[PullItem | Report | str],
        *,
        held: Callable[[str], Any],
        policy: PollPolicy | None = None,
        retry_after: float = 5.0,
    ) -> Learned:
        """What is known of ``items`` (see :class:`Learned`), without a request; ``held``:
        the session's own documents by key (``Documents.get``)."""
        docs: dict[str, Any] = {}

        async def doc(key: str, parse: Callable[[bytes], Any]) -> Any:
            value = held(key)
            if value is None:
                value = await self.peek(store_key(key), parse)
            if value is not None:
                docs[key] = value
            return value

        reports = await doc(_SERVICE_DOCUMENT, parse_service_document)
        root_known = await doc(_SERVICE_METADATA, parse_root_metadata) is not None
        known: list[ItemKnowledge] = []
        pages: dict[tuple[str, str], int] = {}
        history: dict[str, tuple[float, ...]] = {}
        for raw in items:
            item = raw if isinstance(raw, PullItem) else PullItem(raw)
            url = _report_url(item.report, reports)
            if url is None:
                known.append(ItemKnowledge())
                continue
            text = filter_text(item.filter)
            cached = await doc(_FILTERS + url, parse_filter_metadata) is not None
            count = await self.known_pages(url, text)
            if count is not None:
                pages.setdefault((url.lower(), range_key(text)), count)
            learned = tuple(await self.durations(url, item.format.value, text))
            if learned:
                history[job_history_key(url, item.format.value, text)] = learned
            known.append(
                ItemKnowledge(report_url=url, pages=count, durations=learned, filters_cached=cached)
            )
        return Learned(
            service_cached=reports is not None,
            root_cached=root_known,
            items=tuple(known),
            docs=docs,
            page_counts=pages,
            history=history,
            policy=policy,
            retry_after_seconds=retry_after,
        )


def _report_url(ref: Report | str, reports: list[Report] | None) -> str | None:
    if isinstance(ref, Report):
        return ref.url or None
    guid = guid_of(ref)
    if guid is not None or reports is None:
        return guid
    try:
        return resolve_report(ref, reports).url
    except NotFound:
        return None

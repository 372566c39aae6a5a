"""Bulk pulls: many reports at once, with structured concurrency.

Theory of operation
-------------------
``Session.pull_many(items, concurrency=N)`` returns a :class:`Pull`, an async context manager.
Entering it starts an anyio task group with one task per item, gated by a
``CapacityLimiter(N)``; each task runs one :class:`PullItem` (JSON rows, a download, an export
to a file, or an asynchronous job) and sends a :class:`PullResult` into a memory stream, which the
caller iterates as results complete. A failing item becomes that item's ``PullResult.error``
(errors of the library's tree and file-system errors); its siblings go on. Leaving the block
early cancels what is still running: temporary files are removed, no task outlives the block.

Progress is observable through ``on_event``: a :class:`PullEvent` when an item starts, after each
page or chunk, after each job poll, and when it ends. Every request still spends the account's
budget through the session, so a pull never overspends however wide it runs.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import anyio
import attrs
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ._errors import BrightmetricsError, ConfigurationError
from ._formats import Format, parse_format
from ._models import Report

if TYPE_CHECKING:
    import datetime as dt

    from ._filter_expr import FilterExpr
    from ._jobs import Job
    from ._session import Session

__all__ = ["Pull", "PullEvent", "PullItem", "PullResult"]

EventKind = Literal["started", "page", "bytes", "submitted", "polled", "done", "failed"]


@attrs.frozen
class PullItem:
    """One report to pull.

    With ``path`` the result goes to that file atomically (``Path``); without, JSON gives the
    rows (``list``) and other formats the bytes. ``use_async=True`` runs it as an asynchronous
    export job (``Prefer: respond-async``).
    """

    report: Report | str
    format: Format = attrs.field(default=Format.JSON, converter=parse_format)
    filter: str | FilterExpr | None = None
    timezone: str | dt.tzinfo | None = None
    path: Path | None = attrs.field(default=None, converter=attrs.converters.optional(Path))
    use_async: bool = False
    label: str | None = None

    @property
    def name(self) -> str:
        """A short name for progress displays."""
        if self.label:
            return self.label
        if isinstance(self.report, Report):
            return self.report.title or self.report.url
        return self.report


@attrs.frozen
class PullEvent:
    """Progress of one item: ``kind`` says what happened; counters are totals so far."""

    kind: EventKind
    index: int
    item: PullItem
    pages: int = 0
    rows: int = 0
    bytes: int = 0
    polls: int = 0
    next_poll_at: float | None = None
    token: str | None = None
    error: BaseException | None = None


@attrs.frozen
class PullResult:
    """The outcome of one item: ``value`` (rows, bytes or a path) or ``error``."""

    index: int
    item: PullItem
    value: list[dict[str, Any]] | bytes | Path | None = None
    error: BrightmetricsError | OSError | None = None
    rows: int = 0
    bytes: int = 0
    pages: int = 0
    polls: int = 0
    elapsed: float = 0.0
    token: str | None = None

    @property
    def ok(self) -> bool:
        """True when the item succeeded."""
        return self.error is None


class Pull:
    """``async with session.pull_many(items) as pull: async for result in pull: ...``"""

    def __init__(
        self,
        session: Session,
        items: Sequence[PullItem],
        *,
        concurrency: int,
        on_event: Callable[[PullEvent], None] | None,
    ) -> None:
        if concurrency < 1:
            raise ConfigurationError("concurrency must be at least 1")
        self._session = session
        self._items = list(items)
        self._limiter = anyio.CapacityLimiter(concurrency)
        self._on_event = on_event
        self._tg: TaskGroup | None = None
        self._send: MemoryObjectSendStream[PullResult] | None = None
        self._receive: MemoryObjectReceiveStream[PullResult] | None = None
        self.jobs: dict[int, Job] = {}

    async def __aenter__(self) -> Pull:
        self._send, self._receive = anyio.create_memory_object_stream[PullResult](
            max_buffer_size=max(1, len(self._items))
        )
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        for index, item in enumerate(self._items):
            self._tg.start_soon(self._run, index, item, self._send.clone())
        await self._send.aclose()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._tg is not None
        assert self._receive is not None
        # Leaving the block stops what is still running (nothing is left once every result
        # was read); temporary files of cancelled exports are removed by their AtomicFile.
        self._tg.cancel_scope.cancel()
        try:
            return await self._tg.__aexit__(exc_type, exc, tb)
        finally:
            self._receive.close()

    def __aiter__(self) -> AsyncIterator[PullResult]:
        assert self._receive is not None, "iterate inside 'async with'"
        return self._receive.__aiter__()

    async def collect(self) -> list[PullResult]:
        """Every result, in the order of the items."""
        results = [r async for r in self]
        return sorted(results, key=lambda r: r.index)

    def _emit(self, event: PullEvent) -> None:
        if self._on_event is not None:
            self._on_event(event)

    async def _run(
        self, index: int, item: PullItem, send: MemoryObjectSendStream[PullResult]
    ) -> None:
        async with send, self._limiter:
            started = time.perf_counter()
            self._emit(PullEvent("started", index, item))
            counters = {"pages": 0, "rows": 0, "bytes": 0, "polls": 0}
            try:
                value = await self._pull(index, item, counters)
            except (BrightmetricsError, OSError) as error:
                token = getattr(error, "token", None)
                self._emit(PullEvent("failed", index, item, error=error, token=token, **counters))
                elapsed = time.perf_counter() - started
                result = PullResult(
                    index, item, error=error, token=token, elapsed=elapsed, **counters
                )
            else:
                self._emit(PullEvent("done", index, item, **counters))
                elapsed = time.perf_counter() - started
                result = PullResult(index, item, value=value, elapsed=elapsed, **counters)
            await send.send(result)

    async def _pull(
        self, index: int, item: PullItem, counters: dict[str, int]
    ) -> list[dict[str, Any]] | bytes | Path:
        s = self._session
        kw: dict[str, Any] = {"filter": item.filter, "timezone": item.timezone}

        def progress(nbytes: int) -> None:
            counters["bytes"] = nbytes
            self._emit(PullEvent("bytes", index, item, **counters))

        if item.use_async:
            job = await s.submit(item.report, format=item.format, **kw)
            self.jobs[index] = job

            def polled(j: Job) -> None:
                counters["polls"] = j.polls
                self._emit(
                    PullEvent("polled", index, item, next_poll_at=j.next_poll_at, **counters)
                )

            job.on_change(polled)
            self._emit(PullEvent("submitted", index, item, next_poll_at=job.next_poll_at))
            if item.path is not None:
                path = await job.export(item.path)
                counters["bytes"] = path.stat().st_size
                return path
            value = await job.result()
            if isinstance(value, list):
                counters["rows"] = len(value)
            else:
                counters["bytes"] = len(value)
            return value  # type: ignore[no-any-return]
        if item.path is not None:
            return await s.export(
                item.report, item.path, format=item.format, progress=progress, **kw
            )
        if item.format is Format.JSON:
            rows: list[dict[str, Any]] = []
            async with s.pages(item.report, **kw) as pages:
                async for page in pages:
                    rows.extend(page.rows)
                    counters["pages"] += 1
                    counters["rows"] = len(rows)
                    self._emit(PullEvent("page", index, item, **counters))
            return rows
        body = await s.download(item.report, format=item.format, **kw)
        counters["bytes"] = len(body)
        return body

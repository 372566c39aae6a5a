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

An item left to choose (``use_async=None``) takes the way ``Session.choose_way`` predicts to
cost fewer requests (#12). With a :class:`~._journal.Journal` the pull survives a crash. Items
are keyed by :func:`item_key`, as given; the way an item took is journaled when it starts, and a
later run continues that way (resumes its job, or pages on from its checkpoint) instead of
choosing again. An item written to a file and journaled ``done`` is skipped (its file is there).
An async job's resume token is journaled right after submission; a later run resumes the job
while the token is within its hour instead of submitting again (an expired or gone job is
submitted afresh). A JSON pull to a file writes each page to its temporary file, fsyncs it, then
journals the page checkpoint (next link, byte offset); a later run cuts the file back to that
offset and continues from the next link, re-reading no page. The target file still appears only
when complete. A journaled JSON pull that fails keeps its temporary file (the journal points to
it) so the next run continues; ``Journal.clear()`` removes such files.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ._atomic import AtomicFile
from ._errors import ApiError, BrightmetricsError, ConfigurationError, InvalidToken, JobError
from ._formats import Format
from ._journal import Journal, JournalEntry
from ._json_array import ArrayWriter, write_array
from ._pull_items import Counts, EventKind, PullEvent, PullItem, PullResult
from ._pull_way import begin

if TYPE_CHECKING:
    import os

    from ._clock import Clock
    from ._jobs import Job
    from ._otel import Telemetry
    from ._pager import PageIterator
    from ._request import Query

__all__ = ["Pull"]

log = logging.getLogger("brightmetrics_async")
# A checkpoint the server no longer honours (an expired $skiptoken) is answered like this.
_STALE_CHECKPOINT = (400, 404, 410)


class Source(Protocol):
    """What a pull needs of a session (``Session`` is one)."""

    clock: Clock

    @property
    def telemetry(self) -> Telemetry: ...

    def pages(self, report: Query, *, start: str | None = None) -> PageIterator: ...

    async def download(self, report: Query) -> bytes: ...

    async def export(
        self,
        report: Query,
        path: str | os.PathLike[str],
        *,
        progress: Callable[[int], None] | None = None,
    ) -> Path: ...

    async def submit(self, report: Query) -> Job: ...

    async def resume(self, token: str) -> Job: ...

    async def choose_way(self, item: PullItem) -> PullItem: ...


class Pull:
    """``async with session.pull_many(items) as pull: async for result in pull: ...``"""

    def __init__(
        self,
        session: Source,
        items: Sequence[PullItem],
        *,
        concurrency: int,
        on_event: Callable[[PullEvent], None] | None,
        journal: Journal | None = None,
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
        self._journal = journal
        self._skipped: set[int] = set()
        self._ways: dict[int, bool] = {}  # the way each item took (#12)
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
            clock = self._session.clock
            started = clock.time()
            self._emit(PullEvent("started", index, item))
            counters: Counts = {"pages": 0, "rows": 0, "bytes": 0, "polls": 0}
            try:
                # The "pull" operation span of this item (issue #17).
                name = getattr(item.report, "url", item.report)
                with self._session.telemetry.operating("pull", report=str(name)):
                    value = await self._pull(index, item, counters)
            except (BrightmetricsError, OSError) as error:
                token = getattr(error, "token", None)
                self._emit(PullEvent("failed", index, item, error=error, token=token, **counters))
                elapsed = clock.time() - started
                result = PullResult(
                    index,
                    item,
                    error=error,
                    token=token,
                    elapsed=elapsed,
                    use_async=self._ways.get(index),
                    **counters,
                )
            else:
                skipped = index in self._skipped
                self._emit(PullEvent("skipped" if skipped else "done", index, item, **counters))
                elapsed = clock.time() - started
                result = PullResult(
                    index,
                    item,
                    value=value,
                    elapsed=elapsed,
                    skipped=skipped,
                    use_async=self._ways.get(index),
                    **counters,
                )
            await send.send(result)

    async def _pull(
        self, index: int, item: PullItem, counters: Counts
    ) -> list[dict[str, Any]] | bytes | Path:
        s = self._session
        # #12: the way decided (as given, as journaled when it started, or the cheaper one).
        key, entry, item = await begin(self._session, self._journal, item)
        self._ways[index] = bool(item.use_async)
        query = item.query
        if key is not None and entry is not None and entry.state == "done":
            assert item.path is not None
            counters["bytes"] = item.path.stat().st_size
            self._skipped.add(index)
            return item.path

        def progress(nbytes: int) -> None:
            counters["bytes"] = nbytes
            self._emit(PullEvent("bytes", index, item, **counters))

        if item.use_async:
            value = await self._pull_job(index, item, counters, key, entry)
        elif item.path is not None and item.format is Format.JSON and key is not None:
            assert entry is not None
            value = await self._json_to_file(index, item, counters, key, entry)
        elif item.path is not None:
            value = await s.export(query, item.path, progress=progress)
        elif item.format is Format.JSON:
            rows: list[dict[str, Any]] = []
            async with s.pages(query) as pages:
                async for page in pages:
                    rows.extend(page.rows)
                    counters["pages"] += 1
                    counters["rows"] = len(rows)
                    self._emit(PullEvent("page", index, item, **counters))
            return rows
        else:
            body = await s.download(query)
            counters["bytes"] = len(body)
            return body
        if key is not None and self._journal is not None:
            if item.path is not None:
                await self._journal.mark_done(key)
            else:
                await self._journal.forget(key)
        return value

    async def _record(self, call: Awaitable[None]) -> None:
        try:
            await call
        except ConfigurationError as exc:  # a link the journal refuses to store
            log.debug("not journaled: %s", exc.message)

    async def _pull_job(
        self,
        index: int,
        item: PullItem,
        counters: Counts,
        key: str | None,
        entry: JournalEntry | None,
    ) -> list[dict[str, Any]] | bytes | Path:
        journal = self._journal
        resumed = False
        job: Job | None = None
        if journal is not None and key is not None and entry is not None and entry.token:
            try:
                job = await self._session.resume(entry.token)
                resumed = True
            except InvalidToken:  # past its hour (or unreadable): submit again
                await journal.reset(key)
        while True:
            if job is None:
                job = await self._submit(item, key)
            try:
                return await self._wait(index, item, counters, job, resumed=resumed)
            except JobError:
                if journal is not None and key is not None:
                    await journal.reset(key)
                if not resumed:
                    raise
                # The resumed job is gone or past its life on the server: submit it once more.
                job, resumed = None, False

    async def _submit(self, item: PullItem, key: str | None) -> Job:
        job = await self._session.submit(item.query)
        token = job.resume_token
        if self._journal is not None and key is not None and token is not None:
            await self._record(self._journal.record_token(key, token))
        return job

    async def _wait(
        self, index: int, item: PullItem, counters: Counts, job: Job, *, resumed: bool
    ) -> list[dict[str, Any]] | bytes | Path:
        self.jobs[index] = job

        def polled(j: Job) -> None:
            counters["polls"] = j.polls
            self._emit(PullEvent("polled", index, item, next_poll_at=j.next_poll_at, **counters))

        job.on_change(polled)
        kind: EventKind = "resumed" if resumed else "submitted"
        self._emit(
            PullEvent(kind, index, item, next_poll_at=job.next_poll_at, token=job.resume_token)
        )
        if item.path is not None and item.format is Format.JSON:
            rows = await job.result()  # written as one array of rows, as paging writes it
            counters["rows"] = len(rows)
            with AtomicFile(item.path) as out:
                write_array(out, rows)
                path = out.commit()
            counters["bytes"] = path.stat().st_size
            return path
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

    async def _json_to_file(
        self,
        index: int,
        item: PullItem,
        counters: Counts,
        key: str,
        entry: JournalEntry,
    ) -> Path:
        """A JSON pull written page by page, each page checkpointed once it is on disk."""
        assert self._journal is not None
        assert item.path is not None
        journal, s, query = self._journal, self._session, item.query
        resuming = entry.state == "paging" and bool(entry.next_link) and bool(entry.part)
        with AtomicFile(
            item.path,
            part=entry.part if resuming else None,
            offset=entry.offset,
            keep_on_error=resuming,
        ) as out:
            start, rows = (entry.next_link, entry.rows) if out.resumed else (None, 0)
            writer = ArrayWriter(out, rows=rows)
            if not out.resumed:
                writer.start()
            while True:
                try:
                    async with s.pages(query, start=start) as pages:
                        async for page in pages:
                            writer.write(page.rows)
                            rows = writer.rows
                            counters["pages"] += 1
                            counters["rows"] = rows
                            if pages.checkpoint is not None:
                                size = await anyio.to_thread.run_sync(out.flush)
                                await self._record(
                                    journal.record_checkpoint(
                                        key,
                                        next_link=pages.checkpoint,
                                        part=str(out.part),
                                        offset=size,
                                        pages=counters["pages"],
                                        rows=rows,
                                    )
                                )
                                out.keep_on_error = True  # the journal now points to it
                            self._emit(PullEvent("page", index, item, **counters))
                except ApiError as error:
                    stale = start is not None and counters["pages"] == 0
                    if not (stale and error.status in _STALE_CHECKPOINT):
                        raise
                    # The server no longer knows the checkpoint: start this item over.
                    log.debug(
                        "%s: checkpoint refused (HTTP %d); restarting", item.name, error.status
                    )
                    await journal.reset(key)
                    out.restart()
                    writer = ArrayWriter(out)
                    writer.start()
                    start, rows = None, 0
                    continue
                break
            writer.finish()
            return out.commit()

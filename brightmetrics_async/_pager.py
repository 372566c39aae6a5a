"""Following ``@odata.nextLink`` across pages.

Theory of operation
-------------------
A ``PageIterator`` holds the URL of the next page (``next_url``), starting with the report URL
(or a checkpoint: a next link saved earlier). Each ``__anext__`` fetches that URL, reads the page
whole (so no connection stays open between pages), and moves ``next_url`` to the page's next link,
verbatim. It ends when a page has no next link. Invariants:

* a next link is never re-encoded: the ``$skiptoken`` reaches the server byte for byte;
* a next link seen before is an error (:class:`UnexpectedResponse`), not an endless loop;
* a next link on another origin is refused (:class:`UnsafeLink`) before any request, by the
  transport's origin check that every request passes;
* ``checkpoint`` is always the URL of the first page not yet yielded: persist it to continue a
  failed pull later without re-reading earlier pages.

Iterators are single-use and closable (``aclose`` or ``async with``).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from ._errors import UnexpectedResponse
from ._models import Page

if TYPE_CHECKING:
    from ._fetch import Flow
    from ._ops import Ops
    from ._otel import Operation
    from ._request import Query

__all__ = ["PageIterator", "Pager", "RowIterator", "row_typer"]

T = TypeVar("T")


class Pager:
    """Where a paging is (pure): the next URL, the links seen, the pages read."""

    __slots__ = ("_seen", "next_url", "pages_read")

    def __init__(self, first_url: str | None) -> None:
        self.next_url = first_url
        self.pages_read = 0
        self._seen: set[int] = set()

    def take(self) -> str | None:
        """The URL to fetch next (None: done); a repeated next link raises."""
        url = self.next_url
        if url is None:
            return None
        # The string's hash, not the string: a long paging keeps 8 bytes a link. Two links
        # of one paging with the same 64-bit (per-process seeded) hash are not to be met.
        digest = hash(url)
        if digest in self._seen:
            raise UnexpectedResponse(
                f"the server repeated a next link after {self.pages_read} pages; stopped"
            )
        self._seen.add(digest)
        return url

    def on_page(self, page: Page) -> None:
        """A page was read: move to its next link."""
        self.pages_read += 1
        self.next_url = page.next_link


def pages_flow(ops: Ops, pager: Pager, query: Query | None) -> Flow[int]:
    """Every page of a paging, read and dropped (the dry run's way of paging)."""
    if pager.next_url is None and query is not None:
        pager.next_url = (yield from ops.data_request(query, "report page")).url
    while (url := pager.take()) is not None:
        pager.on_page((yield from ops.page(url)))
    return pager.pages_read


class PageIterator:
    """An async iterator of :class:`Page` objects; also an async context manager."""

    def __init__(
        self,
        start: str | None,
        *,
        run: Callable[[Flow[Any]], Awaitable[Any]],
        ops: Ops,
        query: Query | None = None,
        typed: bool = False,
        page: Callable[[str], Awaitable[Page]] | None = None,
        later: Callable[[str], Awaitable[Page]] | None = None,
        operation: Callable[[], Operation] | None = None,
        on_end: Callable[[int], Awaitable[None]] | None = None,
    ) -> None:
        self._pager = Pager(start)
        self._on_end = on_end if start is None else None
        self._closed = False
        self._run = run
        self._ops = ops
        self._query = query
        self._typed = typed
        self._typer: Callable[[dict[str, Any]], dict[str, Any]] | None = None
        self._started = False
        # #17: ``page`` fetches the first page and ``later`` the others (the result cache's;
        # None: fetched directly, the cheapest path of a long paging); ``operation`` opens
        # the "rows" operation span on the first page, ended with the last (or the error).
        self._page = page
        self._later = later
        self._operation = operation
        self._op: Operation | None = None
        # Once the first page is read, with no span, no row typing and no result cache for
        # later pages, __anext__ answers with the driver's own coroutine of a flow that
        # moves the pager on itself (``_reader``): no frame of this class per page.
        self._fast = False
        self._reader = ops.page_reader(self._pager.on_page)

    @property
    def pages_read(self) -> int:
        """Pages read so far."""
        return self._pager.pages_read

    @property
    def checkpoint(self) -> str | None:
        """The URL of the next page to fetch, or None when the iteration is complete."""
        return self._pager.next_url

    def __aiter__(self) -> PageIterator:
        return self

    def __anext__(self) -> Awaitable[Page]:
        if self._fast:
            url = self._pager.take()
            if url is None:
                return self._ended()
            return self._run(self._ops.page(url, self._reader))
        # The coroutine of the page itself when no operation span is open: one frame less
        # per page.
        if self._operation is None:
            return self._next()
        return self._observed_next()

    async def _ended(self) -> Page:
        await self._learn_end()
        raise StopAsyncIteration

    async def _learn_end(self) -> None:
        """#12: the whole paging's page count, once it read its last page (not when it was
        closed early)."""
        on_end = self._on_end
        pager = self._pager
        if on_end is not None and not self._closed and pager.next_url is None and pager.pages_read:
            self._on_end = None
            await on_end(pager.pages_read)

    async def _observed_next(self) -> Page:
        assert self._operation is not None
        op = self._op = self._op or self._operation()
        if op.span is None:  # nobody observes: no span to parent the requests to
            self._operation = None
            return await self._next()
        try:
            with op.within():
                page = await self._next()
            if self._pager.next_url is None:
                op.end()  # the last page: the operation ends with it
            return page
        except StopAsyncIteration:
            op.end()
            raise
        except BaseException as exc:
            op.end(exc)
            raise

    async def _start(self) -> None:
        self._started = True
        pager, query = self._pager, self._query
        if pager.next_url is None and query is not None and not self._closed:
            request = await self._run(self._ops.data_request(query, "report page"))
            pager.next_url = request.url
        if self._typed and query is not None:
            self._typer = row_typer(await self._run(self._ops.columns(query.report)))

    async def _next(self) -> Page:
        if not self._started:
            await self._start()
        pager = self._pager
        url = pager.take()
        if url is None:
            raise StopAsyncIteration
        read = self._later if pager.pages_read else self._page
        if read is not None:
            page: Page = await read(url)
            pager.on_page(page)
        else:
            page = await self._run(self._ops.page(url, self._reader))
        if page.next_link is None:
            await self._learn_end()
        self._fast = self._later is None and self._typer is None and self._operation is None
        if self._typer is not None:
            typer = self._typer
            page = Page(
                rows=[typer(r) for r in page.rows], next_link=page.next_link, context=page.context
            )
        return page

    async def aclose(self) -> None:
        """Stop: no further request is sent. Pages are read whole, so nothing stays open."""
        await self._learn_end()  # the last page was read, its end not yet asked for
        self._pager.next_url = None
        self._closed = True
        if self._op is not None:
            self._op.end()

    async def __aenter__(self) -> PageIterator:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class RowIterator:
    """Every row of every page, in order; closable like :class:`PageIterator`."""

    def __init__(self, pages: PageIterator) -> None:
        self.pages = pages
        self._gen: AsyncGenerator[dict[str, Any], None] | None = None

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        # ``async for`` drives the generator itself: per row that costs half of an
        # ``async def __anext__`` call, a tenth of the client's CPU in a bulk pull
        # (benchmarks/bulk.py). ``__anext__`` shares the same generator, hence the position.
        return self._rows()

    def __anext__(self) -> Awaitable[dict[str, Any]]:
        return self._rows().__anext__()

    def _rows(self) -> AsyncGenerator[dict[str, Any], None]:
        if self._gen is None:
            self._gen = self._iterate()
        return self._gen

    async def _iterate(self) -> AsyncGenerator[dict[str, Any], None]:
        try:
            async for page in self.pages:
                for row in page.rows:
                    yield row
        except BaseException:
            # A finished generator would end silently: let a later call ask the pages again.
            self._gen = None
            raise

    async def aclose(self) -> None:
        """Stop the underlying page iterator."""
        gen, self._gen = self._gen, None
        if gen is not None:
            await gen.aclose()
        await self.pages.aclose()

    async def __aenter__(self) -> RowIterator:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _to_datetime(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def _to_float(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _to_int(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "Edm.DateTimeOffset": _to_datetime,
    "Edm.Double": _to_float,
    "Edm.Single": _to_float,
    "Edm.Decimal": _to_float,
    "Edm.Int16": _to_int,
    "Edm.Int32": _to_int,
    "Edm.Int64": _to_int,
}


def row_typer(columns: Mapping[str, str]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A function converting a row's DateTimeOffset and numeric columns per ``columns``.

    Values that do not parse are left as they came (the raw row is the vendor's truth).
    """
    plan = [(name, _CONVERTERS[t]) for name, t in columns.items() if t in _CONVERTERS]

    def convert(row: dict[str, Any]) -> dict[str, Any]:
        out = dict(row)
        for name, fn in plan:
            if name in out and out[name] is not None:
                out[name] = fn(out[name])
        return out

    return convert

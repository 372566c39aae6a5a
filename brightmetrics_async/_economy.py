"""A session's request economy around its flows (#12): what saves requests across calls.

* ``max_age``: a response received at most that long ago (by any session sharing the
  :class:`~._results.ResultCache`: the process, or every replica with #17's
  :class:`~._shared_cache.RedisResultCache`) is served again without a request, through the
  one read-through path (``_shared_cache.read_through``: one flight per key, the lease of a
  shared cache released on failure);
* a 404 for a report found by name in a stored service document, or a 400 on a filter a
  stored schema accepted, drops that document; it is fetched again and the request, rebuilt,
  is sent once more only if it changed (:meth:`Economy.recheck`);
* the page count of a whole JSON pull is learned (:meth:`Economy.pages_done`).

The session calls it from a few hooks marked ``#12``; the flows and the driver are unchanged.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, TypeVar

from ._bodies import read_typed
from ._errors import ApiError
from ._fetch import Flow, fetch
from ._knowledge._learner import SERVICE
from ._knowledge._shape import filter_text
from ._models import Page, Report
from ._ops import SERVICE_DOCUMENT, filter_key
from ._protocol import guid_of, parse_page
from ._results import result_key
from ._shared_cache import read_through

if TYPE_CHECKING:
    from ._clock import Clock
    from ._driver import Driver
    from ._knowledge._learner import Learner
    from ._ops import Ops
    from ._request import Purpose, Query, Request
    from ._results import ResultCache

__all__ = ["Economy", "ref_name"]

T = TypeVar("T")


def ref_name(query: Query) -> str:
    """What names a report in telemetry (#17): its GUID when known, else what the caller gave."""
    report = query.report
    return report.url if isinstance(report, Report) else report


class Economy:
    """The #12 side of one session (see the module docstring)."""

    def __init__(
        self,
        driver: Driver,
        ops: Ops,
        learner: Learner,
        results: ResultCache,
        *,
        scope: str,
        clock: Clock,
    ) -> None:
        self._driver = driver
        self._ops = ops
        self._learner = learner
        self.results = results
        self._scope = scope
        self._clock = clock

    async def page(self, url: str, max_age: float | None) -> Page:
        """One page: from the result cache when ``max_age`` allows, else fetched."""
        if max_age is None:
            page: Page = await self._driver.run(self._ops.page(url))
            return page
        request = self._ops.requests.page(url)
        return parse_page(await self.result(request, max_age, lambda: self._ops.page_body(url)))

    def first_page(
        self, q: Query, max_age: float | None, *, recheck: bool
    ) -> Callable[[str], Awaitable[Page]]:
        """A page reader whose first page may be sent again once, after a recheck."""
        first: list[str] = []

        async def read(url: str) -> Page:
            if not first:
                first.append(url)
                try:
                    return await self.page(url, max_age)
                except ApiError as error:
                    if not recheck or not await self.recheck(q, error, url):
                        raise
                    request = await self._driver.run(self._ops.data_request(q, "report page"))
                    url = request.url
            return await self.page(url, max_age)

        return read

    async def pages_done(self, q: Query, pages: int) -> None:
        """Learn the page count of a whole JSON pull of ``q``."""
        rep = await self._driver.run(self._ops.report(q.report))
        await self._learner.pages_done(rep.url, filter_text(q.filter), pages)

    async def result(
        self,
        request: Request,
        max_age: float,
        flow: Callable[[], Flow[bytes]],
        span: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext,
    ) -> bytes:
        """The body of a GET from the result cache when young enough, else ``flow()``'s run
        within ``span()`` (and kept there)."""
        key = result_key(self._scope, request.url, dict(request.headers))

        async def fetch_body() -> bytes:
            with span():
                body: bytes = await self._driver.run(flow())
            return body

        return await read_through(
            self.results, key, max_age=max_age, clock=self._clock, fetch=fetch_body
        )

    async def body(self, q: Query, max_age: float | None, operation: str | None = None) -> bytes:
        """A non-JSON body in memory (cached with ``max_age``; rechecked once); what is sent
        runs in the telemetry ``operation`` span when named (#17)."""
        limits, policy = self._ops.policy.limits, self._ops.policy

        def span() -> AbstractContextManager[object]:
            if operation is None:
                return contextlib.nullcontext()
            return self._driver.telemetry.operating(operation, report=ref_name(q))

        if max_age is not None:
            request = await self._driver.run(self._ops.data_request(q))
            consume = read_typed(q.format, limits)
            return await self.result(
                request, max_age, lambda: fetch(policy, request, consume), span
            )
        fmt = q.format
        with span():
            return await self.send(
                q, "download", lambda r: fetch(policy, r, read_typed(fmt, limits))
            )

    async def recheck(self, q: Query, error: ApiError, url: str) -> bool:
        """After a 404/400, drop the stored document it contradicts and fetch it again;
        True when the rebuilt request differs (send it once more), False otherwise (a filter
        the fresh schema refuses raises :class:`FilterError` here)."""
        rep = await self._driver.run(self._ops.report(q.report))
        by_name = isinstance(q.report, str) and guid_of(q.report) is None
        key = await self._learner.contradicted(
            error, rep.url, by_name=by_name, filtered=bool(filter_text(q.filter))
        )
        if not key:
            return False
        self._driver.documents.drop(SERVICE_DOCUMENT if key == SERVICE else filter_key(rep.url))
        request = await self._driver.run(self._ops.data_request(q))
        return request.url != url

    async def send(self, q: Query, purpose: Purpose, send: Callable[[Request], Flow[T]]) -> T:
        """Run the flow ``send(request of q)`` (see :meth:`resend`)."""

        async def run(request: Request) -> T:
            value: T = await self._driver.run(send(request))
            return value

        return await self.resend(q, purpose, run)

    async def resend(
        self,
        q: Query,
        purpose: Purpose,
        call: Callable[[Request], Awaitable[T]],
        request: Request | None = None,
    ) -> T:
        """``call(request of q)`` (``request``: already built), once more with the request
        rebuilt when the answer proves a stored document wrong (:meth:`recheck`)."""
        if request is None:
            request = await self._driver.run(self._ops.data_request(q, purpose))
        try:
            return await call(request)
        except ApiError as error:
            if not await self.recheck(q, error, request.url):
                raise
        request = await self._driver.run(self._ops.data_request(q, purpose))
        return await call(request)

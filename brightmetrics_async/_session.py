"""``Session``: the public entry point. Signs in, lists reports, reads metadata, pages and exports.

The constructor does nothing but check its arguments: no connection, task or event-loop binding
happens until the first request (or ``async with``). Every request goes through ``HttpClient``,
which spends the account's budget first. The service document, filter schemas and the root
``$metadata`` are cached for the life of the session and, with a knowledge store (``cache=``,
the default), across sessions and processes for ``cache_max_age``: resolving a title or
checking a filter costs a request once a day. The store also keeps learned job durations and
page counts (``_knowledge``); each use is a one-line hook marked ``#12``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import anyio
import attrs

from ._atomic import AtomicFile
from ._auth import Auth, auth_from_env
from ._bodies import check_type, read_body, read_page, stream_to
from ._budget import DEFAULT, Budget, Default, SQLiteBudget
from ._bulk import Pull
from ._clock import Clock, SystemClock
from ._errors import ApiError, ConfigurationError, NotFound, UnexpectedResponse
from ._filters import FilterExpr, prepare_filter
from ._formats import Format, parse_format
from ._http import HttpClient, Response, Timeouts
from ._jobs import Job
from ._journal import Journal
from ._knowledge import DEFAULT_MAX_AGE, Knowledge, KnowledgeStore, SQLiteKnowledge
from ._knowledge._learner import ROOT, SERVICE, LearnedHistory, Learner, filters_key
from ._knowledge._plan import Learned, cheaper_async
from ._metadata import parse_filter_metadata, parse_root_metadata
from ._models import BudgetSnapshot, FilterSchema, Page, Report
from ._pager import PageIterator, RowIterator, row_typer
from ._poll_policy import PollPolicy
from ._protocol import (
    default_account,
    guid_of,
    origin_of,
    parse_page,
    parse_service_document,
    require_same_origin,
    resolve_report,
)
from ._pull_items import PullEvent, PullItem
from ._results import ResultCache, result_key, shared_results
from ._retry import RetryPolicy
from ._submit import resume_job, submit_job
from ._timezones import windows_timezone
from ._urls import build_query

if TYPE_CHECKING:
    import datetime as dt

    import aiohttp

__all__ = ["DEFAULT_BASE_URL", "ReportRef", "Session"]

DEFAULT_BASE_URL = "https://webapp.brightmetrics.com/OData.ashx"
#: How long a request of a session on the default budget waits for a token.
DEFAULT_MAX_WAIT = 300.0
ReportRef = Report | str
FilterArg = str | FilterExpr | None
T = TypeVar("T")


class Session:
    """A signed-in connection to one Brightmetrics OData service.

    ``auth`` defaults to the environment (``BRIGHTMETRICS_API_KEY``, or ``BRIGHTMETRICS_USER``
    with ``BRIGHTMETRICS_PASSWORD`` / ``BRIGHTMETRICS_PASSWORD_HASH``); ``base_url`` to
    ``BRIGHTMETRICS_URL`` or the vendor's service root. ``budget`` defaults to a
    :class:`SQLiteBudget` in the user's state directory, shared by every session and process of
    the account on this machine; ``account`` names the company account (default: derived from the
    service host and the credential's identity - set it to share one budget across users).
    ``max_wait`` bounds how long a request waits for a budget token before
    :class:`BudgetExhausted` (default: the budget's own ``max_wait``; the default budget's is
    :data:`DEFAULT_MAX_WAIT`, 300 s). ``session`` may be a caller-owned
    ``aiohttp.ClientSession`` (not closed by this object; note that aiohttp may silently
    resend a request once on a dropped pooled connection, a request the budget cannot see -
    sessions created here switch that off). ``format_via="query"`` sends ``$format`` instead
    of ``Accept``. ``cache`` is the knowledge store (default: a :class:`SQLiteKnowledge`
    file beside the default budget's, shared by every session and process of the account;
    ``None``: remember nothing across sessions); its documents are used for
    ``cache_max_age`` seconds (24 h), and :meth:`refresh_cache` fetches them again.
    ``results`` keeps responses for calls that pass ``max_age=`` (default: one memory cache
    shared by the sessions of this process).

    Raises :class:`ConfigurationError` when no credentials are found or the URL is unusable.
    """

    def __init__(
        self,
        auth: Auth | None = None,
        *,
        base_url: str | None = None,
        account: str | None = None,
        budget: Budget | None = None,
        max_wait: float | Default | None = DEFAULT,
        clock: Clock | None = None,
        session: aiohttp.ClientSession | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        poll_policy: PollPolicy | None = None,
        format_via: Literal["header", "query"] = "header",
        check_filters: bool = True,
        cache: KnowledgeStore | Default | None = DEFAULT,
        cache_max_age: float = DEFAULT_MAX_AGE,
        results: ResultCache | None = None,
    ) -> None:
        auth = auth if auth is not None else auth_from_env()
        if auth is None:
            raise ConfigurationError(
                "no credentials: pass auth=, or set BRIGHTMETRICS_API_KEY or BRIGHTMETRICS_USER "
                "with BRIGHTMETRICS_PASSWORD / BRIGHTMETRICS_PASSWORD_HASH"
            )
        base = (base_url or os.environ.get("BRIGHTMETRICS_URL") or DEFAULT_BASE_URL).rstrip("/")
        _, host, port = origin_of(base)
        if format_via not in ("header", "query"):
            raise ConfigurationError("format_via must be 'header' or 'query'")
        self.base_url = base
        self.account = account or default_account(host, port, auth.identity)
        self.clock: Clock = clock or SystemClock()
        # The default store is a file shared by every session and process of this machine.
        self._owns_budget = budget is None
        self.budget = (
            budget if budget is not None else SQLiteBudget(clock=clock, max_wait=DEFAULT_MAX_WAIT)
        )
        self._format_via = format_via
        self._check_filters = check_filters
        self._http = HttpClient(
            base_url=base,
            auth=auth,
            budget=self.budget,
            account=self.account,
            clock=self.clock,
            timeouts=timeouts or Timeouts(),
            retry=retry or RetryPolicy(),
            max_wait=max_wait,
            session=session,
        )
        self.poll_policy = poll_policy or PollPolicy()
        if cache is not None and not isinstance(cache, (KnowledgeStore, Default)):
            raise TypeError("cache must be a KnowledgeStore, None or left out")
        self._owns_cache = isinstance(cache, Default)
        store = SQLiteKnowledge() if isinstance(cache, Default) else cache
        self.knowledge = Knowledge(
            store, scope=f"{self.account}|{base}", clock=self.clock, max_age=cache_max_age
        )
        self.job_history = LearnedHistory()
        self._learner = Learner(self.knowledge, self.job_history)  # #12
        self.results: ResultCache = results if results is not None else shared_results()
        self._reports: list[Report] | None = None
        self._schemas: dict[str, FilterSchema] = {}
        self._columns: dict[str, dict[str, str]] | None = None
        self._lock = anyio.Lock()  # the service document
        self._meta_lock = anyio.Lock()  # filter schemas and the root $metadata

    def __repr__(self) -> str:
        return f"Session(base_url={self.base_url!r}, account={self.account!r})"

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections this session opened (not a caller-owned aiohttp session)."""
        try:
            await self._learner.flush()  # #12: durations learned in this session
            await self._http.aclose()
        finally:
            if self._owns_cache and self.knowledge.store is not None:
                await self.knowledge.store.aclose()
            if self._owns_budget:
                await self.budget.aclose()

    @property
    def requests_sent(self) -> int:
        """Requests this session has sent (each one spent a budget token)."""
        return self._http.requests_sent

    @property
    def http(self) -> HttpClient:
        """The transport (for the job and bulk layers of this package)."""
        return self._http

    def refresh_cache(self) -> None:
        """Fetch the service document and ``$metadata`` again on next use (no request now)."""
        self.knowledge.refresh()
        self._reports, self._columns = None, None
        self._schemas.clear()

    async def budget_status(self) -> BudgetSnapshot:
        """A frozen snapshot of this account's budget: remaining, next free time, spent."""
        return await self.budget.snapshot(self.account)

    # -- discovery ---------------------------------------------------------------------

    async def reports(self) -> list[Report]:
        """The saved reports of the service document (fetched once per session, or from the
        knowledge store while fresh)."""
        async with self._lock:
            if self._reports is None:
                self._reports = await self._learner.document(  # #12
                    SERVICE,
                    lambda: self._http.fetch(
                        self.base_url, read_body, what="service document", shared=True
                    ),
                    parse_service_document,
                )
        return list(self._reports)

    async def report(self, ref: ReportRef) -> Report:
        """Resolve a :class:`Report`, GUID, report URL, entity-set name or exact title.

        A GUID or URL costs no request; a title or name costs the service document, once.
        Raises :class:`NotFound` when nothing matches.
        """
        if isinstance(ref, Report):
            return ref
        if not isinstance(ref, str) or not ref.strip():
            raise ConfigurationError("a report is a Report, a GUID, a report URL or a title")
        if self._reports is not None:
            try:
                return resolve_report(ref, self._reports)
            except NotFound:
                if guid_of(ref) is None:
                    raise
        guid = guid_of(ref)
        if guid is not None:
            return Report(name="", title="", kind="EntitySet", url=guid)
        return resolve_report(ref, await self.reports())

    async def filters(self, report: ReportRef) -> FilterSchema:
        """The report's filter properties (OData name -> Edm type), fetched once per session."""
        rep = await self.report(report)
        async with self._meta_lock:  # concurrent pulls of one report fetch it once
            schema = self._schemas.get(rep.url)
            if schema is None:
                url = f"{self.base_url}/{rep.url}/$metadata"
                schema = self._schemas[rep.url] = await self._learner.document(  # #12
                    filters_key(rep.url),
                    lambda: self._http.fetch(url, read_body, what="filter metadata", shared=True),
                    parse_filter_metadata,
                )
        return schema

    async def columns(self, report: ReportRef) -> Mapping[str, str]:
        """The report's columns (name -> Edm type) from the root ``$metadata`` (cached)."""
        rep = await self.report(report)
        if not rep.name:
            rep = resolve_report(rep.url, await self.reports())
        async with self._meta_lock:
            if self._columns is None:
                url = f"{self.base_url}/$metadata"
                self._columns = await self._learner.document(  # #12
                    ROOT,
                    lambda: self._http.fetch(url, read_body, what="service metadata", shared=True),
                    parse_root_metadata,
                )
        try:
            return self._columns[rep.name]
        except KeyError:
            raise UnexpectedResponse(f"$metadata does not describe {rep.title!r}") from None

    # -- data --------------------------------------------------------------------------

    async def data_url(
        self,
        report: ReportRef,
        *,
        filter: FilterArg = None,  # noqa: A002 - the vendor's word
        timezone: str | dt.tzinfo | None = None,
        format: Format | str = Format.JSON,  # noqa: A002
        check: bool | None = None,
    ) -> tuple[str, dict[str, str], Format]:
        """The URL and headers of a data request, after every local check.

        Raises :class:`FilterError` / :class:`UnknownTimezone` / :class:`ConfigurationError`
        before any data request (the filter schema may be fetched, once, to check types).
        """
        fmt = parse_format(format)
        tz = windows_timezone(timezone) if timezone is not None else None
        rep = await self.report(report)
        # Two steps: syntax and the only-and rule first, free; then the type rules, which
        # need the report's filter schema (one request, once per session).
        text = prepare_filter(filter, None, check=self._check(check))
        if text is not None and self._check(check):
            text = prepare_filter(filter, await self.filters(rep), check=True)
        params: list[tuple[str, str]] = []
        if text:
            params.append(("$filter", text))
        if tz is not None:
            params.append(("timezone", tz))
        headers: dict[str, str] = {}
        if self._format_via == "query" and fmt is not Format.JSON:
            params.append(("$format", fmt.value))
        else:
            headers["Accept"] = fmt.media_type
        query = build_query(params)
        return f"{self.base_url}/{rep.url}" + (f"?{query}" if query else ""), headers, fmt

    def _check(self, check: bool | None) -> bool:
        return self._check_filters if check is None else check

    async def _result(
        self, url: str, headers: dict[str, str], max_age: float, fmt: Format
    ) -> bytes:
        """#12: the body of a GET from the result cache when young enough, else fetched (and
        kept there)."""
        key = result_key(self.knowledge.scope, url, headers)
        body = await self.results.get(key, max_age=max_age, now=self.clock.time())
        if body is None:

            async def consume(resp: Response) -> bytes:
                check_type(resp, fmt)
                return await resp.read()

            what = "report page" if fmt is Format.JSON else f"{fmt.value} download"
            body = await self._http.fetch(url, consume, what=what, headers=headers, shared=True)
            await self.results.put(key, body, now=self.clock.time())
        return body

    async def _send(
        self,
        report: ReportRef,
        send: Callable[[str, dict[str, str], Format], Awaitable[T]],
        **query: Any,
    ) -> T:
        """``send(*data_url(report, **query))``, once more when the answer proves a stored
        document wrong (#12: see :meth:`_recheck`)."""
        url, headers, fmt = await self.data_url(report, **query)
        try:
            return await send(url, headers, fmt)
        except ApiError as error:
            again = await self._recheck(report, error, url, **query)
            if again is None:
                raise
            return await send(*again)

    async def _recheck(
        self, report: ReportRef, error: ApiError, url: str, **query: Any
    ) -> tuple[str, dict[str, str], Format] | None:
        """After a 404/400, drop the stored document it contradicts, fetch it again and
        rebuild the request; None when nothing was dropped or the request would not change
        (a filter the fresh schema refuses raises :class:`FilterError` here)."""
        rep = await self.report(report)
        by_name = isinstance(report, str) and guid_of(report) is None
        key = await self._learner.contradicted(
            error, rep.url, by_name=by_name, filtered=bool(query.get("filter"))
        )
        if not key:
            return None
        if key == SERVICE:
            self._reports = None
        else:
            self._schemas.pop(rep.url, None)
        again = await self.data_url(report, **query)
        return again if again[0] != url else None

    def pages(
        self,
        report: ReportRef,
        *,
        filter: FilterArg = None,  # noqa: A002
        timezone: str | dt.tzinfo | None = None,
        typed: bool = False,
        start: str | None = None,
        check: bool | None = None,
        max_age: float | None = None,
    ) -> PageIterator:
        """Iterate the report's JSON pages, following ``@odata.nextLink`` verbatim.

        ``start`` continues from a checkpoint (a next link saved from ``PageIterator.checkpoint``)
        without re-reading earlier pages. ``typed=True`` converts DateTimeOffset and numeric
        columns using the root ``$metadata``. ``max_age``: a page received at most that many
        seconds ago (by any session of this process, see ``results``) is served again
        without a request.
        """
        _check_max_age(max_age)

        query: dict[str, Any] = {"filter": filter, "timezone": timezone, "check": check}
        first: list[str] = []

        async def prepare() -> str:
            url, _, _ = await self.data_url(report, **query)
            first.append(url)
            return url

        async def get(url: str) -> Page:
            headers = {"Accept": "application/json"}
            if max_age is not None:  # #12: the result cache
                return parse_page(await self._result(url, headers, max_age, Format.JSON))
            return await self._http.fetch(
                url, read_page, what="report page", headers=headers, shared=True
            )

        async def fetch(url: str) -> Page:
            try:
                return await get(url)
            except ApiError as error:
                if first != [url]:
                    raise
                first.clear()  # #12: the first page may be re-sent once, never more
                again = await self._recheck(report, error, url, **query)
                if again is None:
                    raise
                return await get(again[0])

        async def ended(pages: int) -> None:  # #12: learn the page count of a whole pull
            rep = await self.report(report)
            await self._learner.pages_done(rep.url, _filter_text(filter), pages)

        async def convert() -> Callable[[dict[str, Any]], dict[str, Any]] | None:
            return row_typer(await self.columns(report)) if typed else None

        if start is not None:
            require_same_origin(start, self.base_url, what="checkpoint")
        return PageIterator(
            start, fetch, prepare=prepare, convert=convert, on_end=ended if start is None else None
        )

    def rows(
        self,
        report: ReportRef,
        *,
        filter: FilterArg = None,  # noqa: A002
        timezone: str | dt.tzinfo | None = None,
        typed: bool = False,
        start: str | None = None,
        check: bool | None = None,
        max_age: float | None = None,
    ) -> RowIterator:
        """Every row of every page, in order (see :meth:`pages`)."""
        return RowIterator(
            self.pages(
                report,
                filter=filter,
                timezone=timezone,
                typed=typed,
                start=start,
                check=check,
                max_age=max_age,
            )
        )

    async def download(
        self,
        report: ReportRef,
        *,
        format: Format | str = Format.JSON,  # noqa: A002
        filter: FilterArg = None,  # noqa: A002
        timezone: str | dt.tzinfo | None = None,
        check: bool | None = None,
        max_age: float | None = None,
    ) -> bytes:
        """The report in one format, in memory. JSON gives one array of every page's rows.

        ``max_age``: served from a response received at most that long ago, if any.
        Raises :class:`UnexpectedResponse` when the body's type is not the one requested.
        """
        fmt = parse_format(format)
        _check_max_age(max_age)
        if fmt is Format.JSON:
            rows = [
                row
                async for row in self.rows(
                    report, filter=filter, timezone=timezone, check=check, max_age=max_age
                )
            ]
            return json.dumps(rows, ensure_ascii=False).encode()

        async def consume(resp: Response) -> bytes:
            check_type(resp, fmt)
            return await resp.read()

        async def send(url: str, headers: dict[str, str], _: Format) -> bytes:
            if max_age is not None:  # #12: the result cache
                return await self._result(url, headers, max_age, fmt)
            return await self._http.fetch(
                url, consume, what=f"{fmt.value} download", headers=headers
            )

        return await self._send(
            report, send, filter=filter, timezone=timezone, format=fmt, check=check
        )

    async def export(
        self,
        report: ReportRef,
        path: str | os.PathLike[str],
        *,
        format: Format | str = Format.CSV,  # noqa: A002
        filter: FilterArg = None,  # noqa: A002
        timezone: str | dt.tzinfo | None = None,
        check: bool | None = None,
        progress: Callable[[int], None] | None = None,
        max_age: float | None = None,
    ) -> Path:
        """Stream the report to ``path`` atomically: complete, or absent.

        The body goes in chunks to a temporary file beside ``path``, renamed only when it is
        complete and of the requested type; a truncated body, an HTML error page or a wrong
        type leaves no file and raises. ``progress(bytes_so_far)`` is called after each chunk.
        ``max_age``: served from a response received at most that long ago, if any (the body
        is then held in memory, to be kept). Returns the final path.
        """
        fmt = parse_format(format)
        _check_max_age(max_age)
        target = Path(path)
        if fmt is Format.JSON:
            with AtomicFile(target) as out:
                out.write(b"[")
                first = True
                async with self.rows(
                    report, filter=filter, timezone=timezone, check=check, max_age=max_age
                ) as rows:
                    async for row in rows:
                        out.write((b"" if first else b",\n") + json.dumps(row).encode())
                        first = False
                out.write(b"]\n")
                return out.commit()
        with AtomicFile(target) as out:

            async def send(url: str, headers: dict[str, str], _: Format) -> None:
                if max_age is not None:  # #12: the result cache
                    body = await self._result(url, headers, max_age, fmt)
                    out.write(body)
                    if progress is not None:
                        progress(len(body))
                    return
                await self._http.fetch(
                    url,
                    lambda resp: stream_to(resp, out, fmt, progress),
                    what=f"{fmt.value} export",
                    headers=headers,
                )

            await self._send(
                report, send, filter=filter, timezone=timezone, format=fmt, check=check
            )
            return out.commit()

    # -- asynchronous exports ------------------------------------------------------------

    async def submit(
        self,
        report: ReportRef,
        *,
        format: Format | str = Format.JSON,  # noqa: A002
        filter: FilterArg = None,  # noqa: A002
        timezone: str | dt.tzinfo | None = None,
        check: bool | None = None,
    ) -> Job:
        """Start an asynchronous export (``Prefer: respond-async``) and return its :class:`Job`.

        Local checks (format, filter, time zone) run first and spend no request.
        """
        fmt = parse_format(format)
        rep = await self.report(report)
        key = await self._learner.job_key(rep.url, fmt.value, _filter_text(filter))  # #12

        async def send(url: str, headers: dict[str, str], fmt: Format) -> Job:
            return await submit_job(
                self._http,
                url,
                headers,
                report=rep.url,
                format=fmt,
                policy=self.poll_policy,
                history=self.job_history,
                history_key=key,
            )

        return await self._send(
            report, send, filter=filter, timezone=timezone, format=fmt, check=check
        )

    def pull_many(
        self,
        items: Sequence[PullItem | ReportRef],
        *,
        concurrency: int = 8,
        on_event: Callable[[PullEvent], None] | None = None,
        journal: Journal | None = None,
    ) -> Pull:
        """Pull many reports at once; ``async with s.pull_many(items) as pull``, then iterate.

        Results come as they complete; a failed item is that item's ``PullResult.error`` and
        does not cancel its siblings. ``on_event`` receives :class:`PullEvent` progress.
        With a :class:`Journal` the pull resumes after a crash: items already written are
        skipped, submitted jobs are resumed instead of submitted again, and JSON pulls to a
        file continue from their last page checkpoint.
        """
        normal = [i if isinstance(i, PullItem) else PullItem(i) for i in items]
        return Pull(self, normal, concurrency=concurrency, on_event=on_event, journal=journal)

    async def learned(self, items: Sequence[PullItem | ReportRef]) -> Learned:
        """What the knowledge store and this session know of ``items``, for
        :func:`estimate_requests` (``learned=``); no request is sent."""
        return await self._learner.snapshot(
            items, reports=self._reports, schemas=self._schemas, root_known=bool(self._columns)
        )

    async def choose_way(self, item: PullItem) -> PullItem:
        """``item`` with ``use_async`` decided: as given, else the way predicted to cost
        fewer requests (paging while its page count is unknown); no request is sent."""
        if item.use_async is not None:
            return item
        known = (await self.learned([item])).item(0)
        return attrs.evolve(item, use_async=cheaper_async(item, known, self.poll_policy))

    async def resume(self, token: str) -> Job:
        """Rebuild a :class:`Job` from its token (e.g. in another process); no request is sent.

        Raises :class:`InvalidToken` for a malformed or expired token.
        """
        return resume_job(self._http, token, policy=self.poll_policy, history=self.job_history)


def _filter_text(filter: FilterArg) -> str | None:  # noqa: A002
    """The filter as text (unchecked), for the knowledge store's keys."""
    return None if filter is None else str(filter)


def _check_max_age(max_age: float | None) -> None:
    if max_age is not None and not 0 <= max_age < float("inf"):
        raise ConfigurationError("max_age must be None or finite seconds >= 0")

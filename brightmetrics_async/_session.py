"""``Session``: the public entry point. Signs in, lists reports, reads metadata, pages and exports.

The constructor does nothing but check its arguments: no connection, task or event-loop binding
happens until the first request (or ``async with``). Every request goes through ``HttpClient``,
which spends the account's budget first. The service document, filter schemas and the root
``$metadata`` are cached for the life of the session, so resolving a title or checking a filter
costs a request once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import anyio

from ._atomic import AtomicFile
from ._auth import Auth, auth_from_env
from ._bodies import check_type, read_body, read_page, stream_to
from ._budget import DEFAULT, Budget, Default, SQLiteBudget
from ._bulk import Pull
from ._clock import Clock, SystemClock
from ._errors import ConfigurationError, NotFound, UnexpectedResponse
from ._filters import FilterExpr, prepare_filter
from ._formats import Format, parse_format
from ._http import HttpClient, Response, Timeouts
from ._job_keys import (
    JobKeys,
    JobRecord,
    SQLiteJobKeys,
    check_job_key,
    request_fingerprint,
    submit_once,
)
from ._jobs import Job
from ._journal import Journal
from ._metadata import parse_filter_metadata, parse_root_metadata
from ._models import BudgetSnapshot, FilterSchema, Page, Report
from ._otel import Operation, telemetry_for
from ._pager import PageIterator, RowIterator, row_typer
from ._poll_policy import JobHistory, PollPolicy
from ._protocol import (
    default_account,
    guid_of,
    origin_of,
    parse_service_document,
    require_same_origin,
    resolve_report,
)
from ._pull_items import PullEvent, PullItem
from ._retry import RetryPolicy
from ._shared_cache import MemoryResultCache, ResultCache, cache_key, check_max_age
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
    of ``Accept``.

    OpenTelemetry (with the ``otel`` extra installed): spans and metrics go to the global
    providers unless ``tracer_provider`` / ``meter_provider`` are given; ``telemetry=False``
    turns them off. No trace context is sent to the service unless ``propagate_trace=True``.
    ``result_cache`` keeps the answers of ``max_age=`` calls (default: in this process;
    :class:`RedisResultCache` shares them between replicas); ``job_keys`` records keyed
    submissions (default: :class:`SQLiteJobKeys` beside the journal; :class:`RedisJobKeys`
    for several machines). Neither is closed by the session when passed in.

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
        tracer_provider: Any = None,
        meter_provider: Any = None,
        propagate_trace: bool = False,
        telemetry: bool = True,
        result_cache: ResultCache | None = None,
        job_keys: JobKeys | None = None,
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
        self._http.telemetry = telemetry_for(
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            propagate=propagate_trace,
            enabled=telemetry,
        )
        # Where max_age= answers are kept (issue #17): shared through Redis, or this process.
        self._results: ResultCache = result_cache or MemoryResultCache(clock=self.clock)
        # Where submit(key=...) records its jobs (issue #17); the default file opens on use.
        self._job_keys = job_keys
        self._owns_job_keys = job_keys is None
        # A claim outlives the longest the claimer's submission may wait for a token.
        limit = self.budget.max_wait if isinstance(max_wait, Default) else max_wait
        self._claim_timeout = 3600.0 if limit is None else float(limit) + 120.0
        self.poll_policy = poll_policy or PollPolicy()
        self.job_history = JobHistory()
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
            await self._http.aclose()
            if self._owns_job_keys and self._job_keys is not None:
                await self._job_keys.aclose()
        finally:
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

    async def budget_status(self) -> BudgetSnapshot:
        """A frozen snapshot of this account's budget: remaining, next free time, spent."""
        return await self.budget.snapshot(self.account)

    # -- discovery ---------------------------------------------------------------------

    async def reports(self) -> list[Report]:
        """The saved reports of the service document (fetched once per session)."""
        async with self._lock:
            if self._reports is None:
                body = await self._http.fetch(self.base_url, read_body, what="service document")
                self._reports = parse_service_document(body)
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
                body = await self._http.fetch(url, read_body, what="filter metadata")
                schema = self._schemas[rep.url] = parse_filter_metadata(body)
        return schema

    async def columns(self, report: ReportRef) -> Mapping[str, str]:
        """The report's columns (name -> Edm type) from the root ``$metadata`` (cached)."""
        rep = await self.report(report)
        if not rep.name:
            rep = resolve_report(rep.url, await self.reports())
        async with self._meta_lock:
            if self._columns is None:
                url = f"{self.base_url}/$metadata"
                body = await self._http.fetch(url, read_body, what="service metadata")
                self._columns = parse_root_metadata(body)
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
        columns using the root ``$metadata``.
        """

        async def prepare() -> str:
            url, _, _ = await self.data_url(report, filter=filter, timezone=timezone, check=check)
            return url

        op: Operation | None = None

        async def fetch(url: str) -> Page:
            nonlocal op  # the "rows" operation span: first page to last (issue #17)
            op = op or self._http.telemetry.operation("rows", report=_ref_name(report))
            headers = {"Accept": "application/json"}
            try:
                with op.within():
                    page = await self._http.fetch(
                        url, read_page, what="report page", headers=headers
                    )
            except BaseException as exc:
                op.end(exc)
                raise
            if page.next_link is None:
                op.end()
            return page

        async def convert() -> Callable[[dict[str, Any]], dict[str, Any]] | None:
            return row_typer(await self.columns(report)) if typed else None

        if start is not None:
            require_same_origin(start, self.base_url, what="checkpoint")
        if max_age is not None:
            age = check_max_age(max_age)

            async def cached(url: str) -> Page:
                # The whole pull is one cached answer, served as one page (issue #17).
                async def everything() -> bytes:
                    rows: list[dict[str, Any]] = []
                    async with PageIterator(url, fetch) as pages:
                        async for page in pages:
                            rows.extend(page.rows)
                    return json.dumps(rows, ensure_ascii=False).encode()

                key = cache_key(self.account, url, "rows")
                body = await self._results.get_or_fetch(key, max_age=age, fetch=everything)
                return Page(rows=json.loads(body))

            return PageIterator(start, cached, prepare=prepare, convert=convert)
        return PageIterator(start, fetch, prepare=prepare, convert=convert)

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
        """Every row of every page, in order (see :meth:`pages`).

        ``max_age`` (seconds) serves the rows of the same request received within that age
        without a request, from the session's ``result_cache`` (shared by every replica with
        :class:`RedisResultCache`); concurrent identical pulls share one.
        """
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

        ``max_age`` serves an answer received within that many seconds (see :meth:`rows`).
        Raises :class:`UnexpectedResponse` when the body's type is not the one requested.
        """
        fmt = parse_format(format)
        age = None if max_age is None else check_max_age(max_age)
        if fmt is Format.JSON:
            pulled = self.rows(report, filter=filter, timezone=timezone, check=check, max_age=age)
            rows = [row async for row in pulled]
            return json.dumps(rows, ensure_ascii=False).encode()
        url, headers, _ = await self.data_url(
            report, filter=filter, timezone=timezone, format=fmt, check=check
        )

        async def consume(resp: Response) -> bytes:
            check_type(resp, fmt)
            return await resp.read()

        async def send() -> bytes:
            with self._http.telemetry.operating("download", report=_ref_name(report)):
                return await self._http.fetch(
                    url, consume, what=f"{fmt.value} download", headers=headers
                )

        if age is None:
            return await send()
        key = cache_key(self.account, url, fmt.value)
        return await self._results.get_or_fetch(key, max_age=age, fetch=send)

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
    ) -> Path:
        """Stream the report to ``path`` atomically: complete, or absent.

        The body goes in chunks to a temporary file beside ``path``, renamed only when it is
        complete and of the requested type; a truncated body, an HTML error page or a wrong
        type leaves no file and raises. ``progress(bytes_so_far)`` is called after each chunk.
        Returns the final path.
        """
        fmt = parse_format(format)
        target = Path(path)
        if fmt is Format.JSON:
            with AtomicFile(target) as out:
                out.write(b"[")
                first = True
                async with self.rows(report, filter=filter, timezone=timezone, check=check) as rows:
                    async for row in rows:
                        out.write((b"" if first else b",\n") + json.dumps(row).encode())
                        first = False
                out.write(b"]\n")
                return out.commit()
        url, headers, _ = await self.data_url(
            report, filter=filter, timezone=timezone, format=fmt, check=check
        )
        with (
            AtomicFile(target) as out,
            self._http.telemetry.operating("export", report=_ref_name(report)),
        ):
            await self._http.fetch(
                url,
                lambda resp: stream_to(resp, out, fmt, progress),
                what=f"{fmt.value} export",
                headers=headers,
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
        key: str | None = None,
    ) -> Job:
        """Start an asynchronous export (``Prefer: respond-async``) and return its :class:`Job`.

        With ``key`` the job is started once per key and account, across processes and
        restarts (``job_keys=``, default a SQLite file beside the journal): a live job recorded
        under the key is resumed instead (no request), and a finished one within its hour is
        fetched again by ``result()`` with one request.

        Local checks (key, format, filter, time zone) run first and spend no request.
        Raises :class:`ConfigurationError` for a key that is not a str of 1-200 characters,
        or one recorded for another request.
        """
        if key is not None:
            check_job_key(key)
        url, headers, fmt = await self.data_url(
            report, filter=filter, timezone=timezone, format=format, check=check
        )
        rep = await self.report(report)

        async def start() -> Job:
            return await submit_job(
                self._http,
                url,
                headers,
                report=rep.url,
                format=fmt,
                policy=self.poll_policy,
                history=self.job_history,
            )

        if key is None:
            return await start()
        return await submit_once(
            self._keys(),
            key,
            scope=self._job_scope(),
            request=request_fingerprint(url, fmt.value),
            clock=self.clock,
            start=start,
            resume=self.resume,
            claim_timeout=self._claim_timeout,
        )

    async def jobs(self) -> list[JobRecord]:
        """The keyed jobs recorded for this account and service that are still live
        (within their hour); ``await s.resume(record.token)`` continues one. No request."""
        return await self._keys().live(self._job_scope(), now=self.clock.time())

    def _keys(self) -> JobKeys:
        if self._job_keys is None:
            self._job_keys = SQLiteJobKeys()
        return self._job_keys

    def _job_scope(self) -> str:
        return f"{self.account}\n{self.base_url}"

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

    async def resume(self, token: str) -> Job:
        """Rebuild a :class:`Job` from its token (e.g. in another process); no request is sent.

        Raises :class:`InvalidToken` for a malformed or expired token.
        """
        return resume_job(self._http, token, policy=self.poll_policy, history=self.job_history)


def _ref_name(report: ReportRef) -> str:
    """What names a report in telemetry: its GUID when known, else what the caller gave."""
    return report.url if isinstance(report, Report) else report

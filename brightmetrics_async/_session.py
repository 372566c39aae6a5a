"""``Session``: the public entry point. Signs in, lists reports, reads metadata, pages and exports.

``Session`` is a facade of thin, documented methods. The constructor only checks its arguments
and builds the session's parts (``_session_wiring``: driver, budget, knowledge store, flows,
job keys, telemetry): no connection, task or event-loop binding happens until the first
request (or ``async with``). Every request is a flow of ``_ops`` / ``_job_flow`` run by the
``Driver``, which spends the account's budget first; the data methods' bodies (pages,
downloads, exports, submissions) are in ``_session_data``. The service document, filter
schemas and the root ``$metadata`` are cached for the life of the session and, with a
knowledge store (``cache=``, the default), across sessions and processes for
``cache_max_age``: resolving a title or checking a filter costs a request once a day. The
store also keeps learned job durations and page counts (``_knowledge``), which the dry run
(:meth:`Session.dry_run`) reads; each use is a hook marked ``#12``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from . import _session_data as data
from ._auth import Auth
from ._budget import DEFAULT, Budget, Default
from ._bulk import Pull
from ._clock import Clock
from ._estimate import DEFAULT_PAGES, Estimate
from ._filters import FilterExpr
from ._formats import Format
from ._http import Timeouts
from ._job_keys import JobKeys, JobRecord, check_job_key
from ._jobs import Job
from ._journal import Journal
from ._knowledge import DEFAULT_MAX_AGE, KnowledgeStore
from ._knowledge._plan import Learned as StoreKnown
from ._limits import Limits, check_max_bytes
from ._models import BudgetSnapshot, FilterSchema, Report
from ._otel import Telemetry
from ._pager import PageIterator, RowIterator
from ._poll_policy import PollPolicy
from ._protocol import check_link
from ._pull_items import PullEvent, PullItem
from ._request import Query, Request
from ._results import ResultCache
from ._retry import RetryPolicy
from ._session_economy import SessionEconomy
from ._session_wiring import DEFAULT_BASE_URL, wire
from ._shared_cache import check_max_age
from ._submit import resume_job
from ._validate import check_export_target, check_page_args, check_pull_args

if TYPE_CHECKING:
    import datetime as dt

    import aiohttp

    from ._dry_run import Known

__all__ = ["DEFAULT_BASE_URL", "ReportRef", "Session"]

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
    of ``Accept``. ``limits`` bounds the decoded size of each body read into memory
    (:class:`Limits`; defaults: page 64 MB, metadata 8 MB, status and error bodies 64 KB).
    ``use_reserve=True`` makes this an interactive session: its requests may spend the
    budget's ``reserve`` tokens, which other sessions leave alone. ``cache`` is the knowledge
    store (default: a :class:`SQLiteKnowledge` file beside the default budget's, shared by
    every session and process of the account; ``None``: remember nothing across sessions);
    its documents are used for ``cache_max_age`` seconds (24 h), and :meth:`refresh_cache`
    fetches them again.

    OpenTelemetry (with the ``otel`` extra installed): spans and metrics go to the global
    providers unless ``tracer_provider`` / ``meter_provider`` are given; ``telemetry=False``
    turns them off. No trace context is sent to the service unless ``propagate_trace=True``.
    ``result_cache`` keeps the answers of ``max_age=`` calls (default: one memory cache shared
    by the sessions of this process; :class:`RedisResultCache` shares them between replicas);
    ``job_keys`` records keyed submissions (default: :class:`SQLiteJobKeys` beside the
    journal; :class:`RedisJobKeys` for several machines). Neither is closed by the session
    when passed in.

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
        limits: Limits | None = None,
        use_reserve: bool = False,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        propagate_trace: bool = False,
        telemetry: bool = True,
        result_cache: ResultCache | None = None,
        job_keys: JobKeys | None = None,
        cache: KnowledgeStore | Default | None = DEFAULT,
        cache_max_age: float = DEFAULT_MAX_AGE,
    ) -> None:
        w = self._wiring = wire(
            auth,
            base_url=base_url,
            account=account,
            budget=budget,
            max_wait=max_wait,
            clock=clock,
            session=session,
            timeouts=timeouts,
            retry=retry,
            poll_policy=poll_policy,
            format_via=format_via,
            check_filters=check_filters,
            limits=limits,
            use_reserve=use_reserve,
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            propagate_trace=propagate_trace,
            telemetry=telemetry,
            result_cache=result_cache,
            job_keys=job_keys,
            cache=cache,
            cache_max_age=cache_max_age,
        )
        # The parts the methods below use (see ``_session_wiring``).
        self.base_url, self.account = w.base_url, w.account
        self.clock, self.budget, self.poll_policy = w.clock, w.budget, w.poll_policy
        self.knowledge, self.job_history = w.knowledge, w.job_history
        self._transport, self._driver, self._ops = w.transport, w.driver, w.ops
        self._learner, self._economy, self._jobs = w.learner, w.economy, w.jobs
        self._claim_timeout = w.claim_timeout

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
        await self._wiring.aclose()

    @property
    def requests_sent(self) -> int:
        """Requests this session has sent (each one spent a budget token)."""
        return self._driver.requests_sent

    @property
    def telemetry(self) -> Telemetry:
        """The OpenTelemetry observer of this session's requests (#17; a no-op without otel)."""
        return self._driver.telemetry

    @property
    def aiohttp_session(self) -> aiohttp.ClientSession | None:
        """The aiohttp session in use (None before the first request, or after closing)."""
        return self._transport.session

    def refresh_cache(self) -> None:
        """Fetch the service document and ``$metadata`` again on next use (no request now)."""
        self.knowledge.refresh()
        self._driver.documents.clear()

    async def budget_status(self) -> BudgetSnapshot:
        """A frozen snapshot of this account's budget: remaining, next free time, spent."""
        return await self.budget.snapshot(self.account)

    # -- discovery ---------------------------------------------------------------------

    async def reports(self) -> list[Report]:
        """The saved reports of the service document (fetched once per session)."""
        reports: list[Report] = await self._driver.run(self._ops.reports())
        return reports

    async def report(self, ref: ReportRef) -> Report:
        """Resolve a :class:`Report`, GUID, report URL, entity-set name or exact title.

        A GUID or URL costs no request; a title or name costs the service document, once.
        Raises :class:`NotFound` when nothing matches.
        """
        report: Report = await self._driver.run(self._ops.report(ref))
        return report

    async def filters(self, report: ReportRef) -> FilterSchema:
        """The report's filter properties (OData name -> Edm type), fetched once per session."""
        schema: FilterSchema = await self._driver.run(self._ops.filters(report))
        return schema

    async def columns(self, report: ReportRef) -> Mapping[str, str]:
        """The report's columns (name -> Edm type) from the root ``$metadata`` (cached)."""
        columns: Mapping[str, str] = await self._driver.run(self._ops.columns(report))
        return columns

    # -- data --------------------------------------------------------------------------

    @staticmethod
    def query(
        report: ReportRef | Query,
        *,
        filter: FilterArg = None,  # noqa: A002 - the vendor's word
        timezone: str | dt.tzinfo | None = None,
        format: Format | str = Format.JSON,  # noqa: A002
        check: bool | None = None,
    ) -> Query:
        """A :class:`Query` from a report and keywords (or the query itself, as given)."""
        if isinstance(report, Query):
            return report
        return Query(report, format=format, filter=filter, timezone=timezone, check=check)

    async def request(self, query: Query) -> Request:
        """The request of ``query``'s data, after every local check (no data request sent)."""
        request: Request = await self._driver.run(self._ops.data_request(query))
        return request

    async def data_url(
        self,
        report: ReportRef | Query,
        *,
        filter: FilterArg = None,  # noqa: A002 - the vendor's word
        timezone: str | dt.tzinfo | None = None,
        format: Format | str = Format.JSON,  # noqa: A002
        check: bool | None = None,
    ) -> str:
        """The URL of a data request, after every local check.

        For the whole request (headers, purpose) use ``await s.request(s.query(...))``, a
        :class:`Request`. Raises :class:`FilterError` / :class:`UnknownTimezone` /
        :class:`ConfigurationError` before any data request (the filter schema may be
        fetched, once, to check types).
        """
        q = self.query(report, filter=filter, timezone=timezone, format=format, check=check)
        return (await self.request(q)).url

    def pages(
        self,
        report: ReportRef | Query,
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
        columns using the root ``$metadata``. ``max_age`` (seconds): a page received within
        that age is served from the ``result_cache`` without a request (shared by every
        replica with :class:`RedisResultCache`); concurrent identical pulls share one.
        Raises ``TypeError`` at the call for a ``start`` that is not a str, a ``typed`` that is
        not a bool or a ``check`` not None or a bool.
        """
        check_page_args(start=start, typed=typed, check=check)
        age = None if max_age is None else check_max_age(max_age)
        q = self.query(report, filter=filter, timezone=timezone, check=check)
        if start is not None:
            check_link(start, self.base_url, what="checkpoint")
        return data.open_pages(self._wiring, q, typed=typed, start=start, max_age=age)

    def rows(
        self,
        report: ReportRef | Query,
        *,
        filter: FilterArg = None,  # noqa: A002
        timezone: str | dt.tzinfo | None = None,
        typed: bool = False,
        start: str | None = None,
        check: bool | None = None,
        max_age: float | None = None,
    ) -> RowIterator:
        """Every row of every page, in order (see :meth:`pages`, and its ``max_age``)."""
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
        report: ReportRef | Query,
        *,
        format: Format | str = Format.JSON,  # noqa: A002
        filter: FilterArg = None,  # noqa: A002
        timezone: str | dt.tzinfo | None = None,
        check: bool | None = None,
        max_age: float | None = None,
    ) -> bytes:
        """The report in one format, in memory. JSON gives one array of every page's rows.

        ``max_age`` serves an answer received within that many seconds (see :meth:`pages`).
        Raises :class:`UnexpectedResponse` when the body's type is not the one requested.
        """
        age = None if max_age is None else check_max_age(max_age)
        q = self.query(report, filter=filter, timezone=timezone, format=format, check=check)
        return await data.download(self._wiring, q, max_age=age)

    async def export(
        self,
        report: ReportRef | Query,
        path: str | os.PathLike[str],
        *,
        format: Format | str | None = None,  # noqa: A002
        filter: FilterArg = None,  # noqa: A002
        timezone: str | dt.tzinfo | None = None,
        check: bool | None = None,
        progress: Callable[[int], None] | None = None,
        max_bytes: int | None = None,
        max_age: float | None = None,
    ) -> Path:
        """Stream the report to ``path`` atomically: complete, or absent.

        The body goes in chunks to a temporary file beside ``path``, renamed only when it is
        complete and of the requested type; a truncated body, an HTML error page or a wrong
        type leaves no file and raises. ``progress(bytes_so_far)`` is called after each chunk.
        The format is ``format``, else the one ``path``'s suffix names (``.xlsx``), else CSV;
        a suffix contradicting ``format`` is a :class:`ConfigurationError` before any request,
        and so is a directory as ``path``. ``max_bytes`` bounds the size of the export (default
        ``Limits.export``, none); past it :class:`UnexpectedResponse` and no file.
        ``max_age``: served from a response received at most that long ago, if any (the body
        is then held in memory, to be kept; see :meth:`pages`). Returns the final path.
        """
        target, max_bytes = check_export_target(path), check_max_bytes(max_bytes)
        age = None if max_age is None else check_max_age(max_age)
        q = data.export_query(
            report, path, format=format, filter=filter, timezone=timezone, check=check
        )
        return await data.export(
            self._wiring, q, target, progress=progress, max_bytes=max_bytes, max_age=age
        )

    # -- asynchronous exports ------------------------------------------------------------

    async def submit(
        self,
        report: ReportRef | Query,
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
        q = self.query(report, filter=filter, timezone=timezone, format=format, check=check)
        return await data.submit(self._wiring, q, key=key, report=self.report, resume=self.resume)

    # -- #12: the estimate and the way of each item (``_session_economy``) --------------

    def _economist(self) -> SessionEconomy:
        return SessionEconomy(
            self._ops, self._learner, self._driver.documents.get, self.poll_policy, self.job_history
        )

    async def estimate(
        self,
        items: Sequence[PullItem | ReportRef],
        *,
        typed_items: Collection[int] = (),
        default_pages: int = DEFAULT_PAGES,
        job_seconds: float | None = None,
        retry_after: float | None = None,
        known: Known | None = None,
        known_pages: Mapping[str, int] | None = None,
        journal: Journal | None = None,
    ) -> Estimate:
        """What pulling ``items`` would spend: the dry run of this session's own flows
        against what it and its knowledge store know (documents, page counts, job durations
        per report, format and filter shape). No request is sent.

        When nothing is guessed (:attr:`Estimate.guesses` empty) it is what the pull will
        spend; an item left to choose (``use_async=None``) is counted the way
        :meth:`pull_many` runs it. ``typed_items``: indices of items typed with the root
        ``$metadata`` (parquet). ``default_pages`` / ``job_seconds`` / ``retry_after`` (None:
        the documented defaults) are the guesses where nothing was learned. ``known`` (a
        :class:`Known`) replaces what is known; ``known_pages`` (page counts by report) with
        the documents this session holds replaces it too. With the ``journal`` of the pull,
        an item left to choose that an earlier run started is counted the way it recorded
        (the way the pull continues it). The synchronous estimate without a session is
        :func:`estimate_requests`.
        """
        return await self._economist().estimate(
            items,
            typed_items=typed_items,
            default_pages=default_pages,
            job_seconds=job_seconds,
            retry_after=retry_after,
            known=known,
            known_pages=known_pages,
            journal=journal,
        )

    #: The same as :meth:`estimate` (the name its store-backed form had before, kept).
    dry_run = estimate

    async def learned(self, items: Sequence[PullItem | ReportRef]) -> StoreKnown:
        """What this session and its knowledge store know of ``items`` (documents, page
        counts, job durations): the :class:`Known` its estimate reads (#12); no request."""
        return await self._economist().learned(items)

    async def choose_way(self, item: PullItem) -> PullItem:
        """``item`` with ``use_async`` decided: as given, else the way the dry run predicts
        to cost fewer requests (paging while its page count is unknown); no request."""
        return await self._economist().choose_way(item)

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
        file continue from their last page checkpoint. Raises ``TypeError`` at the call for
        ``items`` that are not a list or tuple, or a ``concurrency`` that is not an int
        (:class:`ConfigurationError` below 1).
        """
        concurrency = check_pull_args(items, concurrency)
        normal = [i if isinstance(i, PullItem) else PullItem(i) for i in items]
        return Pull(self, normal, concurrency=concurrency, on_event=on_event, journal=journal)

    async def resume(self, token: str) -> Job:
        """Rebuild a :class:`Job` from its token (e.g. in another process); no request is sent.

        Raises :class:`InvalidToken` for a malformed or expired token.
        """
        return resume_job(self._jobs, token)

    # -- #17: keyed jobs and the result cache ----------------------------------------------

    async def jobs(self) -> list[JobRecord]:
        """The keyed jobs recorded for this account and service that are still live
        (within their hour); ``await s.resume(record.token)`` continues one. No request."""
        return await self._keys().live(self._job_scope(), now=self.clock.time())

    def _keys(self) -> JobKeys:
        return self._wiring.keys()

    def _job_scope(self) -> str:
        return self._wiring.job_scope()

"""The aiohttp handlers and middlewares of the emulated OData service.

Every request passes, outermost first: the recorder (request log, OData error bodies for
whatever a handler raised), the fault injector, then authentication and the quota. Handlers
read the emulator's state and answer; links are built from the origin the request was sent to,
so they work whatever host and port the server listens on. A report is served at its GUID (the
document's ``url``) and at its entity-set name (what generic OData clients request after
reading ``$metadata``); next links always use the GUID, as the document's example does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import UTC
from email.utils import formatdate
from typing import TYPE_CHECKING

from aiohttp import web

from ._accounts import Principal
from ._csdl import filter_metadata, root_metadata
from ._data import DataRequest, default_range, json_datetime
from ._faults import ConnectionDropped
from ._filter_eval import FilterRejected, compile_filter
from ._jobs import JobState, new_uuid
from ._log import RequestRecord
from ._options import OptionError, QueryOptions, parse_options
from ._paging import PagingContext, Skiptoken
from ._query import (
    JSON,
    STANDARD_OPTIONS,
    BadRequest,
    ExportFormat,
    NotAcceptable,
    negotiate,
    parse_query,
)
from ._query import prefers_async as _prefers_async
from ._reports import Report
from ._responses import (
    JSON_CONTENT_TYPE,
    ODataError,
    error_response,
    export_response,
    json_response,
    jsonable,
)
from ._timezones import resolve_timezone

if TYPE_CHECKING:
    from ._app import Emulator

__all__ = ["RESET_PATH", "build_app"]

RESET_PATH = "/account/reset-api-limit"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# The authenticated principal of the request being handled (middlewares and the handler run
# in one task, so a context variable carries it without request storage).
_PRINCIPAL: ContextVar[Principal | None] = ContextVar("bm_principal", default=None)
_WWW_AUTHENTICATE = 'Basic realm="Brightmetrics", Bearer realm="Brightmetrics"'


def build_app(emulator: Emulator) -> web.Application:
    """A fresh aiohttp application serving ``emulator``."""
    h = _Handlers(emulator)
    app = web.Application(middlewares=[h.record, h.inject_faults, h.authenticate])
    root = emulator.config.root_path
    app.router.add_get(root, h.service_document)
    app.router.add_get(root + "/", h.service_document)
    app.router.add_get(root + "/$metadata", h.root_metadata)
    app.router.add_get(root + "/status/{job_id}", h.job_status)
    app.router.add_get(root + "/{guid}/$metadata", h.report_metadata)
    app.router.add_get(root + "/{guid}", h.report_data)
    app.router.add_post(RESET_PATH, h.reset_api_limit)
    return app


class _Handlers:
    def __init__(self, emulator: Emulator) -> None:
        self.emu = emulator
        self.config = emulator.config

    # -- middlewares -------------------------------------------------------------------------

    @web.middleware
    async def record(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        at = self.emu.clock()
        status = 0
        reset = _PRINCIPAL.set(None)
        try:
            response = await self._answer(request, handler)
            status = response.status
            return response
        except ConnectionDropped:
            # The connection is gone on purpose: log status 0, and give aiohttp an answer it
            # will fail to send quietly instead of an exception it would log as a crash.
            return web.Response(status=500)
        finally:
            principal = _PRINCIPAL.get()
            _PRINCIPAL.reset(reset)
            account = principal.account.id if principal is not None else None
            self.emu.requests.append(
                RequestRecord(
                    method=request.method,
                    target=request.raw_path,
                    headers=tuple((str(k), v) for k, v in request.headers.items()),
                    account=account,
                    status=status,
                    at=at,
                )
            )

    async def _answer(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ODataError as error:
            return error_response(error)
        except web.HTTPException as exc:  # aiohttp's own 404/405 for unknown routes
            if exc.status < 400:
                raise
            return error_response(ODataError(exc.status, exc.reason.replace(" ", ""), exc.reason))

    @web.middleware
    async def inject_faults(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        return await self.emu.faults.handle(request, handler, now=self.emu.clock())

    @web.middleware
    async def authenticate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        principal = self.emu.accounts.authenticate(request.headers.get("Authorization"))
        if principal is None:
            raise ODataError(
                401,
                "Unauthorized",
                "Authentication required: Basic (e-mail and password hash, *pass, or apikey)"
                " or Bearer API key.",
                headers={"WWW-Authenticate": _WWW_AUTHENTICATE},
            )
        _PRINCIPAL.set(principal)
        if request.path != RESET_PATH:  # the web UI's button is not an API request
            wait = self.emu.quota.admit(principal.account.id, self.emu.clock())
            if wait is not None:
                wait /= self.config.clock_speed  # real seconds, however fast time runs here
                raise ODataError(
                    429,
                    "TooManyRequests",
                    f"API request limit of {self.emu.quota.limit} requests per"
                    f" {self.emu.quota.period:g} seconds reached for company account"
                    f" {principal.account.name!r}.",
                    headers={"Retry-After": self.emu.quota.retry_after_header(wait)},
                )
        return await handler(request)

    # -- helpers -----------------------------------------------------------------------------

    def _root(self, request: web.Request) -> str:
        return f"{request.url.origin()}{self.config.root_path}"

    @staticmethod
    def _principal(request: web.Request) -> Principal:
        principal = _PRINCIPAL.get()
        if principal is None:  # only reachable if a route skipped the auth middleware
            raise ODataError(401, "Unauthorized", "Authentication required.")
        return principal

    def _report(self, request: web.Request) -> Report:
        account = self._principal(request).account.id
        segment = request.match_info["guid"]
        report = self.emu.reports_by_guid(account).get(segment.lower())
        if report is None:  # a generic OData client asks for the entity set by name
            named = (r for r in self.emu.reports_for(account) if r.entity_set == segment)
            report = next(named, None)
        if report is None:
            raise ODataError(404, "NotFound", f"No saved report with id or name {segment!r}.")
        return report

    # -- endpoints ---------------------------------------------------------------------------

    async def service_document(self, request: web.Request) -> web.StreamResponse:
        root = self._root(request)
        reports = self.emu.reports_for(self._principal(request).account.id)
        value = [
            {"name": r.entity_set, "title": r.title, "kind": "EntitySet", "url": r.guid}
            for r in reports
        ]
        # The document's example has no service root in its context URL; OData 4.0 would.
        base = root if self.config.service_context == "root" else str(request.url.origin())
        return json_response({"@odata.context": f"{base}/$metadata", "value": value})

    async def root_metadata(self, request: web.Request) -> web.StreamResponse:
        reports = self.emu.reports_for(self._principal(request).account.id)
        return _xml(root_metadata(reports))

    async def report_metadata(self, request: web.Request) -> web.StreamResponse:
        return _xml(filter_metadata(self._report(request)))

    async def reset_api_limit(self, request: web.Request) -> web.StreamResponse:
        account = self._principal(request).account.id
        self.emu.reset_quota(account)
        status = self.emu.quota.status(account, self.emu.clock())
        return json_response({"account": account, "used": status.used, "limit": status.limit})

    async def report_data(self, request: web.Request) -> web.StreamResponse:
        report = self._report(request)
        account = self._principal(request).account.id
        try:
            params = parse_query(
                request.raw_path,
                standard_options=not self.config.strict_query_options,
                plus=self.config.plus_in_query,
            )
            fmt = negotiate(params, request.headers.get("Accept"))
            options = parse_options(params, report)
        except (BadRequest, OptionError) as exc:
            raise ODataError(400, "BadRequest", str(exc)) from exc
        except NotAcceptable as exc:
            raise ODataError(406, "NotAcceptable", str(exc)) from exc
        standard = sorted(STANDARD_OPTIONS.intersection(params))
        if standard and fmt != JSON:
            raise ODataError(400, "BadRequest", f"{', '.join(standard)}: JSON answers only.")
        if "$skiptoken" in params:
            if standard:
                raise ODataError(
                    400, "BadRequest", f"{', '.join(standard)}: the next link carries them."
                )
            return await self._continue(request, report, params["$skiptoken"], fmt)
        data = self._resolve(report, account, params)
        wants_async = _prefers_async(request.headers.getall("Prefer", []))
        if wants_async and not self.config.ignore_respond_async:
            job = self.emu.submit_job(account, data, fmt, options)
            return self._accepted(request, job.id)
        return await self._deliver(request, data, fmt, paged=True, options=options, params=params)

    async def job_status(self, request: web.Request) -> web.StreamResponse:
        account = self._principal(request).account.id
        status_id = request.match_info["job_id"]
        job = self.emu.jobs.find(status_id, account_id=account)
        now = self.emu.clock()
        if job is None or job.state(now) is JobState.GONE:
            raise ODataError(404, "NotFound", f"No export job with id {status_id!r}.")
        if job.state(now) is JobState.RUNNING:
            job.polls += 1
            if self.config.move_location:
                status_id = self.emu.jobs.move(status_id)
            return self._accepted(request, status_id)
        return await self._deliver(
            request, job.request, job.format, paged=False, options=job.options
        )

    # -- data --------------------------------------------------------------------------------

    def _resolve(self, report: Report, account: str, params: dict[str, str]) -> DataRequest:
        tz = UTC if "timezone" not in params else resolve_timezone(params["timezone"])
        if tz is None:
            raise ODataError(400, "BadRequest", f"Unknown timezone {params['timezone']!r}.")
        compiled = None
        if "$filter" in params:
            try:
                compiled = compile_filter(params["$filter"], report.filter_properties)
            except FilterRejected as exc:
                raise ODataError(400, exc.code, exc.message) from exc
        start, end = default_range(report, now=self.emu.clock(), tz=tz)
        if compiled is not None and report.date_property in compiled.properties:
            lower, upper = compiled.bounds(report.date_property)
            start, end = lower or start, upper or end
        return DataRequest(report, self.emu.dataset(account), compiled, tz, start, end)

    async def _continue(
        self, request: web.Request, report: Report, value: str, fmt: ExportFormat
    ) -> web.StreamResponse:
        account = self._principal(request).account.id
        try:
            token = Skiptoken.decode(value)
        except ValueError as exc:
            raise ODataError(400, "BadRequest", f"Invalid $skiptoken: {exc}.") from exc
        context = self.emu.paging.get(token.id, now=self.emu.clock())
        if context is None or (context.account_id, context.report_guid) != (account, report.guid):
            raise ODataError(400, "BadRequest", "Unknown or expired $skiptoken.")
        data = DataRequest(
            report,
            self.emu.dataset(account),
            context.filter,
            context.tz,
            token.next_start,
            token.end,
        )
        return await self._deliver(
            request,
            data,
            fmt,
            paged=True,
            options=context.options,
            context_id=token.id,
            total=context.total,
        )

    async def _deliver(
        self,
        request: web.Request,
        data: DataRequest,
        fmt: ExportFormat,
        *,
        paged: bool,
        options: QueryOptions,
        params: dict[str, str] | None = None,
        context_id: str | None = None,
        total: int | None = None,
    ) -> web.StreamResponse:
        report = data.report
        if fmt != JSON:
            return await export_response(
                request,
                fmt,
                columns=report.columns,
                rows=data.all_rows(),
                title=report.title,
                filename=report.entity_set,
                min_bytes=self.config.export_min_bytes,
            )
        root = self._root(request)
        context_url = f"{root}/$metadata#{report.entity_set}{options.context_suffix()}"
        body: dict[str, object] = {"@odata.context": context_url}
        if options.by_rows or not (paged and report.detail):
            return self._row_window(body, data, options, params if paged else None, root)
        if options.count and total is None:
            total = len(data.all_rows())
        if total is not None:
            options.annotate(body, total)
        page = data.page(
            data.start,
            slice_seconds=self.config.slice_seconds,
            max_rows=self.config.page_max_rows,
        )
        if page.next_start is not None:
            if context_id is None:
                context_id = new_uuid(self.emu.rng)
                account = self._principal(request).account.id
                context = PagingContext(
                    report.guid,
                    account,
                    data.filter,
                    data.tz,
                    self.emu.clock(),
                    options=options,
                    total=total,
                )
                self.emu.paging.put(context_id, context)
            token = Skiptoken(context_id, page.next_start, data.end).encode()
            body["@odata.nextLink"] = f"{root}/{report.guid}?$skiptoken={token}"
        body["value"] = jsonable(options.project(page.rows), json_datetime)
        return json_response(body)

    def _row_window(
        self,
        body: dict[str, object],
        data: DataRequest,
        options: QueryOptions,
        params: dict[str, str] | None,
        root: str,
    ) -> web.Response:
        """All rows of the range, or the client's ``$top``/``$skip`` window of them, in one
        answer; with ``params`` (a paged request), a window longer than ``page_max_rows`` is
        cut there with a next link that moves ``$skip`` on."""
        rows = data.all_rows()
        options.annotate(body, len(rows))
        window = options.window(rows)
        limit = self.config.page_max_rows if options.by_rows else None
        if params is not None and limit is not None and len(window) > limit:
            window = window[:limit]
            following = options.next_query(params, limit)
            body["@odata.nextLink"] = f"{root}/{data.report.guid}?{following}"
        body["value"] = jsonable(options.project(window), json_datetime)
        return json_response(body)

    def _accepted(self, request: web.Request, status_id: str) -> web.Response:
        url = f"{self._root(request)}/status/{status_id}"
        seconds = self.config.job_retry_after
        retry_after = (
            formatdate(self.emu.real_clock() + seconds, usegmt=True)
            if self.config.retry_after_http_date
            else f"{seconds:g}"
        )
        headers = {"Content-Type": JSON_CONTENT_TYPE, "Retry-After": retry_after}
        if not self.config.omit_location:
            headers["Location"] = url
        if self.config.preference_applied:
            headers["Preference-Applied"] = "respond-async"
        body = {} if self.config.omit_status_url else {"statusUrl": url}
        return json_response(body, status=202, headers=headers)


def _xml(text: str) -> web.Response:
    return web.Response(
        body=text.encode("utf-8"),
        headers={"Content-Type": "application/xml; charset=utf-8", "OData-Version": "4.0"},
    )

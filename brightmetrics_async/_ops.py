"""The operations of a session, as flows: discovery, metadata, data requests, pages, exports.

Every one is a generator run by a driver (``_driver`` over the network, ``_dry_run`` against
what is known). Shared documents (the service document, filter schemas, the root
``$metadata``) are asked for with :class:`~._fetch.Document`: the driver serves them from the
session's cache, or runs the flow that fetches them, once.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Mapping
from typing import Any

from ._bodies import read_body, read_page, read_page_body, read_typed, stream_typed
from ._errors import ConfigurationError, NotFound, UnexpectedResponse
from ._fetch import Cached, Consume, Document, Flow, Policy, Sink, fetch
from ._filters import prepare_filter
from ._formats import Format
from ._metadata import parse_filter_metadata, parse_root_metadata
from ._models import FilterSchema, Page, Report
from ._protocol import guid_of, parse_service_document, resolve_report
from ._request import Purpose, Query, Request, Requests
from ._timezones import windows_timezone

__all__ = ["SERVICE_DOCUMENT", "SERVICE_METADATA", "UNKNOWN_SCHEMA", "Ops", "filter_key"]

SERVICE_DOCUMENT = "service document"
SERVICE_METADATA = "service metadata"
#: A filter schema a dry run does not know: the filter's types are not checked against it.
UNKNOWN_SCHEMA = FilterSchema(properties={}, entity_type="(unknown)")


def filter_key(report_url: str) -> str:
    """The document key of a report's filter schema."""
    return f"filter metadata {report_url}"


class Ops:
    """The flows of one session (pure: they only yield commands)."""

    __slots__ = ("_read_page", "check_filters", "policy", "requests")

    def __init__(self, policy: Policy, requests: Requests, *, check_filters: bool) -> None:
        self.policy = policy
        self.requests = requests
        self.check_filters = check_filters
        self._read_page = read_page(policy.limits)  # made once: every page reads with it

    # -- documents ------------------------------------------------------------------------

    def _document(self, key: str, request: Request, parse: Callable[[bytes], Any]) -> Flow[Any]:
        def load() -> Flow[bytes]:
            return (yield from fetch(self.policy, request, read_body(self.policy.limits)))

        return (yield Document(key, request, load(), parse))

    def reports(self) -> Flow[list[Report]]:
        """The saved reports of the service document."""
        request = self.requests.service_document()
        reports: list[Report] = yield from self._document(
            SERVICE_DOCUMENT, request, parse_service_document
        )
        return list(reports)

    def report(self, ref: Report | str) -> Flow[Report]:
        """Resolve a :class:`Report`, GUID, report URL, entity-set name or exact title.

        A GUID or URL costs no request; a title or name costs the service document, once.
        """
        if isinstance(ref, Report):
            return ref
        if not isinstance(ref, str) or not ref.strip():
            raise ConfigurationError("a report is a Report, a GUID, a report URL or a title")
        known: list[Report] | None = yield Cached(SERVICE_DOCUMENT)
        if known is not None:
            try:
                return resolve_report(ref, known)
            except NotFound:
                if guid_of(ref) is None:
                    raise
        guid = guid_of(ref)
        if guid is not None:
            return Report(name="", title="", kind="EntitySet", url=guid)
        return resolve_report(ref, (yield from self.reports()))

    def filters(self, ref: Report | str) -> Flow[FilterSchema]:
        """The report's filter properties (OData name -> Edm type)."""
        rep = yield from self.report(ref)
        request = self.requests.filter_metadata(rep.url)
        limit = self.policy.limits.metadata  # the parser's bound follows the read's
        schema: FilterSchema = yield from self._document(
            filter_key(rep.url), request, functools.partial(parse_filter_metadata, limit=limit)
        )
        return schema

    def columns(self, ref: Report | str) -> Flow[Mapping[str, str]]:
        """The report's columns (name -> Edm type) from the root ``$metadata``."""
        rep = yield from self.report(ref)
        if not rep.name:
            rep = resolve_report(rep.url, (yield from self.reports()))
        request = self.requests.service_metadata()
        limit = self.policy.limits.metadata
        columns: Mapping[str, Mapping[str, str]] = yield from self._document(
            SERVICE_METADATA, request, functools.partial(parse_root_metadata, limit=limit)
        )
        try:
            return columns[rep.name]
        except KeyError:
            raise UnexpectedResponse(f"$metadata does not describe {rep.title!r}") from None

    # -- data -----------------------------------------------------------------------------

    def data_request(self, query: Query, purpose: Purpose = "download") -> Flow[Request]:
        """The request of ``query``'s data, after every local check.

        Raises :class:`FilterError` / :class:`UnknownTimezone` / :class:`ConfigurationError`
        before any data request (the filter schema may be fetched, once, to check types).
        """
        fmt = query.format
        tz = _zone(query.timezone)
        rep = yield from self.report(query.report)
        check = self.check_filters if query.check is None else query.check
        # Two steps: syntax and the only-and rule first, free; then the type rules, which
        # need the report's filter schema (one request, once per session).
        text = prepare_filter(query.filter, None, check=check)
        if text is not None and check:
            schema = yield from self.filters(rep)
            text = prepare_filter(query.filter, schema, check=schema is not UNKNOWN_SCHEMA)
        return self.requests.data(rep.url, fmt=fmt, filter_text=text, timezone=tz, purpose=purpose)

    def page(self, url: str, read: Consume[Page] | None = None) -> Flow[Page]:
        """One page of rows at ``url`` (the report URL or a next link, verbatim), read by
        ``read`` (a :meth:`page_reader`) or the plain page reader."""
        # The fetch flow itself, not a generator around it: one frame less per resume.
        return fetch(self.policy, self.requests.page(url), read or self._read_page)

    def page_reader(self, on_page: Callable[[Page], None]) -> Consume[Page]:
        """The page reader that tells ``on_page`` of each page it reads (a paging's
        :class:`~._pager.Pager`, moved on inside the flow)."""
        return read_page(self.policy.limits, on_page)

    def page_body(self, url: str) -> Flow[bytes]:
        """One page's JSON body at ``url``, unparsed (for the result cache, #17)."""
        return (
            yield from fetch(
                self.policy, self.requests.page(url), read_page_body(self.policy.limits)
            )
        )

    def download(self, query: Query) -> Flow[bytes]:
        """A non-JSON body in memory, checked to be of the requested type."""
        request = yield from self.data_request(query)
        consume = read_typed(query.format, self.policy.limits)
        return (yield from fetch(self.policy, request, consume))

    def export(
        self,
        query: Query,
        sink: Sink,
        progress: Callable[[int], None] | None = None,
        max_bytes: int | None = None,
    ) -> Flow[int]:
        """A non-JSON body streamed to ``sink`` (at most ``max_bytes``, else
        ``Limits.export``); the bytes written."""
        request = yield from self.data_request(query, "export")
        limits = self.policy.limits
        consume = stream_typed(sink, query.format, progress, limits=limits, max_bytes=max_bytes)
        return (yield from fetch(self.policy, request, consume))


def _zone(timezone: str | dt.tzinfo | None) -> str | None:
    return windows_timezone(timezone) if timezone is not None else None


def json_format(query: Query) -> bool:
    """Whether ``query`` asks for JSON (rows, read page by page)."""
    return query.format is Format.JSON

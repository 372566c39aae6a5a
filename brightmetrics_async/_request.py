"""Requests as values, and the one builder that decides every header and query string.

A :class:`Request` says what to send (method, URL, headers but the credential), whether a
second try is harmless (``idempotent``) and what it is for (``purpose``). :class:`Requests`
builds every request of a session: nowhere else is an ``Accept``, ``Prefer`` or ``$format``
decided. :class:`Query` is what a caller asks of a report's data (report, format, filter,
time zone, check), shared by ``rows``/``pages``/``download``/``export``/``submit``/
``data_url`` and :class:`PullItem`.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Literal, NamedTuple

import attrs

from ._formats import Format, parse_format
from ._models import Report
from ._urls import build_query

if TYPE_CHECKING:
    from ._filter_expr import FilterExpr

__all__ = ["Purpose", "Query", "Request", "Requests"]

_tuple = tuple.__new__

Purpose = Literal[
    "service document",
    "filter metadata",
    "service metadata",
    "report page",
    "download",
    "export",
    "submit",
    "status poll",
    "export result",
]


class Request(NamedTuple):
    """One request to send (the credential is added by the driver, never stored here).

    A named tuple: frozen, and the cheapest value to build once per page.
    """

    url: str
    purpose: Purpose
    what: str
    headers: tuple[tuple[str, str], ...] = ()
    method: str = "GET"
    idempotent: bool = True

    def to(self, url: str) -> Request:
        """The same request to another URL (a redirect's target)."""
        return self._replace(url=url)


@attrs.frozen
class Query:
    """What a caller asks of a report's data; ``check=None`` follows the session's setting."""

    report: Report | str
    format: Format = attrs.field(default=Format.JSON, converter=parse_format)
    filter: str | FilterExpr | None = None
    timezone: str | dt.tzinfo | None = None
    check: bool | None = None


class Requests:
    """The one request builder of a session."""

    __slots__ = ("_json_page", "base_url", "format_via")

    def __init__(self, base_url: str, *, format_via: Literal["header", "query"]) -> None:
        self.base_url = base_url
        self.format_via = format_via
        self._json_page = (("Accept", Format.JSON.media_type),)

    def service_document(self) -> Request:
        """The list of saved reports."""
        return Request(self.base_url, "service document", "service document")

    def filter_metadata(self, report_url: str) -> Request:
        """A report's ``$metadata``: its filter properties."""
        url = f"{self.base_url}/{report_url}/$metadata"
        return Request(url, "filter metadata", "filter metadata")

    def service_metadata(self) -> Request:
        """The root ``$metadata``: every report's columns."""
        return Request(f"{self.base_url}/$metadata", "service metadata", "service metadata")

    def data(
        self,
        report_url: str,
        *,
        fmt: Format,
        filter_text: str | None = None,
        timezone: str | None = None,
        purpose: Purpose = "download",
    ) -> Request:
        """A report's data in ``fmt``: the first page, a download, an export or a submission."""
        params: list[tuple[str, str]] = []
        if filter_text:
            params.append(("$filter", filter_text))
        if timezone is not None:
            params.append(("timezone", timezone))
        headers: tuple[tuple[str, str], ...] = ()
        if self.format_via == "query" and fmt is not Format.JSON:
            params.append(("$format", fmt.value))
        else:
            headers = (("Accept", fmt.media_type),)
        if purpose == "submit":
            headers += (("Prefer", "respond-async"),)
        query = build_query(params)
        url = f"{self.base_url}/{report_url}" + (f"?{query}" if query else "")
        what = {
            "report page": "report page",
            "submit": "export submission",
            "export": f"{fmt.value} export",
        }.get(purpose, f"{fmt.value} download")
        # Not idempotent: a retry after the server may have accepted it would start a 2nd job.
        return Request(url, purpose, what, headers, idempotent=purpose != "submit")

    def page(self, url: str) -> Request:
        """A page of JSON rows at ``url`` (the report URL or a next link, verbatim)."""
        # tuple.__new__: the named tuple without its Python-level __new__ (one per page).
        return _tuple(Request, (url, "report page", "report page", self._json_page, "GET", True))

    def poll(self, status_url: str, fmt: Format) -> Request:
        """A status poll of an export job (its 200 carries the result)."""
        return Request(status_url, "status poll", "status poll", (("Accept", fmt.media_type),))

    def result(self, status_url: str, fmt: Format) -> Request:
        """The result of a finished job, again (the status URL serves it for its hour)."""
        return Request(status_url, "export result", "export result", (("Accept", fmt.media_type),))

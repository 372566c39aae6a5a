"""The sans-I/O core: what responses mean, and where requests may go.

Nothing here performs I/O. The session asks these functions what a status means, how to read
a service document or a page, whether a link may be followed with credentials, and which report
a caller meant; they answer with values or raise errors from the one tree.
"""

from __future__ import annotations

import functools
import html
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from yarl import URL

from . import _convert
from ._errors import (
    ApiError,
    AuthenticationError,
    ConfigurationError,
    NotFound,
    RateLimited,
    UnexpectedResponse,
    UnsafeLink,
)
from ._links import canonical_host, check_link
from ._models import Page, Report

try:  # orjson is optional (the "fast" extra); it decodes pages several times faster.
    import orjson as _orjson

    #: Decode JSON bytes (orjson when installed): the decoder itself, no wrapper frame.
    loads: Callable[[bytes], Any] = _orjson.loads
    _JSON_ERRORS: tuple[type[Exception], ...] = (
        _orjson.JSONDecodeError,
        ValueError,
        RecursionError,
    )
except ImportError:  # pragma: no cover - exercised in the no-extras leg (nox -s tests_minimal)
    loads = json.loads

    # The standard decoder recurses: 100,000 nested arrays raise RecursionError.
    _JSON_ERRORS = (ValueError, RecursionError)

__all__ = [
    "check_link",
    "decode_json",
    "default_account",
    "error_for_status",
    "guid_of",
    "is_loopback",
    "parse_odata_error",
    "parse_page",
    "parse_service_document",
    "redirect_target",
    "require_same_origin",
    "resolve_report",
    "origin_of",
]

_LOOPBACK = {"localhost", "127.0.0.1", "::1", "[::1]"}
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_MAX_MESSAGE = 300


def decode_json(body: bytes, *, what: str) -> Any:
    """Decode a JSON body; malformed JSON raises :class:`UnexpectedResponse`."""
    try:
        return loads(body)
    except _JSON_ERRORS as exc:
        raise UnexpectedResponse(f"{what}: the body is not valid JSON") from exc


def parse_odata_error(body: bytes, content_type: str | None) -> tuple[str | None, str | None]:
    """Extract ``(code, message)`` from an OData JSON error body or an HTML error page."""
    ctype = (content_type or "").lower()
    text = body[:65536]
    if "json" in ctype or text.lstrip().startswith(b"{"):
        try:
            doc = loads(text)
        except _JSON_ERRORS:
            doc = None
        if isinstance(doc, dict):
            err = doc.get("error", doc)
            if isinstance(err, dict):
                code = err.get("code")
                message = err.get("message")
                if isinstance(message, dict):  # OData v3 shape {"message": {"value": ...}}
                    message = message.get("value")
                return (
                    str(code) if code not in (None, "") else None,
                    _clip(str(message)) if message not in (None, "") else None,
                )
    if "html" in ctype or text.lstrip()[:15].lower().startswith((b"<!doctype", b"<html")):
        match = _TITLE.search(text)
        if match:
            title = html.unescape(match.group(1).decode("utf-8", "replace"))
            return None, _clip(" ".join(title.split())) or None
        return None, None
    if text.strip() and ctype.startswith("text/plain"):
        return None, _clip(text.decode("utf-8", "replace").strip())
    return None, None


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def error_for_status(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    retry_after: float | None = None,
    what: str = "request",
) -> ApiError | None:
    """Map an HTTP status to an error of the tree, or None for a success (1xx-3xx).

    401/403 -> :class:`AuthenticationError`, 404 -> :class:`NotFound`, 429 -> :class:`RateLimited`,
    any other 4xx/5xx -> :class:`ApiError`; the OData error body (or an HTML page's title) is
    parsed when present.
    """
    if status < 400:
        return None
    code, message = parse_odata_error(body, headers.get("Content-Type"))
    cls: type[ApiError]
    if status in (401, 403):
        cls = AuthenticationError
        summary = "authentication failed" if status == 401 else "permission denied"
    elif status == 404:
        cls, summary = NotFound, "not found"
    elif status == 429:
        cls, summary = RateLimited, "the company account's request limit is reached"
    else:
        cls, summary = ApiError, "the service answered with an error"
    text = f"{what}: HTTP {status}, {summary}"
    if code or message:
        text += ": " + ": ".join(p for p in (code, message) if p)
    return cls(
        text,
        status=status,
        code=code,
        error_message=message,
        retry_after=retry_after,
        headers=_safe_headers(headers),
    )


def _safe_headers(headers: Mapping[str, str]) -> dict[str, str]:
    # Response headers carry no credentials, but drop cookies to be safe in reprs and logs.
    return {k: v for k, v in headers.items() if k.lower() not in ("set-cookie", "authorization")}


def parse_service_document(body: bytes) -> list[Report]:
    """The service document's ``value`` as :class:`Report` objects.

    Raises :class:`UnexpectedResponse` for anything else than the vendor's shape.
    """
    doc = decode_json(body, what="service document")
    if not isinstance(doc, dict) or not isinstance(doc.get("value"), list):
        raise UnexpectedResponse("service document: no 'value' array")
    reports = [_convert.structure(item, Report) for item in doc["value"]]
    return [r for r in reports if r.kind in ("EntitySet", "")]


def parse_page(body: bytes) -> Page:
    """A JSON page of report rows; raises :class:`UnexpectedResponse` when malformed."""
    try:  # decode_json, inline: one frame less per page
        doc = loads(body)
    except _JSON_ERRORS as exc:
        raise UnexpectedResponse("report page: the body is not valid JSON") from exc
    return _convert.structure_page(doc)


def origin_of(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of an absolute URL; raises :class:`ConfigurationError`."""
    try:
        parts = urlsplit(url)
    except (ValueError, TypeError) as exc:  # e.g. full-width characters (NFKC check)
        raise ConfigurationError(f"not an absolute http(s) URL: {url!r}") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"not an absolute http(s) URL: {url!r}")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as exc:
        raise ConfigurationError(f"bad port in URL {url!r}") from exc
    return scheme, parts.hostname.lower(), port


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback name or address (127.0.0.0/8, ::1, localhost)."""
    return host in _LOOPBACK or host.startswith("127.")


def require_same_origin(link: str, base_url: str, *, what: str) -> str:
    """Return ``link`` unchanged if it is on the origin of ``base_url``.

    Raises :class:`UnsafeLink` otherwise (or when it is malformed in any way), so no
    credential is sent to another origin. The link is never re-encoded: it is the server's
    opaque continuation.
    """
    check_link(link, base_url, what=what)  # hook #14: the one link check (_links.py)
    return link


@functools.lru_cache(maxsize=4096)  # pure; asked once or twice per pull of the same report
def guid_of(ref: str) -> str | None:
    """The report GUID in ``ref`` (a GUID, or a URL ending in one), canonical; else None."""
    return _guid(ref.strip().rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0])


def default_account(host: str, port: int, identity: str) -> str:
    """The budget account when the caller names none: the service and the company's
    e-mail domain (users of one company usually share it), or the key's fingerprint."""
    who = identity.rsplit("@", 1)[-1].lower() if "@" in identity else identity
    return f"{canonical_host(host)}:{port}/{who}"  # hook #14: one name per host


def _guid(text: str) -> str | None:
    try:
        return str(uuid.UUID(text.strip()))
    except ValueError:
        return None


def resolve_report(ref: str, reports: Iterable[Report]) -> Report:
    """Find the report a caller meant: GUID (the ``url``), full report URL, name, or exact title.

    Raises :class:`NotFound` (status 404, no request spent) when none matches, and
    :class:`ConfigurationError` when a title is ambiguous.
    """
    reports = list(reports)
    guid = guid_of(ref)
    for report in reports:
        if guid is not None and _guid(report.url) == guid:
            return report
        if report.name == ref:
            return report
    by_title = [r for r in reports if r.title == ref]
    if len(by_title) == 1:
        return by_title[0]
    if len(by_title) > 1:
        raise ConfigurationError(f"{len(by_title)} reports are titled {ref!r}; use the GUID")
    raise NotFound(f"no report matches {ref!r}", status=404)


def redirect_target(current: str, location: str, *, what: str) -> str:
    """A redirect's ``Location`` resolved against the URL that answered it."""
    try:
        return str(URL(current, encoded=True).join(URL(location, encoded=True)))
    except (ValueError, TypeError) as exc:
        raise UnsafeLink(f"{what}: the redirect Location is malformed; not followed") from exc

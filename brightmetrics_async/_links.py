"""The one check every URL goes through before a request may carry credentials to it.

Server next links, ``Location`` headers and status URLs, the status URL of a resume token or of
a journal entry, a ``start=`` checkpoint and a caller's URL all pass :func:`check_link`. It
answers with the link unchanged (:func:`checked_url`: parsed as a :class:`yarl.URL`), or
raises :class:`UnsafeLink`: for another origin, for blanks or control characters, for user
information in the authority, for a bad port, and for anything ``urllib.parse`` or yarl
refuse to parse (e.g. the ``ValueError`` of their NFKC check on full-width characters in the
host), so no bare ``ValueError`` escapes.
The link itself is never re-encoded: it is the server's opaque continuation.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import urlsplit

from yarl import URL

from ._errors import UnsafeLink

__all__ = ["canonical_host", "check_link", "checked_url", "same_origin"]

_BLANK_OR_CONTROL = re.compile(r"[\x00-\x20\x7f]")
_PAST_AUTHORITY = ("/", "?", "#", "")
_PARSE_ERRORS = (ValueError, TypeError, UnicodeError)


def check_link(link: object, base_url: str, *, what: str) -> str:
    """``link`` unchanged (the server's opaque continuation, never re-encoded) if it may be
    sent on the origin of ``base_url``.

    Raises :class:`UnsafeLink` (before any budget is spent) when ``link`` is not a string,
    is on another origin, holds blanks or control characters, carries user information,
    has no usable port, or cannot be parsed at all.
    """
    if not isinstance(link, str):
        raise _not_a_url(link, what)
    # The fast path of every page and poll: a link on the base's origin, extended past its
    # authority, in printable ASCII but the blank (what the pattern below accepts, tested in C
    # at a fraction of its cost), has the base's scheme, host and port, checked once per
    # origin - not once per base URL: a job's status URL is the base of its polls (#11).
    origin = _origin_prefix(base_url)
    m = len(origin)
    if (
        m
        and link.startswith(origin)
        and link[m : m + 1] in _PAST_AUTHORITY
        and link.isascii()
        and link.isprintable()
        and " " not in link
    ):
        return link
    checked_url(link, base_url, what=what)
    return link


@functools.lru_cache(maxsize=64)
def _origin_prefix(url: str) -> str:
    """``scheme://authority`` of ``url`` by string tests alone, once it passed the full
    check itself ("" when there is none, or it did not: no fast path)."""
    start = url.find("://")
    if start <= 0:
        return ""
    end = len(url)
    for mark in "/?#":
        at = url.find(mark, start + 3)
        if 0 <= at < end:
            end = at
    origin = url[:end]
    try:
        checked_url(origin, origin, what="the service URL")
    except UnsafeLink:
        return ""
    return origin


def _not_a_url(link: object, what: str) -> UnsafeLink:
    return UnsafeLink(f"{what}: not a URL ({type(link).__name__}); not followed")


def checked_url(link: object, base_url: str, *, what: str) -> URL:
    """:func:`check_link`, answering with the parsed :class:`yarl.URL` (its path is
    examined by the callers that need it, e.g. the status path of a resume token)."""
    if not isinstance(link, str):
        raise _not_a_url(link, what)
    try:
        same = same_origin(link, base_url)
    except _PARSE_ERRORS as exc:
        raise UnsafeLink(f"{what}: the URL is malformed; not followed") from exc
    if not same:
        raise UnsafeLink(
            f"{what} points to another origin than the service ({_origin_text(link)}); "
            "not followed, no credentials sent"
        )
    if _BLANK_OR_CONTROL.search(link):
        raise UnsafeLink(f"{what}: the URL contains blanks or control characters; not followed")
    try:
        target = URL(link, encoded=True)
        port = target.port
        userinfo = target.user is not None or target.password is not None
    except _PARSE_ERRORS as exc:
        raise UnsafeLink(f"{what}: the URL is malformed; not followed") from exc
    if port is None:
        raise UnsafeLink(f"{what}: the URL has no usable port; not followed")
    # "@" anywhere in the authority is user information, even where yarl would not parse it.
    authority = link.split("://", 1)[-1].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if userinfo or "@" in authority:
        raise UnsafeLink(f"{what}: the URL carries user information; not followed")
    return target


def same_origin(link: str, base_url: str) -> bool:
    """Whether ``link`` has the scheme, host and port of ``base_url``.

    Raises ``ValueError`` when either cannot be parsed (callers turn it into UnsafeLink).
    """
    # Fast path (every page of a pull): a link that extends a valid base URL past its
    # authority has the base's scheme, host and port.
    n = len(base_url)
    if link.startswith(base_url) and link[n : n + 1] in _PAST_AUTHORITY and _origin(base_url):
        return True
    mine = _origin(link)
    return mine is not None and mine == _origin(base_url)


@functools.lru_cache(maxsize=64)
def _origin(url: str) -> tuple[str, str, int] | None:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), parts.port or (443 if scheme == "https" else 80)


def _origin_text(url: str) -> str:
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.hostname or '?'}" if parts.scheme else "a relative URL"
    except _PARSE_ERRORS:
        return "an unparsable URL"


def canonical_host(host: str) -> str:
    """``host`` as one name per machine, for budget account names: lower case, no trailing
    dot or IPv6 brackets, and every loopback spelling (``localhost``, ``127.0.0.1``,
    ``::1``) as ``localhost``."""
    name = host.strip().lower().rstrip(".").removeprefix("[").removesuffix("]")
    if name in ("localhost", "::1", "0:0:0:0:0:0:0:1") or name.startswith("127."):
        return "localhost"
    return name

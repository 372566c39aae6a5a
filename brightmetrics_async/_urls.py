"""Query strings the way the service and the OData grammar read them.

The OData ABNF describes the *encoded* URL: in a query a space is ``%20`` (``+`` is a
literal plus sign, not a space as in HTML forms) and a ``+`` in a value must be ``%2B``.
``urllib.parse.urlencode`` uses the form rules (space to ``+``), so it is not used.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence

from ._errors import ConfigurationError

__all__ = ["QUERY_VALUE_SAFE", "build_query", "encode_query_value"]

#: Characters left as they are in a query value, besides the unreserved ``A-Z a-z 0-9
#: - . _ ~``. All are allowed in an RFC 3986 query and inside an OData string literal
#: (``pchar-no-SQUOTE`` plus the quote itself), so ``$filter`` stays readable:
#: ``Queue_Name%20in%20('Sales',%20'O''Brien')``. Always encoded: space, ``+`` (a space
#: to form decoders), ``&`` and ``=`` (they split parameters), ``#`` (starts the
#: fragment), ``%``, ``;`` (a separator to some older frameworks), and ``/`` and ``?``,
#: which RFC 3986 allows in a query but the OData grammar does not allow inside a string
#: literal. Everything else, non-ASCII text included, is UTF-8 percent-encoded.
QUERY_VALUE_SAFE = "!$'()*,:@"

# Keys are sent as given; refuse the few characters that would change the query's shape.
_BAD_KEY_CHARS = frozenset("&=#% +?")


def encode_query_value(value: str) -> str:
    """Percent-encode one query parameter value (``%20`` for a space, never ``+``).

    Round-trips with ``urllib.parse.unquote`` (not ``unquote_plus``).

    Raises ConfigurationError when ``value`` is not a string or cannot be encoded as
    UTF-8 (it holds a lone surrogate).
    """
    if not isinstance(value, str):
        raise ConfigurationError(f"a query value must be a string, not {type(value).__name__}")
    try:
        return urllib.parse.quote(value, safe=QUERY_VALUE_SAFE, encoding="utf-8", errors="strict")
    except UnicodeEncodeError as exc:
        raise ConfigurationError(f"the query value {value!r} is not valid Unicode text") from exc


def build_query(params: Sequence[tuple[str, str]]) -> str:
    """Join ``(key, value)`` pairs into ``key=value&...`` (no leading ``?``).

    Keys are kept as they are (``$filter``, ``$format``, ``timezone``); values go through
    :func:`encode_query_value`. Order and repeated keys are kept; no pairs give ``""``.

    Raises ConfigurationError for an empty key, a key holding one of ``& = # % + ?`` or
    a space, or a value that is not a string.
    """
    parts: list[str] = []
    for key, value in params:
        if not isinstance(key, str) or not key or _BAD_KEY_CHARS.intersection(key):
            raise ConfigurationError(f"invalid query parameter name {key!r}")
        if not key.isascii() or not key.isprintable():
            raise ConfigurationError(f"invalid query parameter name {key!r}")
        parts.append(f"{key}={encode_query_value(value)}")
    return "&".join(parts)

"""The ONE private cattrs converter: wire shapes <-> models.

Wire names (``@odata.nextLink``, ``@odata.context``) are mapped here and nowhere else. Structuring
failures become :class:`UnexpectedResponse`, so callers see our error tree only.
"""

from __future__ import annotations

from typing import Any, TypeVar

import cattrs

from ._errors import UnexpectedResponse
from ._models import Page

__all__ = ["structure", "structure_page"]

T = TypeVar("T")

_converter = cattrs.Converter(forbid_extra_keys=False)
_ABSENT: Any = object()


def _structure_str(obj: Any, _: type[str]) -> str:
    # cattrs would turn None or 42 into "None" / "42"; a wire string must be a string.
    if not isinstance(obj, str):
        raise TypeError(f"expected a string, got {type(obj).__name__}")
    return obj


_converter.register_structure_hook(str, _structure_str)


def structure_page(obj: Any) -> Page:
    """A decoded JSON page as a :class:`Page` (the converter's hook calls it; a page is
    structured by this function directly, one per request, no dispatch)."""
    # Rows are passed through untouched: converting every cell of every row would cost more
    # than decoding the JSON (see benchmarks/), and vendor column values are plain JSON.
    if type(obj) is not dict:  # JSON decoders make exact dicts and lists
        raise UnexpectedResponse("a report page must be a JSON object")
    rows = obj.get("value")
    if type(rows) is not list:
        raise UnexpectedResponse("a report page has no 'value' array")
    if rows and type(rows[0]) is not dict:
        raise UnexpectedResponse("a report page's 'value' must hold objects")
    link = obj.get("@odata.nextLink", _ABSENT)
    if link is _ABSENT:
        link = obj.get("@nextLink")
    if link is not None and (type(link) is not str or not link):
        raise UnexpectedResponse("'@odata.nextLink' must be a non-empty string")
    context = obj.get("@odata.context", _ABSENT)
    if context is _ABSENT:
        context = obj.get("@context")
    return Page(rows, link, context if type(context) is str else None)


def _structure_page(obj: Any, _: type[Page]) -> Page:
    return structure_page(obj)


_converter.register_structure_hook(Page, _structure_page)


def structure(obj: Any, cls: type[T]) -> T:
    """Structure a decoded JSON value as ``cls``; raises :class:`UnexpectedResponse`."""
    try:
        return _converter.structure(obj, cls)
    except UnexpectedResponse:
        raise
    except (cattrs.BaseValidationError, KeyError, TypeError, ValueError) as exc:
        raise UnexpectedResponse(f"malformed {cls.__name__} in the response") from exc

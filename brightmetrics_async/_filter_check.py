"""Check a ``$filter`` against the vendor's rules before any request is spent.

A report's ``$metadata`` lists its filter properties and their Edm types (a
``FilterSchema``). The vendor's rules, each raised as a FilterError naming it:

* ``unknown-property``: every property must be one of the report's filters;
* ``operator-type``: ``gt``/``ge``/``lt``/``le`` only on dates and numbers, ``eq``/``in``
  only on text; ``ne`` on anything;
* ``literal-type``: the literal must fit the property's type;
* ``duplicate-property``: a property at most once, except one lower (``ge``/``gt``) plus
  one upper (``le``/``lt``) bound;
* ``agent-proxy``: at most one of ``Agent_Name`` and its proxies ``Agent_Name_by_*``.

Parsing (rules ``syntax`` and ``only-and``) is ``_filter_parse``'s job.
"""

from __future__ import annotations

import datetime as dt
import difflib
import uuid
from collections.abc import Callable, Mapping

from ._errors import ConfigurationError, FilterError
from ._filter_expr import (
    LOWER_BOUNDS,
    UPPER_BOUNDS,
    Comparison,
    FilterExpr,
    FilterValue,
    Term,
    render_literal,
)
from ._filter_parse import parse_filter

__all__ = ["ORDERED_TYPES", "TEXT_TYPES", "check_filter", "prepare_filter"]

#: Types on which gt/ge/lt/le are allowed: dates and numbers.
ORDERED_TYPES = frozenset(
    {
        "Edm.DateTimeOffset",
        "Edm.Date",
        "Edm.Double",
        "Edm.Single",
        "Edm.Decimal",
        "Edm.Byte",
        "Edm.SByte",
        "Edm.Int16",
        "Edm.Int32",
        "Edm.Int64",
    }
)
#: Types on which eq/in are allowed: text.
TEXT_TYPES = frozenset({"Edm.String"})

_AGENT = "Agent_Name"
_AGENT_PROXY_PREFIX = "Agent_Name_by_"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _int_range(low: int, high: int) -> Callable[[object], bool]:
    def fits(value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high

    return fits


_FITS: dict[str, tuple[Callable[[object], bool], str]] = {
    "Edm.String": (lambda v: isinstance(v, str), "a string in quotes"),
    "Edm.DateTimeOffset": (
        lambda v: isinstance(v, dt.datetime),
        "a date and time with an offset, e.g. 2020-06-01T00:00:00Z (for whole days,"
        " between(start_date, end_date, tz=...))",
    ),
    "Edm.Date": (
        lambda v: isinstance(v, dt.date) and not isinstance(v, dt.datetime),
        "a date, e.g. 2020-06-01",
    ),
    "Edm.Double": (_is_number, "a number"),
    "Edm.Single": (_is_number, "a number"),
    "Edm.Decimal": (_is_number, "a number"),
    "Edm.Byte": (_int_range(0, 255), "an integer from 0 to 255"),
    "Edm.SByte": (_int_range(-128, 127), "an integer from -128 to 127"),
    "Edm.Int16": (_int_range(-(2**15), 2**15 - 1), "a 16-bit integer"),
    "Edm.Int32": (_int_range(-(2**31), 2**31 - 1), "a 32-bit integer"),
    "Edm.Int64": (_int_range(-(2**63), 2**63 - 1), "a 64-bit integer"),
    "Edm.Boolean": (lambda v: isinstance(v, bool), "true or false"),
    "Edm.Guid": (lambda v: isinstance(v, uuid.UUID), "a GUID, unquoted"),
}


def _edm(type_name: str) -> str:
    return type_name if "." in type_name else f"Edm.{type_name}"


def _unknown(name: str, schema: Mapping[str, str]) -> FilterError:
    by_lower = {p.lower(): p for p in schema}
    if name.lower() in by_lower:
        hint = f"; did you mean {by_lower[name.lower()]!r}? (names are case-sensitive)"
    else:
        close = difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(repr(by_lower[c]) for c in close)}?" if close else ""
    if not schema:
        known = " (this report has no unlocked filters)"
    elif len(schema) <= 20:
        known = f" (this report's filters: {', '.join(schema)})"
    else:
        known = ""
    return FilterError(
        f"unknown filter property {name!r}{hint}{known}", rule="unknown-property", property=name
    )


def _check_term(term: Term, edm: str) -> None:
    name = term.property
    values: tuple[FilterValue, ...]
    if isinstance(term, Comparison):
        op, values = term.op.value, (term.value,)
    else:
        op, values = "in", term.values
    if op in ("gt", "ge", "lt", "le") and edm not in ORDERED_TYPES:
        raise FilterError(
            f"{op} applies only to dates and numbers; {name} is {edm} (use eq, in or ne)",
            rule="operator-type",
            property=name,
        )
    if op in ("eq", "in") and edm not in TEXT_TYPES:
        advice = "ge/le (or between) for a range, or ne" if edm in ORDERED_TYPES else "ne"
        raise FilterError(
            f"{op} applies only to text (Edm.String); {name} is {edm}: use {advice}",
            rule="operator-type",
            property=name,
        )
    fits, wanted = _FITS.get(edm, (lambda _v: True, ""))
    for value in values:
        ok = fits(value) or (value is None and op in ("eq", "ne", "in"))
        if not ok:
            raise FilterError(
                f"{name} is {edm}, so its literal must be {wanted}, not {_describe(value)}",
                rule="literal-type",
                property=name,
            )


def _describe(value: FilterValue) -> str:
    return f"{render_literal(value)} (a {type(value).__name__})"


def _check_counts(expr: FilterExpr) -> None:
    seen: dict[str, list[Term]] = {}
    for term in expr.terms:
        seen.setdefault(term.property, []).append(term)
    for name, terms in seen.items():
        if len(terms) == 1:
            continue
        ops = {t.op for t in terms if isinstance(t, Comparison)}
        if len(terms) == 2 and len(ops) == 2 and ops & LOWER_BOUNDS and ops & UPPER_BOUNDS:
            continue
        raise FilterError(
            f"{name} appears {len(terms)} times; a property may appear once, or twice as one"
            " lower (ge/gt) and one upper (le/lt) bound",
            rule="duplicate-property",
            property=name,
        )
    agents = [n for n in seen if n == _AGENT or n.startswith(_AGENT_PROXY_PREFIX)]
    if len(agents) > 1:
        raise FilterError(
            f"{' and '.join(agents)} are all Agent Name filters (by different proxies) and"
            " cannot be combined: keep one",
            rule="agent-proxy",
            property=agents[1],
        )


def check_filter(expr: FilterExpr, schema: Mapping[str, str]) -> None:
    """Check ``expr`` against a report's filter schema (property -> Edm type name).

    Raises FilterError naming the first broken rule (``unknown-property``,
    ``operator-type``, ``literal-type``, ``duplicate-property``, ``agent-proxy``) and
    the property; ConfigurationError if ``expr`` is not a FilterExpr.
    """
    if not isinstance(expr, FilterExpr):
        raise ConfigurationError(f"expected a FilterExpr, not {type(expr).__name__}")
    for term in expr.terms:
        if term.property not in schema:
            raise _unknown(term.property, schema)
        _check_term(term, _edm(schema[term.property]))
    _check_counts(expr)


def prepare_filter(
    filter: str | FilterExpr | None,  # noqa: A002 - the name of the OData option
    schema: Mapping[str, str] | None,
    *,
    check: bool = True,
) -> str | None:
    """Return the ``$filter`` text to send (plain text), or None to send no ``$filter``.

    A raw string is parsed and, with a ``schema``, checked, then returned as given (only
    surrounding spaces are stripped); a FilterExpr is checked and rendered. Blank text
    and an empty FilterExpr give None. ``check=False`` is the escape hatch: no parsing
    or checking, a raw string is returned as given.

    Raises FilterError for a broken rule, ConfigurationError for a value that is
    neither a string nor a FilterExpr.
    """
    if filter is None:
        return None
    if isinstance(filter, str):
        text = filter.strip(" \t")
        if not text:
            return None
        if not check:
            return filter
        expr = parse_filter(text)
    elif isinstance(filter, FilterExpr):
        expr, text = filter, str(filter)
        if not text:
            return None
    else:
        raise ConfigurationError(
            f"filter must be a string or a FilterExpr (bm.where(...)), not {type(filter).__name__}"
        )
    if check and schema is not None:
        check_filter(expr, schema)
    return text

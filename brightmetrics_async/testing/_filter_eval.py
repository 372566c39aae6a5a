"""The emulator's ``$filter`` checker and evaluator: what a strict Brightmetrics server accepts.

``compile_filter`` parses a decoded ``$filter`` value (see ``_filter_syntax`` for the
grammar), then applies the vendor's rules from "Filtering" in the API document:

* every property must be one of the report's filters (``UnknownProperty``);
* ``gt``/``ge``/``lt``/``le`` only on dates and numbers, ``eq``/``in`` only on text,
  ``ne`` on anything (``OperatorNotAllowed``);
* a literal must fit the property's Edm type (``TypeMismatch``);
* a property appears once, except one lower (``ge``/``gt``) plus one upper (``le``/``lt``)
  bound (``DuplicateProperty``);
* ``Agent_Name`` and every ``Agent_Name_by_*`` proxy are one filter, so at most one of them
  may appear (``AgentProxyConflict``).

Errors are reported in a fixed precedence: syntax and unsupported operators first (the
whole text is parsed before anything else), then per-term checks in the order the terms
are written (unknown property, operator, literal type), then duplicates, then proxies.

Evaluation semantics, for the emulator's rows:

* ``value_of(prop)`` gives a str, int/float, aware datetime, bool, ``None`` or a
  ``frozenset[str]`` (a multi-valued proxy such as an agent's skills);
* ``eq``/``in`` match a frozenset when any member matches, ``ne`` when none does; against
  ``null`` an empty frozenset counts as null;
* ordering comparisons with ``null`` on either side are false (OData's rule), and ``ne``
  against a non-null literal is true for a null value;
* strings compare exactly (case-sensitive); datetimes compare as instants.
"""

from __future__ import annotations

import difflib
import math
import operator
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import attrs

from ._filter_syntax import (
    INVALID_FILTER,
    UNSUPPORTED_OPERATOR,
    FilterRejected,
    Literal,
    RawTerm,
    parse_filter,
)

__all__ = [
    "AGENT_PROXY_CONFLICT",
    "DUPLICATE_PROPERTY",
    "INVALID_FILTER",
    "OPERATOR_NOT_ALLOWED",
    "TYPE_MISMATCH",
    "UNKNOWN_PROPERTY",
    "UNSUPPORTED_OPERATOR",
    "CompiledFilter",
    "FilterRejected",
    "Term",
    "compile_filter",
]

UNKNOWN_PROPERTY = "UnknownProperty"
OPERATOR_NOT_ALLOWED = "OperatorNotAllowed"
TYPE_MISMATCH = "TypeMismatch"
DUPLICATE_PROPERTY = "DuplicateProperty"
AGENT_PROXY_CONFLICT = "AgentProxyConflict"

_TEXT_TYPES = frozenset({"Edm.String"})
_DATE_TYPES = frozenset({"Edm.DateTimeOffset"})
_INT_RANGES = {
    "Edm.Byte": (0, 255),
    "Edm.SByte": (-128, 127),
    "Edm.Int16": (-(2**15), 2**15 - 1),
    "Edm.Int32": (-(2**31), 2**31 - 1),
    "Edm.Int64": (-(2**63), 2**63 - 1),
}
_FLOAT_TYPES = frozenset({"Edm.Double", "Edm.Single", "Edm.Decimal"})
_NUMBER_TYPES = _FLOAT_TYPES | frozenset(_INT_RANGES)
_BOOL_TYPES = frozenset({"Edm.Boolean"})
SUPPORTED_TYPES = _TEXT_TYPES | _DATE_TYPES | _NUMBER_TYPES | _BOOL_TYPES

_LOWER = frozenset({"ge", "gt"})
_UPPER = frozenset({"le", "lt"})
_AGENT = "Agent_Name"
_AGENT_PROXY_PREFIX = "Agent_Name_by_"


@attrs.frozen
class Term:
    """One checked term: ``prop op value`` (``in`` has several values).

    ``values`` hold Python values: str, int, float, aware datetime, bool or ``None``.
    """

    prop: str
    op: str
    values: tuple[object, ...]

    def matches(self, value: object) -> bool:
        """Whether a row whose property has ``value`` satisfies this term."""
        if self.op in ("eq", "in"):
            return _any_equal(value, self.values)
        if self.op == "ne":
            return not _any_equal(value, self.values)
        bound = self.values[0]
        if isinstance(value, frozenset):
            return any(self._ordered(member, bound) for member in value)
        return self._ordered(value, bound)

    def _ordered(self, value: object, bound: object) -> bool:
        if value is None or bound is None:
            return False
        # The compile step guarantees bound is a number or an aware datetime; a row value of
        # another type is an emulator bug and fails loudly with Python's TypeError.
        return bool(_ORDER[self.op](value, bound))


_ORDER: dict[str, Callable[[Any, Any], Any]] = {
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}


def _same(value: object, literal: object) -> bool:
    # bool is an int in Python: keep true from equalling 1.
    if isinstance(value, bool) or isinstance(literal, bool):
        return type(value) is type(literal) and value == literal
    return value == literal


def _any_equal(value: object, literals: tuple[object, ...]) -> bool:
    if isinstance(value, frozenset):
        if not value:
            return None in literals
        return any(_same(member, lit) for member in value for lit in literals)
    return any(_same(value, lit) for lit in literals)


@attrs.frozen
class CompiledFilter:
    """A checked ``$filter``: the terms it ``and``-s together, ready to test rows.

    ``properties`` are the filter properties the text mentions; ``terms`` are in the
    order they were written; ``text`` is the filter as received.
    """

    text: str
    terms: tuple[Term, ...]
    properties: frozenset[str]

    def matches(self, value_of: Callable[[str], object]) -> bool:
        """Whether a row passes every term; ``value_of(prop)`` returns the row's value."""
        return all(term.matches(value_of(term.prop)) for term in self.terms)

    def bounds(self, prop: str) -> tuple[datetime | None, datetime | None]:
        """The (lower, upper) datetimes that ``ge``/``gt`` and ``le``/``lt`` put on ``prop``.

        Both are in UTC, ``None`` where the filter sets no bound (also for a property the
        filter does not mention). They only narrow the range the server scans: whether an
        end is inclusive is not conveyed, ``matches`` stays exact, and lower may exceed
        upper (then nothing matches).

        Raises:
            ValueError: ``prop`` is filtered with a number bound, not a date.
        """
        lower: datetime | None = None
        upper: datetime | None = None
        for term in self.terms:
            if term.prop != prop or term.op not in _LOWER | _UPPER:
                continue
            value = term.values[0]
            if not isinstance(value, datetime):
                raise ValueError(f"{prop} is bounded by a number, not a date")
            if term.op in _LOWER:
                lower = value.astimezone(UTC)
            else:
                upper = value.astimezone(UTC)
        return lower, upper


def compile_filter(text: str, properties: Mapping[str, str]) -> CompiledFilter:
    """Parse and check a decoded ``$filter`` value against a report's filter properties.

    ``properties`` maps each filter property name to its Edm type (``Edm.String``,
    ``Edm.DateTimeOffset``, ``Edm.Double``, ``Edm.Int32``, ...).

    Raises:
        FilterRejected: with code ``InvalidFilter``, ``UnsupportedOperator``,
            ``UnknownProperty``, ``OperatorNotAllowed``, ``TypeMismatch``,
            ``DuplicateProperty`` or ``AgentProxyConflict``.
        ValueError: ``properties`` names an Edm type this evaluator does not support.
    """
    for name, edm in properties.items():
        if edm not in SUPPORTED_TYPES:
            raise ValueError(f"filter property {name!r} has unsupported type {edm!r}")
    raw_terms = parse_filter(text)
    terms = tuple(_check_term(raw, properties) for raw in raw_terms)
    _check_duplicates(terms)
    _check_agent_proxies(terms)
    return CompiledFilter(text, terms, frozenset(term.prop for term in terms))


def _check_term(raw: RawTerm, properties: Mapping[str, str]) -> Term:
    edm = properties.get(raw.prop)
    if edm is None:
        hint = difflib.get_close_matches(raw.prop, list(properties), n=1)
        suffix = f"; did you mean {hint[0]!r}?" if hint else ""
        known = ", ".join(sorted(properties)) or "none"
        raise FilterRejected(
            UNKNOWN_PROPERTY,
            f"{raw.prop!r} is not a filter of this report{suffix} (filters: {known})",
        )
    if raw.op in ("gt", "ge", "lt", "le") and edm not in _DATE_TYPES | _NUMBER_TYPES:
        raise FilterRejected(
            OPERATOR_NOT_ALLOWED,
            f"{raw.op!r} applies only to dates and numbers; {raw.prop} is {edm}",
        )
    if raw.op in ("eq", "in") and edm not in _TEXT_TYPES:
        alternative = " (use ge/le for a range)" if edm not in _BOOL_TYPES else ""
        raise FilterRejected(
            OPERATOR_NOT_ALLOWED,
            f"{raw.op!r} applies only to text; {raw.prop} is {edm}{alternative}",
        )
    values = tuple(_convert(raw, lit, edm) for lit in raw.literals)
    return Term(raw.prop, raw.op, values)


def _mismatch(raw: RawTerm, lit: Literal, edm: str, why: str = "") -> FilterRejected:
    return FilterRejected(
        TYPE_MISMATCH,
        f"{lit.text} is not a valid {edm} value for {raw.prop}{why}",
    )


def _convert(raw: RawTerm, lit: Literal, edm: str) -> object:
    """The literal as a Python value of the property's type, or a TypeMismatch."""
    if lit.kind == "null":
        if raw.op in ("gt", "ge", "lt", "le"):
            raise _mismatch(raw, lit, edm, ": a bound cannot be null")
        return None
    if edm in _TEXT_TYPES:
        if lit.kind != "string":
            raise _mismatch(raw, lit, edm, ": text is quoted, e.g. 'Sales'")
        return lit.value
    if edm in _DATE_TYPES:
        if lit.kind == "date":
            raise _mismatch(raw, lit, edm, f": write a full timestamp such as {lit.text}T00:00:00Z")
        if lit.kind != "datetime":
            raise _mismatch(raw, lit, edm, ": expected e.g. 2020-06-01T00:00:00Z, unquoted")
        return lit.value
    if edm in _INT_RANGES:
        if lit.kind != "int":
            raise _mismatch(raw, lit, edm, ": expected an integer")
        low, high = _INT_RANGES[edm]
        value = lit.value
        assert isinstance(value, int)
        if not low <= value <= high:
            raise _mismatch(raw, lit, edm, ": out of range")
        return value
    if edm in _FLOAT_TYPES:
        if lit.kind not in ("int", "decimal"):
            raise _mismatch(raw, lit, edm, ": expected a number, unquoted")
        value = lit.value
        assert isinstance(value, int | float)
        if edm == "Edm.Decimal" and not math.isfinite(value):
            raise _mismatch(raw, lit, edm, ": Edm.Decimal has no NaN or INF")
        return value
    # Edm.Boolean, the only type left.
    if lit.kind != "bool":
        raise _mismatch(raw, lit, edm, ": expected true or false")
    return lit.value


def _check_duplicates(terms: tuple[Term, ...]) -> None:
    by_prop: dict[str, list[str]] = {}
    for term in terms:
        by_prop.setdefault(term.prop, []).append(term.op)
    for prop, ops in by_prop.items():
        if len(ops) == 1:
            continue
        if len(ops) == 2 and {_kind(ops[0]), _kind(ops[1])} == {"lower", "upper"}:
            continue
        raise FilterRejected(
            DUPLICATE_PROPERTY,
            f"{prop} is listed {len(ops)} times ({', '.join(ops)}); a property may appear "
            "once, or twice as one lower (ge/gt) and one upper (le/lt) bound",
        )


def _kind(op: str) -> str:
    return "lower" if op in _LOWER else "upper" if op in _UPPER else "other"


def _check_agent_proxies(terms: tuple[Term, ...]) -> None:
    proxies = sorted(
        {t.prop for t in terms if t.prop == _AGENT or t.prop.startswith(_AGENT_PROXY_PREFIX)}
    )
    if len(proxies) > 1:
        raise FilterRejected(
            AGENT_PROXY_CONFLICT,
            f"{' and '.join(proxies)} are the same Agent Name filter (by different proxies) "
            "and cannot be combined; use only one of them",
        )

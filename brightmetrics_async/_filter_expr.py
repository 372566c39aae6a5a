"""The ``$filter`` expression objects and their OData text.

The vendor accepts one shape of filter: terms ``Property op literal`` or
``Property in (literal, ...)`` joined by ``and``. So an expression is a flat, ordered
tuple of terms (:class:`FilterExpr`), built by ``_filter_build``, read back from text by
``_filter_parse`` and checked against a report's schema by ``_filter_check``. Every term
is validated when it is made, so any expression renders to valid OData.

Literals (OData URL conventions, plain text; the URL encoding happens later):

* ``str``: single-quoted, a ``'`` doubled (``O'Brien`` is ``'O''Brien'``);
* aware ``datetime``: ISO 8601, ``Z`` for UTC else ``+hh:mm``, microseconds only when
  non-zero; an offset that is not whole minutes (old LMT zones) is rendered in UTC;
* ``date``: ``YYYY-MM-DD`` (an ``Edm.Date`` literal);
* ``int`` plain, ``float`` by ``repr`` (finite only), ``bool`` ``true``/``false``,
  ``None`` ``null``, ``uuid.UUID`` bare (``Edm.Guid``).
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import uuid
from collections.abc import Iterable
from typing import NoReturn, TypeAlias

import attrs

from ._errors import ConfigurationError, FilterError
from ._names import is_simple_identifier

__all__ = [
    "Comparison",
    "FilterExpr",
    "FilterValue",
    "InList",
    "Op",
    "Term",
    "render_filter",
    "render_literal",
    "validate_value",
]

FilterValue: TypeAlias = str | int | float | bool | dt.datetime | dt.date | uuid.UUID | None


class Op(enum.StrEnum):
    """A comparison operator the vendor supports (``in`` is :class:`InList`)."""

    EQ = "eq"
    NE = "ne"
    GT = "gt"
    GE = "ge"
    LT = "lt"
    LE = "le"


#: Lower and upper bounds: the one case where a property may appear twice.
LOWER_BOUNDS = frozenset({Op.GE, Op.GT})
UPPER_BOUNDS = frozenset({Op.LE, Op.LT})


#: The largest integer a filter may hold: 38 digits, the widest decimal a SQL database holds,
#: beyond every Edm integer type (Int64 stops at 2**63 - 1).
MAX_INTEGER = 10**38 - 1


def validate_value(value: object) -> None:
    """Check that ``value`` can be a filter literal.

    Raises ConfigurationError for a naive datetime, a non-finite float, an integer beyond
    :data:`MAX_INTEGER`, a string that is not valid Unicode, or a value of another type.
    """
    # bool before int: bool is an int subclass but renders differently.
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INTEGER:
        # Like inf: no property of the service can hold it (hook #14).
        raise ConfigurationError(
            "an integer of more than 38 digits (beyond any Edm integer or decimal) "
            "cannot be sent in a filter"
        )
    if value is None or isinstance(value, bool | int | dt.date | uuid.UUID):
        if isinstance(value, dt.datetime) and value.utcoffset() is None:
            raise ConfigurationError(
                f"the datetime {value.isoformat()} is naive: give it a tzinfo, or pass"
                " tz=... to the condition (e.g. bm.between(a, b, tz='UTC'))"
            )
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigurationError(f"{value!r} cannot be sent in a filter (finite numbers only)")
        return
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ConfigurationError(f"the string {value!r} is not valid Unicode text") from exc
        return
    raise ConfigurationError(
        f"a filter value must be a str, int, float, bool, datetime, date, UUID or None,"
        f" not {type(value).__name__}"
    )


def _to_op(op: str) -> Op:
    try:
        return Op(op)
    except ValueError:
        raise FilterError(f"unknown operator {op!r}", rule="syntax") from None


def _validate_property(name: object) -> None:
    if not isinstance(name, str) or not is_simple_identifier(name):
        raise FilterError(
            f"{name!r} is not an OData property name (use odata_name() on a report label)",
            rule="syntax",
            property=name if isinstance(name, str) else None,
        )


def _render_datetime(value: dt.datetime) -> str:
    offset = value.utcoffset()
    if offset is None:  # unreachable after validation; kept for the type checker
        raise ConfigurationError(f"the datetime {value.isoformat()} is naive")
    if offset % dt.timedelta(minutes=1):
        # OData offsets are hh:mm only: move the instant to UTC instead of rounding it.
        try:
            value = value.astimezone(dt.UTC)
        except OverflowError as exc:
            raise ConfigurationError(f"the datetime {value!r} is out of range") from exc
        offset = dt.timedelta(0)
    timespec = "microseconds" if value.microsecond else "seconds"
    text = value.replace(tzinfo=None).isoformat(timespec=timespec)
    if not offset:
        return text + "Z"
    sign = "-" if offset < dt.timedelta(0) else "+"
    minutes = abs(offset) // dt.timedelta(minutes=1)
    return f"{text}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def render_literal(value: FilterValue) -> str:
    """Render one value as an OData literal (plain text, not URL-encoded).

    Raises ConfigurationError for a value a filter cannot hold (a naive datetime, a
    non-finite float, another type).
    """
    validate_value(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))  # int() so an IntEnum renders as its number
    if isinstance(value, float):
        return repr(float(value))
    if isinstance(value, str):
        return "'" + str.replace(value, "'", "''") + "'"
    if isinstance(value, dt.datetime):
        return _render_datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)  # uuid.UUID: the bare, lower-case 8-4-4-4-12 form


@attrs.frozen
class Comparison:
    """One term ``property op value``, e.g. ``Time_Call_Total gt 10``."""

    property: str = attrs.field(validator=lambda _i, _a, v: _validate_property(v))
    op: Op = attrs.field(converter=_to_op)
    value: FilterValue = attrs.field(validator=lambda _i, _a, v: validate_value(v))

    def __str__(self) -> str:
        return f"{self.property} {self.op.value} {render_literal(self.value)}"


def _to_values(values: Iterable[FilterValue]) -> tuple[FilterValue, ...]:
    if isinstance(values, str):  # a str is iterable, but surely not meant as a list
        raise ConfigurationError("an 'in' list must be a list or tuple of values, not a string")
    return tuple(values)


def _validate_values(values: tuple[FilterValue, ...]) -> None:
    if not values:
        raise ConfigurationError("an 'in' list needs at least one value")
    for value in values:
        validate_value(value)


@attrs.frozen
class InList:
    """One term ``property in (value, ...)``; the values keep their order."""

    property: str = attrs.field(validator=lambda _i, _a, v: _validate_property(v))
    values: tuple[FilterValue, ...] = attrs.field(
        converter=_to_values, validator=lambda _i, _a, v: _validate_values(v)
    )

    def __str__(self) -> str:
        return f"{self.property} in ({', '.join(render_literal(v) for v in self.values)})"


Term: TypeAlias = Comparison | InList


def _terms(value: Iterable[Term]) -> tuple[Term, ...]:
    terms = tuple(value)
    for term in terms:
        if not isinstance(term, Comparison | InList):
            raise ConfigurationError(
                f"a filter term must be a Comparison or an InList, not {term!r}"
            )
    return terms


def _refuse(what: str) -> FilterError:
    return FilterError(
        f"{what}: the service joins filter terms with 'and' only; combine filters with &",
        rule="only-and",
    )


@attrs.frozen
class FilterExpr:
    """A whole ``$filter``: its terms, joined with ``and``. ``str()`` gives the text.

    Combine filters with ``&`` (``bm.where(A=1) & bm.where(B=2)``). There is no ``|``
    or ``~``: the service has no ``or`` and no ``not``. Truth testing raises too, so that
    ``f1 and f2`` (which would silently drop ``f1``) and chained comparisons such as
    ``1 < F("X") < 2`` fail loudly. No terms means no filter at all (renders ``""``).
    """

    terms: tuple[Term, ...] = attrs.field(default=(), converter=_terms)

    def __and__(self, other: object) -> FilterExpr:
        if not isinstance(other, FilterExpr):
            return NotImplemented
        return FilterExpr(self.terms + other.terms)

    def __or__(self, other: object) -> NoReturn:
        raise _refuse("'|' (or) is not supported")

    __ror__ = __or__

    def __invert__(self) -> NoReturn:
        raise _refuse("'~' (not) is not supported")

    def __bool__(self) -> bool:
        raise _refuse("a filter has no truth value (did you write 'and' instead of '&'?)")

    def __str__(self) -> str:
        return " and ".join(str(term) for term in self.terms)


def render_filter(expr: FilterExpr) -> str:
    """Return the ``$filter`` text of ``expr`` (plain text; ``""`` for no terms).

    Raises ConfigurationError if ``expr`` is not a FilterExpr.
    """
    if not isinstance(expr, FilterExpr):
        raise ConfigurationError(f"expected a FilterExpr, not {type(expr).__name__}")
    return str(expr)

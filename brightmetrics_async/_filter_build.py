"""A small typed builder for ``$filter`` expressions.

::

    bm.where(Queue_Name="Sales")                               # Queue_Name eq 'Sales'
    bm.where(Queue_Name=["Customer Service", "Sales"])         # Queue_Name in (...)
    bm.where(Call_Date_Time=bm.between(start, end))            # ge ... and le ...
    bm.where(Agent_Name=bm.ne("Agent Spare 1"), Time_Call_Total=bm.gt(10))
    bm.where(Queue_Name="Sales") & (bm.F("Time - Call - Total") > 10)

Property names go through :func:`odata_name`, so a report label works as well as the
OData name (``bm.where(**{"Queue Name": "Sales"})``).

Time zones: an aware datetime is sent with its own offset. A naive datetime is refused
unless the condition names a zone with ``tz=`` (a tzinfo, ``"UTC"``, an IANA or a
Windows name), in which case it is read as wall time in that zone. A ``date`` is an
``Edm.Date`` literal (``2020-06-01``) unless ``tz=`` is given: then it stands for that
whole day in that zone, so ``between(d1, d2, tz=...)`` is ``ge`` d1 00:00:00 and ``le``
d2 23:59:59.999999 (the last microsecond: ``le`` with ``23:59:59`` would drop events in
the final second), ``ge``/``lt`` use the start of the day and ``le``/``gt`` its end.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import attrs

from ._errors import ConfigurationError
from ._filter_expr import Comparison, FilterExpr, FilterValue, InList, Op, Term, validate_value
from ._names import odata_name
from ._timezones import to_tzinfo

__all__ = ["Condition", "F", "between", "eq", "ge", "gt", "le", "lt", "ne", "where"]

_END_OF_DAY = dt.time(23, 59, 59, 999999)
_TZ = str | dt.tzinfo | None


def _resolve(op: Op, value: FilterValue, tz: _TZ) -> FilterValue:
    """Apply ``tz`` to a naive datetime or a date; leave everything else alone."""
    if isinstance(value, dt.datetime):
        if value.utcoffset() is None and tz is not None:
            return value.replace(tzinfo=to_tzinfo(tz))
        return value  # a naive one is refused by Comparison's validation
    if isinstance(value, dt.date) and tz is not None:
        if op in (Op.GE, Op.LT):
            moment = dt.time.min
        elif op in (Op.LE, Op.GT):
            moment = _END_OF_DAY
        else:
            raise ConfigurationError(
                f"{op.value} with a date and tz= is ambiguous (a day is a range): use between()"
            )
        return dt.datetime.combine(value, moment, tzinfo=to_tzinfo(tz))
    return value


@attrs.frozen
class Condition:
    """What a property is compared with in :func:`where`: one or two ``(op, value)``
    parts, made by :func:`eq`, :func:`ne`, :func:`gt`, :func:`ge`, :func:`lt`,
    :func:`le` or :func:`between`."""

    parts: tuple[tuple[Op, FilterValue], ...]

    def terms(self, name: str) -> tuple[Term, ...]:
        """Return this condition's terms for the property ``name``.

        Raises ConfigurationError if a value cannot be sent.
        """
        return tuple(Comparison(name, op, value) for op, value in self.parts)


def _single(op: Op, value: FilterValue, tz: _TZ) -> Condition:
    value = _resolve(op, value, tz)
    validate_value(value)  # fail where the value is written, not later in where()
    return Condition(((op, value),))


def eq(value: FilterValue, *, tz: str | dt.tzinfo | None = None) -> Condition:
    """Equal to ``value`` (``eq``; the service allows it on text only).

    Raises ConfigurationError for an unsupported value or a date with ``tz``.
    """
    return _single(Op.EQ, value, tz)


def ne(value: FilterValue, *, tz: str | dt.tzinfo | None = None) -> Condition:
    """Not equal to ``value`` (``ne``; any property type).

    Raises ConfigurationError for an unsupported value or a date with ``tz``.
    """
    return _single(Op.NE, value, tz)


def gt(value: FilterValue, *, tz: str | dt.tzinfo | None = None) -> Condition:
    """Greater than ``value`` (``gt``; dates and numbers). A date with ``tz``: after that day.

    Raises ConfigurationError for an unsupported value.
    """
    return _single(Op.GT, value, tz)


def ge(value: FilterValue, *, tz: str | dt.tzinfo | None = None) -> Condition:
    """Greater than or equal to ``value`` (``ge``). A date with ``tz``: from that day on.

    Raises ConfigurationError for an unsupported value.
    """
    return _single(Op.GE, value, tz)


def lt(value: FilterValue, *, tz: str | dt.tzinfo | None = None) -> Condition:
    """Less than ``value`` (``lt``). A date with ``tz``: before that day.

    Raises ConfigurationError for an unsupported value.
    """
    return _single(Op.LT, value, tz)


def le(value: FilterValue, *, tz: str | dt.tzinfo | None = None) -> Condition:
    """Less than or equal to ``value`` (``le``). A date with ``tz``: up to the end of that day.

    Raises ConfigurationError for an unsupported value.
    """
    return _single(Op.LE, value, tz)


def _kind(value: object) -> str:
    if isinstance(value, dt.datetime):
        return "datetime"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "number"
    raise ConfigurationError(
        f"between() takes two datetimes, two dates or two numbers, not {type(value).__name__}"
    )


def between(
    start: dt.datetime | dt.date | float,
    end: dt.datetime | dt.date | float,
    *,
    tz: str | dt.tzinfo | None = None,
) -> Condition:
    """Inclusive range: ``ge start`` and ``le end``.

    Two dates with ``tz`` cover whole days: from ``start`` 00:00 to the last microsecond
    of ``end`` in that zone. Without ``tz`` dates stay ``Edm.Date`` literals.

    Raises ConfigurationError when the two bounds are not of one kind (datetimes, dates
    or numbers), when ``start`` is after ``end``, or for a naive datetime without ``tz``.
    """
    if _kind(start) != _kind(end):
        raise ConfigurationError(
            f"between() needs bounds of one kind, not {type(start).__name__} and"
            f" {type(end).__name__}"
        )
    low = _resolve(Op.GE, start, tz)
    high = _resolve(Op.LE, end, tz)
    validate_value(low)  # refuses naive datetimes before they are compared
    validate_value(high)
    if low > high:  # type: ignore[operator]  # same kind, checked above
        raise ConfigurationError(f"between(): the start {start!r} is after the end {end!r}")
    return Condition(((Op.GE, low), (Op.LE, high)))


def _value_terms(name: str, value: object) -> tuple[Term, ...]:
    if isinstance(value, Condition):
        return value.terms(name)
    if isinstance(value, list | tuple):
        return (InList(name, value),)
    if isinstance(value, set | frozenset | dict):
        raise ConfigurationError(
            f"{name}: use a list or tuple for 'in' (a {type(value).__name__} has no order)"
        )
    return (Comparison(name, Op.EQ, value),)  # type: ignore[arg-type]  # validated there


def where(**properties: FilterValue | Sequence[FilterValue] | Condition) -> FilterExpr:
    """Build a filter: one term per keyword, joined with ``and``, in keyword order.

    A plain value means ``eq``, a list or tuple ``in (...)``, a :class:`Condition`
    (:func:`ne`, :func:`gt`, :func:`between`, ...) its own operators. No keywords give
    an empty filter, which sends no ``$filter`` at all.

    Raises ConfigurationError for a bad label, an unsupported value (including a naive
    datetime, a non-finite float, a set) or an empty list.
    """
    terms: list[Term] = []
    for label, value in properties.items():
        terms.extend(_value_terms(odata_name(label), value))
    return FilterExpr(terms)


class F:
    """A property to compare with Python operators: ``F("Time - Call - Total") > 10``.

    ``F(label)`` applies :func:`odata_name`. ``==`` with a list or tuple means ``in``,
    like :func:`where`. Each comparison gives a :class:`FilterExpr`; join them with ``&``
    and wrap them in parentheses (``&`` binds tighter than ``>``).

    Raises ConfigurationError for a label with no letter or digit.
    """

    __slots__ = ("name",)

    def __init__(self, label: str) -> None:
        self.name = odata_name(label)

    def __repr__(self) -> str:
        return f"F({self.name!r})"

    def _one(self, op: Op, value: FilterValue) -> FilterExpr:
        return FilterExpr((Comparison(self.name, op, value),))

    def __eq__(self, value: object) -> FilterExpr:  # type: ignore[override]
        return FilterExpr(_value_terms(self.name, value))

    def __ne__(self, value: object) -> FilterExpr:  # type: ignore[override]
        return self._one(Op.NE, value)  # type: ignore[arg-type]  # validated there

    def __gt__(self, value: FilterValue) -> FilterExpr:
        return self._one(Op.GT, value)

    def __ge__(self, value: FilterValue) -> FilterExpr:
        return self._one(Op.GE, value)

    def __lt__(self, value: FilterValue) -> FilterExpr:
        return self._one(Op.LT, value)

    def __le__(self, value: FilterValue) -> FilterExpr:
        return self._one(Op.LE, value)

    __hash__ = None  # type: ignore[assignment]  # == builds a filter, so no hashing

    def in_(self, values: Sequence[FilterValue]) -> FilterExpr:
        """``name in (values...)``.

        Raises ConfigurationError for an empty list or an unsupported value.
        """
        return FilterExpr((InList(self.name, values),))

    def between(
        self,
        start: dt.datetime | dt.date | float,
        end: dt.datetime | dt.date | float,
        *,
        tz: str | dt.tzinfo | None = None,
    ) -> FilterExpr:
        """``name ge start and name le end``; see the module function :func:`between`.

        Raises ConfigurationError as :func:`between` does.
        """
        return FilterExpr(between(start, end, tz=tz).terms(self.name))

"""Read a raw ``$filter`` string into the builder's expression objects.

The accepted language is what the vendor documents, a subset of OData's
``boolCommonExpr`` (plain, not URL-encoded, text)::

    filter  = [ WS ] [ and-expr ] [ WS ]
    and-expr = primary *( RWS "and" RWS primary )
    primary = "(" [ WS ] and-expr [ WS ] ")"                  ; redundant parentheses
            / property RWS op RWS literal                      ; op: eq ne gt ge lt le
            / property RWS "in" RWS "(" [ WS ] literal *( [ WS ] "," [ WS ] literal ) [ WS ] ")"
    literal = string / datetimeoffset / date / guid / number / "null" / "true" / "false"

``WS``/``RWS`` are spaces and tabs. Keywords are lower case (OData 4.0). Two rules
name the failures:

* ``"only-and"``: valid OData the service does not take: ``or``, ``not``, function
  calls (``contains(...)``), arithmetic and ``has``, paths and lambdas, a property on the
  right-hand side;
* ``"syntax"``: anything else that is not in the language above, including ``INF``/``NaN``
  and numbers or dates Python cannot represent.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import uuid

from ._errors import FilterError
from ._filter_expr import Comparison, FilterExpr, FilterValue, InList, Op, Term
from ._names import MAX_IDENTIFIER_LENGTH, is_identifier_char, is_identifier_start

__all__ = ["parse_filter"]

_MAX_DEPTH = 32  # nesting of parentheses; deeper is surely not a hand-written filter
_WS = " \t"
_UNSUPPORTED_OPS = frozenset({"has", "add", "sub", "mul", "div", "divby", "mod"})
_OPS = {op.value: op for op in Op}

_GUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,12}))?)?"
    r"(?:(Z)|([+-])(\d{2}):(\d{2}))"
)
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?([eE][+-]?\d+)?")
_SPECIAL_NUMBER = re.compile(r"(?:-?INF|NaN)(?!\w)")


class _Parser:
    """A recursive-descent parser over ``text``; ``pos`` is the next unread index."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    # -- helpers ---------------------------------------------------------------------

    def error(
        self, message: str, *, rule: str = "syntax", at: int | None = None, prop: str | None = None
    ) -> FilterError:
        at = self.pos if at is None else at
        start = max(0, at - 30)
        # Control characters would break the two-line picture; they keep one column.
        snippet = "".join(c if c.isprintable() else "?" for c in self.text[start : at + 30])
        caret = " " * (at - start + 4) + "^"
        return FilterError(
            f"{message} (at position {at})\n    {snippet}\n{caret}", rule=rule, property=prop
        )

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_ws(self) -> int:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in _WS:
            self.pos += 1
        return self.pos - start

    def require_ws(self, after: str) -> None:
        if not self.skip_ws():
            found = repr(self.peek()) if self.peek() else "the end"
            raise self.error(f"expected a space after {after}, found {found}")

    def word(self) -> str:
        """Read an identifier-like word (possibly empty)."""
        start = self.pos
        if self.pos < len(self.text) and is_identifier_start(self.text[self.pos]):
            self.pos += 1
            while self.pos < len(self.text) and is_identifier_char(self.text[self.pos]):
                self.pos += 1
        return self.text[start : self.pos]

    # -- grammar ---------------------------------------------------------------------

    def parse(self) -> FilterExpr:
        self.skip_ws()
        if self.at_end():
            return FilterExpr(())
        terms = self.and_expr(0)
        self.skip_ws()
        if not self.at_end():
            if self.peek() == ")":
                raise self.error("unbalanced ')'")
            raise self.error(f"expected 'and' or the end, found {self.peek()!r}")
        return FilterExpr(terms)

    def and_expr(self, depth: int) -> list[Term]:
        terms = self.primary(depth)
        while True:
            save = self.pos
            spaces = self.skip_ws()
            word_at = self.pos
            word = self.word()
            if spaces and word == "and":
                self.require_ws("'and'")
                terms.extend(self.primary(depth))
            elif spaces and word == "or":
                raise self.error("'or' is not supported", rule="only-and", at=word_at)
            elif spaces and word.lower() in ("and", "or"):
                raise self.error(f"keywords are lower case: write {word.lower()!r}", at=word_at)
            else:
                self.pos = save
                return terms

    def primary(self, depth: int) -> list[Term]:
        if self.peek() == "(":
            if depth >= _MAX_DEPTH:
                raise self.error("parentheses nested too deeply")
            self.pos += 1
            self.skip_ws()
            terms = self.and_expr(depth + 1)
            self.skip_ws()
            if self.peek() != ")":
                raise self.error("expected ')'")
            self.pos += 1
            return terms
        start = self.pos
        name = self.word()
        if not name:
            if self.literal_or_none() is not None:
                raise self.error(
                    "a term must start with a property name", rule="only-and", at=start
                )
            found = repr(self.peek()) if self.peek() else "the end"
            raise self.error(f"expected a property name, found {found}", at=start)
        nxt = self.peek()
        if name == "not" and nxt in (" ", "\t", "("):
            raise self.error("'not' is not supported", rule="only-and", at=start)
        if nxt == "(":
            raise self.error(
                f"functions such as {name}() are not supported", rule="only-and", at=start
            )
        if nxt == "/":
            raise self.error(
                "paths and lambda operators are not supported", rule="only-and", at=start
            )
        if len(name) > MAX_IDENTIFIER_LENGTH:
            raise self.error("property name longer than 128 characters", at=start)
        self.require_ws(f"the property {name!r}")
        op_at = self.pos
        op = self.word()
        if op == "in":
            self.require_ws("'in'")
            return [InList(name, self.literal_list(name))]
        if op in _OPS:
            self.require_ws(repr(op))
            return [Comparison(name, _OPS[op], self.literal(name))]
        if op in _UNSUPPORTED_OPS:
            raise self.error(f"'{op}' is not supported", rule="only-and", at=op_at, prop=name)
        if op.lower() in _OPS or op.lower() == "in":
            raise self.error(f"operators are lower case: write {op.lower()!r}", at=op_at, prop=name)
        found = repr(op or self.peek()) if (op or self.peek()) else "the end"
        raise self.error(
            f"expected an operator (eq, ne, gt, ge, lt, le, in) after {name!r}, found {found}",
            at=op_at,
            prop=name,
        )

    def literal_list(self, name: str) -> tuple[FilterValue, ...]:
        if self.peek() != "(":
            raise self.error("expected '(' to open the 'in' list", prop=name)
        self.pos += 1
        self.skip_ws()
        if self.peek() == ")":
            raise self.error("an 'in' list needs at least one value", prop=name)
        values = [self.literal(name)]
        while True:
            self.skip_ws()
            if self.peek() == ")":
                self.pos += 1
                return tuple(values)
            if self.peek() != ",":
                raise self.error("expected ',' or ')' in the 'in' list", prop=name)
            self.pos += 1
            self.skip_ws()
            values.append(self.literal(name))

    def literal(self, name: str) -> FilterValue:
        start = self.pos
        found, value = self.literal_or_none() or (False, None)
        if not found:
            word = self.word()
            if word:
                raise self.error(
                    f"the right-hand side must be a literal, not the name {word!r}",
                    rule="only-and",
                    at=start,
                    prop=name,
                )
            raise self.error("expected a literal value", at=start, prop=name)
        nxt = self.peek()
        if nxt and nxt not in _WS and nxt not in "),":
            raise self.error(f"unexpected {nxt!r} after a literal", prop=name)
        return value

    def literal_or_none(self) -> tuple[bool, FilterValue] | None:
        """Read a literal at ``pos``: ``(True, value)``, or None (``pos`` unchanged)."""
        text, pos = self.text, self.pos
        if text.startswith("'", pos):
            return True, self.string()
        if _SPECIAL_NUMBER.match(text, pos):
            raise self.error("INF and NaN are not supported")
        if (
            _DATE.match(text, pos)
            and text.startswith("T", pos + 10)
            and not _DATETIME.match(text, pos)
        ):
            raise self.error(
                "a date and time needs hh:mm[:ss[.fff]] and an offset, Z or +hh:mm"
                " (e.g. 2020-06-01T00:00:00Z)"
            )
        for pattern, convert in (
            (_GUID, lambda m: uuid.UUID(m.group(0))),
            (_DATETIME, _datetime),
            (_DATE, lambda m: dt.date(*map(int, m.groups()))),
            (_NUMBER, _number),
        ):
            match = pattern.match(text, pos)
            if match and not is_identifier_char(text[match.end() : match.end() + 1] or " "):
                try:
                    value = convert(match)
                except (ValueError, OverflowError) as exc:
                    raise self.error(f"invalid literal {match.group(0)!r}: {exc}") from None
                self.pos = match.end()
                return True, value
        save = self.pos
        word = self.word()
        if word in ("null", "true", "false"):
            return True, {"null": None, "true": True, "false": False}[word]
        self.pos = save
        return None

    def string(self) -> str:
        start = self.pos
        self.pos += 1
        chunks: list[str] = []
        while True:
            end = self.text.find("'", self.pos)
            if end < 0:
                raise self.error("unterminated string literal", at=start)
            chunks.append(self.text[self.pos : end])
            if self.text.startswith("''", end):
                chunks.append("'")
                self.pos = end + 2
            else:
                self.pos = end + 1
                return "".join(chunks)


def _number(match: re.Match[str]) -> int | float:
    text = match.group(0)
    if match.group(1) is None and match.group(2) is None:
        return int(text)
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("out of range")
    return value


def _datetime(match: re.Match[str]) -> dt.datetime:
    year, month, day, hour, minute, second, fraction, zulu, sign, oh, om = match.groups()
    if zulu:
        tz = dt.UTC
    else:
        offset = dt.timedelta(hours=int(oh), minutes=int(om))
        if int(oh) > 23 or int(om) > 59:
            raise ValueError("offset out of range")
        tz = dt.timezone(-offset if sign == "-" else offset)
    # OData allows 12 fractional digits; Python keeps 6 (the vendor itself sends 7).
    micro = int((fraction or "").ljust(6, "0")[:6])
    return dt.datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro, tz
    )


def parse_filter(text: str) -> FilterExpr:
    """Parse a raw ``$filter`` string (plain text, not URL-encoded) into a FilterExpr.

    Redundant parentheses are dropped; the terms keep their order. Blank text gives an
    empty FilterExpr (no filter).

    Raises FilterError with ``rule="syntax"`` for malformed text and ``rule="only-and"``
    for OData the service does not support (``or``, ``not``, functions, ...).
    """
    if not isinstance(text, str):
        raise FilterError(f"a $filter must be a string, not {type(text).__name__}", rule="syntax")
    try:
        return _Parser(text).parse()
    except FilterError as exc:
        if exc.rule == "syntax" and ("%20" in text or "%27" in text):
            # Probably copied from a URL. Not decoded here: that would double-decode a
            # literal '%' in a string.
            hint = "this $filter looks URL-encoded; pass the plain text (urllib.parse.unquote): "
            raise FilterError(hint + exc.message, rule="syntax", property=exc.property) from exc
        raise

"""Tokenizer and recursive-descent parser for the emulator's ``$filter`` subset.

This is the server side of the vendor's filter language, written from the vendor document
and the OASIS OData ABNF, never from the client's filter builder, so the two can check
each other.

Grammar (an OData 4.01 subset; RWS is one or more spaces or tabs, BWS zero or more)::

    filter   = chain                      ; no leading or trailing whitespace
    chain    = primary *( RWS "and" RWS primary )
    primary  = "(" BWS chain BWS ")" / term
    term     = property RWS op RWS literal
             / property RWS "in" RWS "(" BWS literal *( BWS "," BWS literal ) BWS ")"
    op       = "eq" / "ne" / "gt" / "ge" / "lt" / "le"
    literal  = string / number / dateTimeOffset / date / "null" / "true" / "false"
             / "NaN" / "INF" / "-INF"

The input is the *decoded* query value: the emulator has already turned ``%20`` into a
space, so no percent-decoding happens here (a ``+`` is a plus, never a space).

Syntax errors raise :class:`FilterRejected` with code ``InvalidFilter``; ``or``, ``not``,
arithmetic and functions raise ``UnsupportedOperator``. Meaning (properties, types,
vendor rules) is checked afterwards by ``_filter_eval``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import attrs

__all__ = [
    "INVALID_FILTER",
    "UNSUPPORTED_OPERATOR",
    "FilterRejected",
    "Literal",
    "RawTerm",
    "parse_filter",
]

INVALID_FILTER = "InvalidFilter"
UNSUPPORTED_OPERATOR = "UnsupportedOperator"

COMPARISON_OPERATORS = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})
# OData operators a strict server knows but the vendor does not support: naming them
# gives the caller a better message than "syntax error".
_UNSUPPORTED_INFIX = frozenset({"has", "add", "sub", "mul", "div", "divby", "mod"})
_MAX_IDENTIFIER = 128  # odataIdentifier = leading char + *127 chars


class FilterRejected(Exception):
    """A ``$filter`` the server refuses; the emulator answers 400 with ``code`` and ``message``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@attrs.frozen
class Literal:
    """One literal as written.

    ``kind`` is one of ``string``, ``int``, ``decimal``, ``datetime``, ``date``, ``null``,
    ``bool``; ``value`` is the Python value (``decimal`` keeps a float, ``date`` a
    ``datetime.date``); ``text`` is the source text, for messages.
    """

    kind: str
    value: object
    text: str


@attrs.frozen
class RawTerm:
    """``prop op literal`` (or ``prop in (literals)``) before any semantic check."""

    prop: str
    op: str
    literals: tuple[Literal, ...]
    position: int


# --- tokenizer ---------------------------------------------------------------------------

_WS = re.compile(r"[ \t]+")
_IDENT = re.compile(r"[^\W\d]\w*")
_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?"
    r"([Zz]|[+-]\d{2}:\d{2})?"
)
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?([eE][+-]?\d+)?")
# A literal must end at whitespace, a comma, a parenthesis or the end of the text.
_LITERAL_END = re.compile(r"[ \t,()]|$")


@attrs.frozen
class _Token:
    kind: str  # ws ( ) , ident literal
    text: str
    position: int
    literal: Literal | None = None


def _reject(message: str, position: int) -> FilterRejected:
    return FilterRejected(INVALID_FILTER, f"{message} (at position {position})")


def _datetime_literal(match: re.Match[str], position: int) -> Literal:
    text = match.group(0)
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    if zone is None:
        raise _reject(
            f"DateTimeOffset literal {text!r} needs a time zone: append 'Z' or '+hh:mm'",
            position,
        )
    if second == "60":
        raise _reject(f"leap second in {text!r} is not supported", position)
    if fraction is not None and len(fraction) > 12:
        raise _reject(f"more than 12 fractional-second digits in {text!r}", position)
    if zone in ("Z", "z"):
        tz = UTC
    else:
        off_h, off_m = int(zone[1:3]), int(zone[4:6])
        if off_h > 23 or off_m > 59:
            raise _reject(f"invalid time zone offset in {text!r}", position)
        sign = -1 if zone[0] == "-" else 1
        tz = timezone(sign * timedelta(hours=off_h, minutes=off_m))
    # Fractions beyond microseconds are truncated: Python datetimes stop there.
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        value = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro, tz
        )
        value.astimezone(UTC)  # the server works in UTC: it must be representable there
    except (ValueError, OverflowError) as exc:
        raise _reject(f"invalid date/time {text!r}: {exc}", position) from None
    return Literal("datetime", value, text)


def _date_literal(match: re.Match[str], position: int) -> Literal:
    text = match.group(0)
    try:
        value = datetime(int(match[1]), int(match[2]), int(match[3])).date()
    except ValueError as exc:
        raise _reject(f"invalid date {text!r}: {exc}", position) from None
    return Literal("date", value, text)


def _number_literal(match: re.Match[str]) -> Literal:
    text = match.group(0)
    if match.group(1) is None and match.group(2) is None:
        return Literal("int", int(text), text)
    return Literal("decimal", float(text), text)


def _string_literal(text: str, start: int) -> tuple[Literal, int]:
    parts: list[str] = []
    i = start + 1
    while True:
        end = text.find("'", i)
        if end < 0:
            raise _reject("unterminated string literal", start)
        parts.append(text[i:end])
        if text.startswith("''", end):  # SQUOTE-in-string: '' is one quote
            parts.append("'")
            i = end + 2
            continue
        return Literal("string", "".join(parts), text[start : end + 1]), end + 1


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        ch = text[pos]
        literal: Literal | None = None
        if ch in "(),":
            tokens.append(_Token(ch, ch, pos))
            pos += 1
            continue
        if m := _WS.match(text, pos):
            tokens.append(_Token("ws", m.group(0), pos))
            pos = m.end()
            continue
        if ch == "'":
            literal, end = _string_literal(text, pos)
        elif ch == "-" and text.startswith("-INF", pos):
            literal, end = Literal("decimal", float("-inf"), "-INF"), pos + 4
        elif m := _DATETIME.match(text, pos):
            literal, end = _datetime_literal(m, pos), m.end()
        elif m := _DATE.match(text, pos):
            literal, end = _date_literal(m, pos), m.end()
        elif m := _NUMBER.match(text, pos):
            literal, end = _number_literal(m), m.end()
        elif m := _IDENT.match(text, pos):
            if len(m.group(0)) > _MAX_IDENTIFIER:
                raise _reject(f"identifier longer than {_MAX_IDENTIFIER} characters", pos)
            tokens.append(_Token("ident", m.group(0), pos))
            pos = m.end()
            continue
        elif ch == '"':
            raise _reject("string literals are written in single quotes, not double", pos)
        else:
            raise _reject(f"unexpected character {ch!r}", pos)
        if not _LITERAL_END.match(text, end):
            raise _reject(f"malformed literal starting {text[pos : end + 1]!r}", pos)
        tokens.append(_Token("literal", literal.text, pos, literal))
        pos = end
    return tokens


# --- parser ------------------------------------------------------------------------------

_KEYWORD_LITERALS: dict[str, object] = {
    "null": None,
    "true": True,
    "false": False,
    "NaN": float("nan"),
    "INF": float("inf"),
}


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    def peek(self, ahead: int = 0) -> _Token | None:
        j = self.i + ahead
        return self.tokens[j] if j < len(self.tokens) else None

    def at(self, kind: str, ahead: int = 0) -> bool:
        tok = self.peek(ahead)
        return tok is not None and tok.kind == kind

    def where(self) -> int:
        tok = self.peek()
        return tok.position if tok is not None else len(self.text)

    def describe(self) -> str:
        tok = self.peek()
        return "end of filter" if tok is None else repr(tok.text)

    def expect(self, kind: str, what: str) -> _Token:
        tok = self.peek()
        if tok is None or tok.kind != kind:
            raise _reject(f"expected {what}, found {self.describe()}", self.where())
        self.i += 1
        return tok

    def skip_ws(self) -> None:
        if self.at("ws"):
            self.i += 1

    def keyword_after_ws(self) -> str | None:
        """The identifier after the next whitespace token, if that is what comes next."""
        tok = self.peek(1)
        if self.at("ws") and tok is not None and tok.kind == "ident":
            return tok.text
        return None

    def parse(self) -> tuple[RawTerm, ...]:
        if not self.tokens:
            raise _reject("empty $filter", 0)
        if self.at("ws"):
            raise _reject("unexpected whitespace at the start", 0)
        terms = self.chain()
        if self.peek() is not None:
            if self.at("ws"):
                if self.peek(1) is None:
                    raise _reject("unexpected whitespace at the end", self.where())
                self.i += 1
            raise _reject(f"expected 'and' or end of filter, found {self.describe()}", self.where())
        return terms

    def chain(self) -> tuple[RawTerm, ...]:
        terms = list(self.primary())
        while True:
            word = self.keyword_after_ws()
            if word == "or":
                raise FilterRejected(
                    UNSUPPORTED_OPERATOR, "'or' is not supported; terms combine only with 'and'"
                )
            if word != "and":
                return tuple(terms)
            self.i += 2
            self.expect("ws", "whitespace after 'and'")
            terms.extend(self.primary())

    def primary(self) -> tuple[RawTerm, ...]:
        if self.at("("):
            self.i += 1
            self.skip_ws()
            terms = self.chain()
            self.skip_ws()
            self.expect(")", "')'")
            return terms
        return (self.term(),)

    def term(self) -> RawTerm:
        tok = self.peek()
        if tok is None or tok.kind != "ident":
            raise _reject(f"expected a property name, found {self.describe()}", self.where())
        if self.at("(", 1):
            raise FilterRejected(
                UNSUPPORTED_OPERATOR, f"function {tok.text}() is not supported in $filter"
            )
        if tok.text == "not" and self.at("ws", 1):
            raise FilterRejected(UNSUPPORTED_OPERATOR, "'not' is not supported")
        self.i += 1
        self.expect("ws", f"whitespace and an operator after {tok.text!r}")
        op_tok = self.expect("ident", f"an operator after {tok.text!r}")
        op = op_tok.text
        if op in _UNSUPPORTED_INFIX:
            raise FilterRejected(UNSUPPORTED_OPERATOR, f"operator {op!r} is not supported")
        if op not in COMPARISON_OPERATORS and op != "in":
            raise _reject(
                f"unknown operator {op!r}; use one of eq, ne, gt, ge, lt, le, in (lowercase)",
                op_tok.position,
            )
        self.expect("ws", f"whitespace after {op!r}")
        literals = self.literal_list() if op == "in" else (self.literal(),)
        return RawTerm(tok.text, op, literals, tok.position)

    def literal_list(self) -> tuple[Literal, ...]:
        self.expect("(", "'(' opening the list after 'in'")
        self.skip_ws()
        if self.at(")"):
            raise _reject("empty list after 'in'", self.where())
        items = [self.literal()]
        while True:
            self.skip_ws()
            if self.at(")"):
                self.i += 1
                return tuple(items)
            self.expect(",", "',' or ')' in the 'in' list")
            self.skip_ws()
            items.append(self.literal())

    def literal(self) -> Literal:
        tok = self.peek()
        if tok is not None and tok.kind == "literal" and tok.literal is not None:
            self.i += 1
            return tok.literal
        if tok is not None and tok.kind == "ident":
            if tok.text in _KEYWORD_LITERALS:
                self.i += 1
                value = _KEYWORD_LITERALS[tok.text]
                kind = "null" if value is None else "bool" if isinstance(value, bool) else "decimal"
                return Literal(kind, value, tok.text)
            raise _reject(
                f"expected a literal, found {tok.text!r}; comparing two properties "
                "is not supported",
                tok.position,
            )
        raise _reject(f"expected a literal, found {self.describe()}", self.where())


def parse_filter(text: str) -> tuple[RawTerm, ...]:
    """Parse a decoded ``$filter`` value into its ``and``-ed terms, in order.

    Raises:
        FilterRejected: ``InvalidFilter`` for a syntax error, ``UnsupportedOperator`` for
            ``or``, ``not``, arithmetic or a function call.
    """
    return _Parser(text).parse()

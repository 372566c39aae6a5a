"""Parse an HTTP ``Retry-After`` value into seconds from now, without ever raising.

RFC 9110 section 10.2.3 allows two forms: delta-seconds (``"5"``) and an HTTP-date
(IMF-fixdate, plus the obsolete RFC 850 and asctime forms a recipient must accept).
Clients in the wild crashed on the date form (Olingo's ``parseInt``) or on a stray comma
(azure-sdk-for-python #35314), so this parser is deliberately tolerant of harmless
variations and answers ``None`` for everything it cannot trust. What to do with ``None``
(usually: a documented default) is the caller's decision, not the parser's.
"""

from __future__ import annotations

import email.utils
import math
import re
from datetime import UTC

__all__ = ["MAX_RETRY_AFTER", "parse_retry_after"]

#: Longer waits than this are treated as garbage: no sane poll interval or quota pause
#: of this API lasts a week (the quota window is 24 h), and huge values overflow timers.
MAX_RETRY_AFTER = 7 * 24 * 3600.0

# ASCII digits only: str.isdigit() and float() also accept e.g. Arabic-Indic digits,
# which no server means. A fractional part is tolerated although RFC 9110 says 1*DIGIT.
_DELTA = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,9})?")
# Dates are short; refusing long input keeps the email parser away from hostile text.
_MAX_DATE_LENGTH = 64


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header value, or None.

    ``value`` is the raw header text; ``now`` is the current Unix time, used to turn an
    HTTP-date into a delay. Delta-seconds may carry surrounding blanks and a fractional
    part (``" 5.5 "``). Several values joined by commas (a repeated header) yield the
    largest, so the caller never polls earlier than any of them. A date in the past
    yields ``0.0``. Missing, malformed, negative, NaN, infinite or absurd (more than
    :data:`MAX_RETRY_AFTER`) values yield ``None``.

    Never raises.
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    seconds = _parse_delta(text)
    if seconds is None and "," in text:
        # "5, 5" (a duplicated header folded into one) is a list of deltas; an
        # HTTP-date also contains a comma, so only fall back to this when every part
        # is a delta.
        parts = [_parse_delta(part.strip()) for part in text.split(",")]
        if parts and all(part is not None for part in parts):
            seconds = max(part for part in parts if part is not None)
    if seconds is None:
        seconds = _parse_date(text, now=now)
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return None
    if seconds > MAX_RETRY_AFTER:
        return None
    return seconds


def _parse_delta(text: str) -> float | None:
    if _DELTA.fullmatch(text) is None:
        return None
    return float(text)


def _parse_date(text: str, *, now: float) -> float | None:
    if len(text) > _MAX_DATE_LENGTH or not math.isfinite(now):
        return None
    try:
        when = email.utils.parsedate_to_datetime(text)
        if when.tzinfo is None:
            # "-0000" (and asctime, which has no zone) come back naive; HTTP dates are
            # always GMT, and .timestamp() would otherwise use the local zone.
            when = when.replace(tzinfo=UTC)
        stamp = when.timestamp()
    except (TypeError, ValueError, IndexError, OverflowError, AttributeError):
        return None
    return max(0.0, stamp - now)

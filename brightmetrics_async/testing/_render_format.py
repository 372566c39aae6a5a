"""Report columns and how the emulator writes one value, raw or "formatted".

The vendor offers CSV "unformatted" (machine values) and "formatted" (what the web UI
shows). The UI's exact formats are not documented; these follow the US-English look of
the vendor's samples:

=========  ===========================  ===================================
display    unformatted                  formatted
=========  ===========================  ===================================
text       the string                   the string
datetime   ``2021-02-17T20:39:47Z``     ``2/17/2021 8:39:47 PM``
number     ``1234.5`` (``repr``)        ``1,234.5`` (at most 2 decimals)
count      ``1234``                     ``1,234``
duration   ``2.2833`` (minutes)         ``0:02:17`` (h:mm:ss, hours unbounded)
percent    ``0.123`` (a fraction)       ``12.3%``
=========  ===========================  ===================================

Units, stated once: a ``duration`` value is in **minutes** (the vendor's sample row has
``"Call_Duration": 2.2833``), a ``percent`` value is a **fraction** (0.123 is 12.3%, as in
Excel). Datetimes are aware and written in their own offset (the server has already
applied the requested timezone); ``None`` is always an empty cell. A value whose Python
type does not fit its display (a string in a number column) is written as text.
"""

from __future__ import annotations

import math
from datetime import datetime

import attrs

__all__ = [
    "DISPLAYS",
    "Column",
    "format_value",
    "latin1",
    "raw_value",
]

DISPLAYS = frozenset({"text", "datetime", "number", "count", "duration", "percent"})


def _check_display(_instance: object, _attribute: object, value: str) -> None:
    if value not in DISPLAYS:
        raise ValueError(f"display must be one of {sorted(DISPLAYS)}, not {value!r}")


@attrs.frozen
class Column:
    """One report column: its OData name, Edm type, how to display it and its human label.

    Raises:
        ValueError: ``display`` is not one of text, datetime, number, count, duration,
            percent.
    """

    name: str
    type: str
    display: str = attrs.field(default="text", validator=_check_display)
    label: str | None = None

    @property
    def heading(self) -> str:
        """The label for formatted outputs: ``label``, else the name with ``_`` as spaces."""
        return self.label if self.label is not None else self.name.replace("_", " ")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def iso_datetime(value: datetime) -> str:
    """ISO 8601, seconds or microseconds as needed, ``Z`` for UTC like OData JSON."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def raw_value(value: object) -> str:
    """A value as unformatted CSV writes it: ISO datetimes, exact numbers, ``""`` for None."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return iso_datetime(value)
    if isinstance(value, float):
        return repr(value)  # shortest text that reads back as the same float
    return str(value)


def us_datetime(value: datetime) -> str:
    """``2/17/2021 8:39:47 PM``, in the value's own offset."""
    hour = value.hour % 12 or 12
    half = "AM" if value.hour < 12 else "PM"
    return (
        f"{value.month}/{value.day}/{value.year} "
        f"{hour}:{value.minute:02d}:{value.second:02d} {half}"
    )


def grouped_number(value: float, *, decimals: int = 2) -> str:
    """Thousands separators and at most ``decimals`` decimals, trailing zeros dropped."""
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return repr(value)
    text = f"{value:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def hms(minutes: float) -> str:
    """Minutes as ``h:mm:ss`` rounded to the second, hours unbounded (``26:00:00``)."""
    if not math.isfinite(minutes):
        return repr(minutes)
    seconds = round(minutes * 60)
    sign = "-" if seconds < 0 else ""
    hours, rest = divmod(abs(seconds), 3600)
    return f"{sign}{hours}:{rest // 60:02d}:{rest % 60:02d}"


def format_value(column: Column, value: object) -> str:
    """A value as formatted CSV and the PDF show it (see the module table)."""
    if value is None:
        return ""
    display = column.display
    if isinstance(value, datetime):
        return us_datetime(value) if display in ("datetime", "text") else iso_datetime(value)
    if not _is_number(value):
        return str(value)
    assert isinstance(value, int | float)
    if display == "number":
        return grouped_number(value)
    if display == "count":
        return grouped_number(round(value)) if math.isfinite(value) else repr(value)
    if display == "duration":
        return hms(value)
    if display == "percent":
        if not math.isfinite(value):
            return repr(value)
        return f"{value * 100:,.1f}%"
    return raw_value(value)


# Typographic characters the UI emits, mapped to latin-1 look-alikes before the PDF's
# core fonts (latin-1 only) replace anything else with "?".
_LATIN1_LOOKALIKES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2026": "...",
        "\u00a0": " ",
        "\u2022": "*",
        "\u20ac": "EUR",
    }
)


def latin1(text: str) -> str:
    """``text`` restricted to latin-1 (what PDF core fonts can draw); others become ``?``."""
    return text.translate(_LATIN1_LOOKALIKES).encode("latin-1", "replace").decode("latin-1")

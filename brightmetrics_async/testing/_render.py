"""The emulator's export formats: CSV (unformatted and formatted), XLSX and PDF.

The vendor's "Retrieving report data" lists these media types; this module turns report
rows into their bytes. Value formats and units (durations in minutes, percentages as
fractions) are described in ``_render_format``.

* CSV is UTF-8 without a BOM, ``\\r\\n`` line ends, minimal quoting by the ``csv`` module.
  :func:`iter_csv` streams: it holds one chunk at a time, so a 1 GB export costs no more
  memory than a small one.
* XLSX and PDF are built whole (they are zip and page-tree containers); XLSX uses
  openpyxl's write-only mode, PDF truncates long tables (see ``_render_pdf``).
  openpyxl and fpdf2 are imported only when those formats are asked for.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from ._render_format import Column, format_value, raw_value

__all__ = [
    "Column",
    "iter_csv",
    "render_csv",
    "render_pdf",
    "render_xlsx",
]


def iter_csv(
    columns: Sequence[Column],
    rows: Iterable[Mapping[str, Any]],
    *,
    formatted: bool,
    chunk_size: int = 65536,
) -> Iterator[bytes]:
    """Stream a CSV export as UTF-8 chunks of exactly ``chunk_size`` bytes (the last shorter).

    The header is the column names (unformatted) or labels (formatted). A key missing
    from a row is an empty cell. Rows are consumed lazily, one at a time.

    Raises:
        ValueError: ``chunk_size`` is not positive.
    """
    if chunk_size <= 0:
        raise ValueError("chunk_size must be positive")
    sink = _TextSink()
    writer = csv.writer(sink, lineterminator="\r\n")
    pending = bytearray()
    writer.writerow([column.heading if formatted else column.name for column in columns])
    write = format_value if formatted else _raw
    for row in rows:
        writer.writerow([write(column, row.get(column.name)) for column in columns])
        # Encode once about a chunk of text is waiting, so encoding stays cheap and memory
        # stays within a few chunks plus one row.
        if sink.size >= chunk_size:
            pending += sink.take().encode("utf-8")
            while len(pending) >= chunk_size:
                yield bytes(pending[:chunk_size])
                del pending[:chunk_size]
    pending += sink.take().encode("utf-8")
    while pending:
        yield bytes(pending[:chunk_size])
        del pending[:chunk_size]


class _TextSink:
    """What ``csv.writer`` writes to: a list of pieces (StringIO would hold 4 bytes a char)."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0

    def write(self, text: str) -> int:
        self.parts.append(text)
        self.size += len(text)
        return len(text)

    def take(self) -> str:
        text = "".join(self.parts)
        self.parts.clear()
        self.size = 0
        return text


def _raw(_column: Column, value: object) -> str:
    return raw_value(value)


def render_csv(
    columns: Sequence[Column], rows: Iterable[Mapping[str, Any]], *, formatted: bool
) -> bytes:
    """The whole CSV export as bytes (see :func:`iter_csv`)."""
    return b"".join(iter_csv(columns, rows, formatted=formatted))


def render_xlsx(
    columns: Sequence[Column], rows: Iterable[Mapping[str, Any]], *, title: str
) -> bytes:
    """An Excel workbook: the title in row 1, bold labels in row 2, typed data below.

    Raises:
        ModuleNotFoundError: openpyxl is not installed (the ``emulator`` extra).
    """
    from ._render_xlsx import render_xlsx as _render_xlsx

    return _render_xlsx(columns, rows, title=title)


def render_pdf(
    columns: Sequence[Column],
    rows: Iterable[Mapping[str, Any]],
    *,
    title: str,
    landscape: bool,
) -> bytes:
    """An A4 PDF (portrait or landscape) with the title and a table of formatted rows.

    Raises:
        ModuleNotFoundError: fpdf2 is not installed (the ``emulator`` extra).
    """
    from ._render_pdf import render_pdf as _render_pdf

    return _render_pdf(columns, rows, title=title, landscape=landscape)

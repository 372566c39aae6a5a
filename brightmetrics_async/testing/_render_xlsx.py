"""The emulator's XLSX export, written with openpyxl's write-only mode.

Layout: row 1 holds the title (bold, larger), row 2 the bold column labels, data from
row 3, with panes frozen below the labels. Cells are typed: datetimes are real Excel
dates (naive, in the value's own offset, since Excel has no time zones), numbers are
numbers, durations are Excel durations (minutes / 1440 days, shown ``[h]:mm:ss``),
percentages are fractions shown ``0.0%``. Write-only mode streams rows to a temporary
file, so memory stays flat however many rows there are; the finished zip is returned.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from ._render_format import Column

__all__ = ["render_xlsx"]

_NUMBER_FORMATS = {
    "datetime": "m/d/yyyy h:mm:ss AM/PM",
    "number": "#,##0.00",
    "count": "#,##0",
    "duration": "[h]:mm:ss",
    "percent": "0.0%",
}
_MINUTES_PER_DAY = 1440.0
# Characters Excel forbids in sheet names, and its 31-character limit.
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_SHEET_MAX = 31
# openpyxl refuses control characters other than tab/newline/CR in cell text.
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _sheet_name(title: str) -> str:
    name = " ".join(_SHEET_FORBIDDEN.sub(" ", title).split()).strip("'")[:_SHEET_MAX].strip()
    return name or "Report"


def _cell_value(column: Column, value: object) -> tuple[object, str | None]:
    """The value openpyxl should store and the number format to give it."""
    if isinstance(value, datetime):
        # Excel dates have no zone: keep the wall-clock time of the value's own offset.
        return value.replace(tzinfo=None), _NUMBER_FORMATS["datetime"]
    if isinstance(value, int | float) and not isinstance(value, bool):
        if column.display == "duration":
            return value / _MINUTES_PER_DAY, _NUMBER_FORMATS["duration"]
        if column.display == "number" and isinstance(value, int):
            return value, _NUMBER_FORMATS["count"]
        return value, _NUMBER_FORMATS.get(column.display)
    if isinstance(value, str):
        return _ILLEGAL_XML.sub("\ufffd", value), None
    return value, None


def render_xlsx(
    columns: Sequence[Column], rows: Iterable[Mapping[str, Any]], *, title: str
) -> bytes:
    """An Excel workbook of the rows (layout in the module docstring)."""
    title = _ILLEGAL_XML.sub("\ufffd", title)
    workbook = Workbook(write_only=True)
    workbook.properties.title = title
    sheet = workbook.create_sheet(_sheet_name(title))
    for index, column in enumerate(columns, start=1):
        # Widths must be set before the first row in write-only mode.
        width = max(len(column.heading), 20 if column.display == "datetime" else 10) + 2
        sheet.column_dimensions[get_column_letter(index)].width = min(width, 60)
    sheet.freeze_panes = "A3"

    title_cell = WriteOnlyCell(sheet, value=title)
    title_cell.font = Font(bold=True, size=14)
    sheet.append([title_cell])
    headings = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=column.heading)
        cell.font = Font(bold=True)
        headings.append(cell)
    sheet.append(headings)

    for row in rows:
        cells: list[object] = []
        for column in columns:
            value, number_format = _cell_value(column, row.get(column.name))
            if number_format is None:
                cells.append(value)  # plain values need no cell object: faster
                continue
            cell = WriteOnlyCell(sheet, value=value)
            cell.number_format = number_format
            cells.append(cell)
        sheet.append(cells)

    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()

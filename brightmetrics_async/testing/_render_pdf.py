"""The emulator's PDF export, drawn with fpdf2 on A4 with the core Helvetica font.

A PDF is for reading, not for data transfer, and laying out a table costs far more than
writing CSV, so the table stops after :data:`MAX_PDF_ROWS` rows with a note saying how
many rows the report really has (the rest are counted, not drawn). Cells show formatted
values (as formatted CSV), cut to :data:`MAX_CELL_CHARS` characters. Core fonts only
know latin-1: other characters are mapped to look-alikes or ``?``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from fpdf import FPDF
from fpdf.fonts import FontFace

from ._render_format import Column, format_value, latin1

__all__ = ["MAX_CELL_CHARS", "MAX_PDF_ROWS", "render_pdf"]

MAX_PDF_ROWS = 500
MAX_CELL_CHARS = 60
_FONT = "Helvetica"
_TABLE_FONT_SIZE = 7
# A fixed creation date keeps the output reproducible for the same rows.
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _cell_text(column: Column, value: object) -> str:
    text = latin1(format_value(column, value)).replace("\r", " ").replace("\n", " ")
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 3] + "..."


def render_pdf(
    columns: Sequence[Column],
    rows: Iterable[Mapping[str, Any]],
    *,
    title: str,
    landscape: bool,
) -> bytes:
    """An A4 PDF with the title and a table of at most :data:`MAX_PDF_ROWS` rows."""
    pdf = FPDF(orientation="L" if landscape else "P", unit="mm", format="A4")
    pdf.set_creation_date(_EPOCH)
    pdf.set_title(latin1(title))
    pdf.set_margins(10, 10, 10)
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.add_page()
    pdf.set_font(_FONT, style="B", size=14)
    pdf.multi_cell(0, 8, latin1(title), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)

    iterator = iter(rows)
    shown: list[list[str]] = []
    for row in iterator:
        if len(shown) == MAX_PDF_ROWS:
            # Count the rest without drawing them (the first extra row counts too).
            total = MAX_PDF_ROWS + 1 + sum(1 for _ in iterator)
            break
        shown.append([_cell_text(column, row.get(column.name)) for column in columns])
    else:
        total = len(shown)

    if columns:
        pdf.set_font(_FONT, size=_TABLE_FONT_SIZE)
        with pdf.table(
            headings_style=FontFace(emphasis="BOLD", fill_color=(225, 225, 225)),
            line_height=pdf.font_size * 1.6,
            text_align="LEFT",
            repeat_headings=1,
        ) as table:
            heading = table.row()
            for column in columns:
                heading.cell(latin1(column.heading))
            for cells in shown:
                table_row = table.row()
                for text in cells:
                    table_row.cell(text)

    pdf.ln(3)
    pdf.set_font(_FONT, style="I", size=8)
    if total > len(shown):
        note = (
            f"Showing the first {len(shown):,} of {total:,} rows; "
            "export CSV or Excel for all of them."
        )
    else:
        note = f"{total:,} rows."
    pdf.multi_cell(0, 5, note, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())

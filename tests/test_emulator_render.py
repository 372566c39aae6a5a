"""The emulator's export formats, opened with real readers (csv, openpyxl, pypdf)."""

from __future__ import annotations

import csv
import io
import itertools
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import openpyxl
import pypdf
import pytest
from hypothesis import given
from hypothesis import strategies as st

from brightmetrics_async.testing._render import (
    Column,
    iter_csv,
    render_csv,
    render_pdf,
    render_xlsx,
)
from brightmetrics_async.testing._render_format import format_value, latin1, raw_value
from brightmetrics_async.testing._render_pdf import MAX_PDF_ROWS

EST = timezone(timedelta(hours=-5))

COLUMNS = [
    Column("Call_Date_Time", "Edm.DateTimeOffset", "datetime"),
    Column("Party_Name", "Edm.String"),
    Column("Call_Duration", "Edm.Double", "duration"),
    Column("Time_Talk_Total", "Edm.Double", "number"),
    Column("Service_Level", "Edm.Double", "percent", label="Service Level %"),
    Column("Calls", "Edm.Int32", "count"),
]

SAMPLE: dict[str, Any] = {
    "Call_Date_Time": datetime(2021, 2, 17, 20, 39, 47, tzinfo=UTC),
    "Party_Name": "Front Counter Main",
    "Call_Duration": 2.2833,
    "Time_Talk_Total": 1234.5,
    "Service_Level": 0.123,
    "Calls": 1234,
}


def parse_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


# --- Column ---------------------------------------------------------------------------------


def test_column_heading_defaults_to_name_with_spaces() -> None:
    assert Column("Time_Call_Total", "Edm.Double").heading == "Time Call Total"
    assert Column("X_Y", "Edm.String", label="Custom").heading == "Custom"


def test_column_rejects_unknown_display() -> None:
    with pytest.raises(ValueError, match="display"):
        Column("X", "Edm.String", "money")


# --- value formats -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        ('O\'Brien, "Pat"', 'O\'Brien, "Pat"'),
        (2.2833, "2.2833"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e-7, "1e-07"),
        (1234, "1234"),
        (datetime(2021, 2, 17, 20, 39, 47, tzinfo=UTC), "2021-02-17T20:39:47Z"),
        (datetime(2021, 2, 17, 20, 39, 47, 5, tzinfo=UTC), "2021-02-17T20:39:47.000005Z"),
        (datetime(2021, 2, 17, 15, 39, 47, tzinfo=EST), "2021-02-17T15:39:47-05:00"),
    ],
)
def test_raw_values(value: object, expected: str) -> None:
    assert raw_value(value) == expected


@pytest.mark.parametrize(
    ("display", "value", "expected"),
    [
        ("text", "Sales", "Sales"),
        ("text", None, ""),
        ("datetime", datetime(2021, 2, 17, 20, 39, 47, tzinfo=UTC), "2/17/2021 8:39:47 PM"),
        ("datetime", datetime(2021, 2, 17, 0, 5, 7, tzinfo=UTC), "2/17/2021 12:05:07 AM"),
        ("datetime", datetime(2021, 12, 1, 12, 0, 0, tzinfo=UTC), "12/1/2021 12:00:00 PM"),
        ("datetime", datetime(2021, 2, 17, 15, 39, 47, tzinfo=EST), "2/17/2021 3:39:47 PM"),
        ("number", 1234.5, "1,234.5"),
        ("number", 1234567.891, "1,234,567.89"),
        ("number", 1234.0, "1,234"),
        ("number", -0.001, "0"),
        ("number", 12, "12"),
        ("number", 1234567, "1,234,567"),
        ("number", -9876.25, "-9,876.25"),
        ("count", 1234, "1,234"),
        ("count", 1234.6, "1,235"),
        ("duration", 2.2833, "0:02:17"),
        ("duration", 0, "0:00:00"),
        ("duration", 60, "1:00:00"),
        ("duration", 1560.5, "26:00:30"),
        ("duration", -1.5, "-0:01:30"),
        ("percent", 0.123, "12.3%"),
        ("percent", 1, "100.0%"),
        ("percent", 12.5, "1,250.0%"),
        ("percent", None, ""),
        ("duration", "n/a", "n/a"),
    ],
)
def test_formatted_values(display: str, value: object, expected: str) -> None:
    assert format_value(Column("X", "Edm.Double", display), value) == expected


def test_latin1_replaces_what_core_fonts_cannot_draw() -> None:
    assert latin1("Zoë “quoted” \u2013 ok… ☃ 日") == 'Zoë "quoted" - ok... ? ?'


# --- CSV -----------------------------------------------------------------------------------


def test_unformatted_csv() -> None:
    rows = [SAMPLE, {"Party_Name": 'Say "hi",\nthere'}]
    data = render_csv(COLUMNS, rows, formatted=False)
    # Three records end in \r\n; a newline inside a value stays as written, quoted.
    assert data.count(b"\r\n") == 3
    assert b'"Say ""hi"",\nthere"' in data
    assert parse_csv(data) == [
        [c.name for c in COLUMNS],
        ["2021-02-17T20:39:47Z", "Front Counter Main", "2.2833", "1234.5", "0.123", "1234"],
        ["", 'Say "hi",\nthere', "", "", "", ""],
    ]


def test_formatted_csv() -> None:
    data = render_csv(COLUMNS, [SAMPLE], formatted=True)
    assert parse_csv(data) == [
        [
            "Call Date Time",
            "Party Name",
            "Call Duration",
            "Time Talk Total",
            "Service Level %",
            "Calls",
        ],
        ["2/17/2021 8:39:47 PM", "Front Counter Main", "0:02:17", "1,234.5", "12.3%", "1,234"],
    ]
    assert b'"1,234.5"' in data  # quoted because of the thousands separator


def test_csv_without_rows_is_the_header() -> None:
    assert render_csv(COLUMNS[:2], [], formatted=False) == b"Call_Date_Time,Party_Name\r\n"


@given(
    st.lists(
        st.tuples(
            st.text(st.characters(codec="utf-8")),
            st.floats(allow_nan=False) | st.integers(),
        ),
        max_size=30,
    ),
    st.integers(1, 64),
)
def test_csv_round_trips_values_whatever_the_chunking(
    pairs: list[tuple[str, float]], chunk_size: int
) -> None:
    columns = [Column("Name", "Edm.String"), Column("Value", "Edm.Double", "number")]
    rows = [{"Name": name, "Value": value} for name, value in pairs]
    chunks = list(iter_csv(columns, rows, formatted=False, chunk_size=chunk_size))
    assert all(len(chunk) == chunk_size for chunk in chunks[:-1])
    assert 0 < len(chunks[-1]) <= chunk_size
    records = parse_csv(b"".join(chunks))
    assert records[0] == ["Name", "Value"]
    assert [(n, float(v)) for n, v in records[1:]] == [(n, float(v)) for n, v in pairs]
    assert b"".join(chunks) == render_csv(columns, rows, formatted=False)


def test_iter_csv_rejects_a_non_positive_chunk_size() -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        list(iter_csv(COLUMNS, [], formatted=False, chunk_size=0))


def _generated_rows(count: int) -> Iterator[dict[str, Any]]:
    start = datetime(2021, 1, 1, tzinfo=UTC)
    for i in range(count):
        yield {
            "Call_Date_Time": start + timedelta(seconds=i),
            "Party_Name": f"Party {i} with a name long enough to matter",
            "Call_Duration": i / 7,
            "Time_Talk_Total": i * 1.5,
            "Service_Level": (i % 100) / 100,
            "Calls": i,
        }


# Tens of seconds when both cores are busy (pytest-xdist, a loaded machine): a wider limit
# than the suite's 60 s, which stays to catch a hang.
@pytest.mark.timeout(180)
# tracemalloc slows allocation several-fold: the big run is enough for one variant.
@pytest.mark.parametrize(("formatted", "count"), [(False, 200_000), (True, 40_000)])
def test_iter_csv_streams_with_flat_memory(formatted: bool, count: int) -> None:
    rows_consumed = 0

    def counted(count: int) -> Iterator[dict[str, Any]]:
        nonlocal rows_consumed
        for row in _generated_rows(count):
            rows_consumed += 1
            yield row

    chunk_size = 65536
    tracemalloc.start()
    try:
        stream = iter_csv(COLUMNS, counted(count), formatted=formatted, chunk_size=chunk_size)
        first = next(stream)
        # Lazy: the first chunk needs only about a chunk's worth of rows.
        assert len(first) == chunk_size
        assert rows_consumed < 2_000
        total = len(first)
        chunks = 1
        for chunk in stream:
            assert len(chunk) <= chunk_size
            total += len(chunk)
            chunks += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rows_consumed == count
    assert total > count * 80  # a real export, not a trivial one
    assert chunks == -(-total // chunk_size)
    # The whole file is 3-20 MB; holding it would show up here. A few chunks is the budget
    # (text pieces, their join, the encoded bytes, the pending buffer, the chunk handed out).
    assert peak < 16 * chunk_size  # measured about 6.5 chunks


# --- XLSX ----------------------------------------------------------------------------------


def _load_xlsx(data: bytes) -> Any:
    return openpyxl.load_workbook(io.BytesIO(data))


def test_xlsx_is_a_typed_workbook() -> None:
    est_row = {**SAMPLE, "Call_Date_Time": datetime(2021, 2, 17, 15, 39, 47, tzinfo=EST)}
    rows = [SAMPLE, est_row, {"Party_Name": "only a name"}]
    book = _load_xlsx(render_xlsx(COLUMNS, rows, title="Agent Detail: Feb [2021]"))
    sheet = book.active
    assert book.properties.title == "Agent Detail: Feb [2021]"
    assert sheet.title == "Agent Detail Feb 2021"
    assert sheet["A1"].value == "Agent Detail: Feb [2021]"
    assert sheet["A1"].font.b
    assert [c.value for c in sheet[2]] == [c.heading for c in COLUMNS]
    assert all(c.font.b for c in sheet[2])
    assert sheet.freeze_panes == "A3"

    first = [c.value for c in sheet[3]]
    assert first[0] == datetime(2021, 2, 17, 20, 39, 47)  # a real date, naive
    assert first[1] == "Front Counter Main"
    assert first[2] == pytest.approx(timedelta(minutes=2.2833), abs=timedelta(milliseconds=1))
    assert first[3:] == [1234.5, 0.123, 1234]
    assert sheet["E3"].number_format == "0.0%"
    assert sheet.cell(4, 1).value == datetime(2021, 2, 17, 15, 39, 47)  # its own offset
    assert [c.value for c in sheet[5]] == [None, "only a name", None, None, None, None]
    assert sheet.max_row == 5


def test_xlsx_sheet_name_is_always_valid() -> None:
    book = _load_xlsx(render_xlsx(COLUMNS[:1], [], title="?" * 3 + "x" * 40))
    assert book.active.title == "x" * 31
    assert _load_xlsx(render_xlsx(COLUMNS[:1], [], title="[]")).active.title == "Report"


def test_xlsx_survives_control_characters() -> None:
    data = render_xlsx(COLUMNS[1:2], [{"Party_Name": "bell\x07 here"}], title="t\x00")
    assert _load_xlsx(data).active["A3"].value == "bell\ufffd here"


def test_xlsx_holds_many_rows() -> None:
    data = render_xlsx(COLUMNS, _generated_rows(5_000), title="Big")
    sheet = _load_xlsx(data).active
    assert sheet.max_row == 5_002
    assert sheet.cell(5_002, 6).value == 4_999


# --- PDF -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("landscape", "wide"), [(False, False), (True, True)])
def test_pdf_orientation_and_title(landscape: bool, wide: bool) -> None:
    data = render_pdf(COLUMNS, [SAMPLE], title="Service Summary", landscape=landscape)
    assert data.startswith(b"%PDF-")
    reader = pypdf.PdfReader(io.BytesIO(data))
    box = reader.pages[0].mediabox
    assert (float(box.width) > float(box.height)) is wide
    # A4 is 595 x 842 points.
    assert sorted([round(float(box.width)), round(float(box.height))]) == [595, 842]
    text = reader.pages[0].extract_text()
    assert "Service Summary" in text
    assert "Call Date Time" in text
    assert "2/17/2021 8:39:47 PM" in text
    assert "1,234.5" in text
    assert "1 rows." in text
    assert reader.metadata is not None
    assert reader.metadata.title == "Service Summary"


def test_pdf_truncates_long_tables_and_says_so() -> None:
    total = MAX_PDF_ROWS + 250
    data = render_pdf(COLUMNS, _generated_rows(total), title="Long", landscape=False)
    reader = pypdf.PdfReader(io.BytesIO(data))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert f"Showing the first {MAX_PDF_ROWS:,} of {total:,} rows" in text
    assert f"Party {MAX_PDF_ROWS - 1} " in text
    assert f"Party {MAX_PDF_ROWS} " not in text
    assert len(reader.pages) > 1
    # The heading repeats on every page of the table.
    assert all("Party Name" in page.extract_text() for page in reader.pages[:-1])


def test_pdf_replaces_characters_core_fonts_lack() -> None:
    rows = [{"Party_Name": "Zoë ☃ “x”" + "y" * 200}]
    data = render_pdf(COLUMNS[1:2], rows, title="Title ☃", landscape=True)
    text = pypdf.PdfReader(io.BytesIO(data)).pages[0].extract_text()
    assert "Title ?" in text
    assert 'Zoë ? "x"' in text
    assert "y" * 200 not in text.replace("\n", "")  # long cells are cut


def test_pdf_is_deterministic() -> None:
    rows = list(itertools.islice(_generated_rows(20), 20))
    first = render_pdf(COLUMNS, rows, title="Same", landscape=False)
    assert first == render_pdf(COLUMNS, rows, title="Same", landscape=False)

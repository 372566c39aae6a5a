"""Every export format, by Accept and by $format, opened by a real reader; atomic exports."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import openpyxl
import pypdf
import pytest
from aiohttp import web

import brightmetrics_async as bm
from brightmetrics_async.testing import DEMO_API_KEY, Emulator, EmulatorServer, VirtualClock

from ._servers import Handler, peer

pytestmark = pytest.mark.anyio
SUMMARY = "03bd1235-eb2c-410f-a415-fefacd98df41"
CALLER_ID = "68c8e362-b2c2-6f6d-498b-af782b253239"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _session(server: EmulatorServer, clock: VirtualClock, via: str) -> bm.Session:
    return bm.Session(
        bm.ApiKey(DEMO_API_KEY),
        base_url=server.url,
        clock=clock,
        format_via=via,  # type: ignore[arg-type]
        budget=bm.MemoryBudget(clock=clock),
    )


@pytest.mark.parametrize("via", ["header", "query"])
@pytest.mark.parametrize(
    ("fmt", "accept", "query"),
    [
        ("csv", "text/csv", "csv"),
        ("csv;unformatted", "text/csv", "csv"),
        ("csv;formatted", "text/csv; formatted", "csv;formatted"),
        ("pdf", "application/pdf", "pdf"),
        ("pdf;portrait", "application/pdf", "pdf"),
        ("pdf;landscape", "application/pdf; landscape", "pdf;landscape"),
        ("xlsx", XLSX, "xlsx"),
        (bm.Format.XLSX, XLSX, "xlsx"),
    ],
)
async def test_every_format_both_ways(
    bm_server: EmulatorServer,
    bm_emulator: Emulator,
    bm_clock: VirtualClock,
    via: str,
    fmt: str | bm.Format,
    accept: str,
    query: str,
) -> None:
    async with _session(bm_server, bm_clock, via) as s:
        body = await s.download(SUMMARY, format=fmt)
    (record,) = bm_emulator.requests
    if via == "header":
        assert record.header("Accept") == accept
        assert "$format" not in record.target
    else:
        assert (
            record.query == "$format=" + query.replace(";", "%3B")
            or record.query == f"$format={query}"
        )
    kind = bm.Format(fmt) if isinstance(fmt, bm.Format) else None
    text = str(fmt if kind is None else kind.value)
    if text.startswith("csv"):
        rows = list(csv.reader(io.StringIO(body.decode("utf-8"))))
        assert len(rows) > 1
        if "formatted" in text and "unformatted" not in text:
            assert rows[0][0] == "Queue Name"
            assert any("%" in cell for cell in rows[1])
        else:
            assert rows[0][0] == "Queue_Name"
    elif text.startswith("pdf"):
        reader = pypdf.PdfReader(io.BytesIO(body))
        box = reader.pages[0].mediabox
        landscape = float(box.width) > float(box.height)
        assert landscape == text.endswith("landscape")
        assert "Service Summary" in reader.pages[0].extract_text()
    else:
        book = openpyxl.load_workbook(io.BytesIO(body), read_only=True)
        sheet = book.worksheets[0]
        values = [row for row in sheet.iter_rows(values_only=True) if any(row)]
        assert len(values) > 2
        book.close()


async def test_export_streams_atomically(session: bm.Session, tmp_path: Path) -> None:
    target = tmp_path / "deep" / "callers.csv"
    path = await session.export(CALLER_ID, target, format="csv")
    assert path == target
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert rows
    assert "CallerID" in rows[0]
    assert sorted(p.name for p in target.parent.iterdir()) == ["callers.csv"]


async def test_json_export_is_every_row(session: bm.Session, tmp_path: Path) -> None:
    import json

    path = await session.export(CALLER_ID, tmp_path / "c.json", format="json")
    rows = json.loads(path.read_text())
    assert rows == [row async for row in session.rows(CALLER_ID)]


def _bad_server(kind: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        if kind == "truncated":
            resp = web.StreamResponse(
                headers={"Content-Type": "text/csv", "Content-Length": "1000"}
            )
            await resp.prepare(request)
            await resp.write(b"a,b\r\n1,2\r\n")
            assert request.transport is not None
            request.transport.close()
            return resp
        if kind == "html-error":
            return web.Response(
                status=502,
                text="<html><head><title>502 Bad Gateway</title></head></html>",
                content_type="text/html",
            )
        if kind == "html-200":
            return web.Response(text="<html><body>Sign in</body></html>", content_type="text/html")
        return web.Response(body=b"%PDF-1.4 not a csv", content_type="application/pdf")

    return handler


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("truncated", bm.TransportError),
        ("html-error", bm.ApiError),
        ("html-200", bm.UnexpectedResponse),
        ("wrong-type", bm.UnexpectedResponse),
    ],
)
async def test_bad_exports_leave_no_file(tmp_path: Path, kind: str, error: type[Exception]) -> None:
    async with (
        peer(_bad_server(kind)) as server,
        bm.Session(
            bm.ApiKey("k"),
            base_url=f"{server.url}/OData.ashx",
            budget=bm.MemoryBudget(),
            retry=bm.RetryPolicy.never(),
        ) as s,
    ):
        with pytest.raises(error):
            await s.export(SUMMARY, tmp_path / "out.csv", format="csv", check=False)
        http = s.aiohttp_session
        assert http is not None
        assert http.connector is not None
        assert not http.connector._acquired
    assert list(tmp_path.iterdir()) == []


async def test_existing_file_survives_a_failed_export(tmp_path: Path) -> None:
    target = tmp_path / "report.csv"
    target.write_text("previous good export\n")
    async with (
        peer(_bad_server("truncated")) as server,
        bm.Session(
            bm.ApiKey("k"),
            base_url=f"{server.url}/OData.ashx",
            budget=bm.MemoryBudget(),
            retry=bm.RetryPolicy.never(),
        ) as s,
    ):
        with pytest.raises(bm.TransportError):
            await s.export(SUMMARY, target, format="csv", check=False)
    assert target.read_text() == "previous good export\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.csv"]


async def test_unknown_format_costs_nothing(session: bm.Session, bm_emulator: Emulator) -> None:
    with pytest.raises(bm.ConfigurationError, match="unknown format"):
        await session.download(SUMMARY, format="docx")
    assert bm_emulator.requests == []


@pytest.mark.parametrize(
    "value",
    [
        "json",
        "csv",
        "csv;unformatted",
        "csv;formatted",
        "pdf",
        "pdf;portrait",
        "pdf;landscape",
        "xlsx",
    ],
)
def test_format_spellings(value: str) -> None:
    fmt = bm.Format(value) if value in {f.value for f in bm.Format} else None
    from brightmetrics_async._formats import parse_format

    parsed = parse_format(value)
    assert parse_format(parsed.media_type) is parsed
    if fmt is not None:
        assert parsed is fmt

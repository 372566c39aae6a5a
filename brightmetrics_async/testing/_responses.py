"""Building responses: OData error bodies, JSON pages, and CSV/PDF/XLSX exports.

CSV is streamed chunk by chunk from ``iter_csv`` (chunked transfer encoding), so an export of
any size costs a constant amount of memory; ``min_bytes`` cycles the rows until at least that
many bytes went out, ending on a line break. PDF and XLSX are whole documents and are rendered
in a worker thread so the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from aiohttp import web

from ._query import XLSX_MEDIA_TYPE, ExportFormat
from ._render import Column, iter_csv, render_pdf, render_xlsx
from ._reports import Row

__all__ = [
    "JSON_CONTENT_TYPE",
    "ODataError",
    "error_response",
    "export_response",
    "json_response",
    "jsonable",
]

JSON_CONTENT_TYPE = "application/json; odata.metadata=minimal; odata.streaming=true"
ODATA_HEADERS = {"OData-Version": "4.0"}


class ODataError(Exception):
    """Raised by handlers to answer with an OData error body."""

    def __init__(
        self, status: int, code: str, message: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def error_response(error: ODataError) -> web.Response:
    """``{"error": {"code": ..., "message": ...}}`` with the error's status and headers."""
    body = {"error": {"code": error.code, "message": error.message}}
    return web.Response(
        status=error.status,
        body=json.dumps(body).encode(),
        headers={**ODATA_HEADERS, **error.headers, "Content-Type": "application/json"},
    )


def json_response(
    body: Mapping[str, Any], *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """An OData JSON response."""
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    all_headers = {**ODATA_HEADERS, "Content-Type": JSON_CONTENT_TYPE, **(headers or {})}
    return web.Response(status=status, body=data, headers=all_headers)


def jsonable(rows: Sequence[Row], formatter: Any) -> list[dict[str, Any]]:
    """Rows with datetimes written by ``formatter``; numbers and strings stay as they are."""
    return [
        {k: formatter(v) if isinstance(v, datetime) else v for k, v in row.items()} for row in rows
    ]


def _at_least(chunks: Iterator[bytes], min_bytes: int) -> Iterator[bytes]:
    sent = 0
    for chunk in chunks:
        if sent >= min_bytes:
            end = chunk.find(b"\n")
            if end >= 0:
                yield chunk[: end + 1]
                return
        sent += len(chunk)
        yield chunk


async def export_response(
    request: web.Request,
    fmt: ExportFormat,
    *,
    columns: Sequence[Column],
    rows: Sequence[Row],
    title: str,
    filename: str,
    min_bytes: int | None = None,
) -> web.StreamResponse:
    """A CSV (streamed), PDF or XLSX response for ``rows``."""
    disposition = {
        **ODATA_HEADERS,
        "Content-Disposition": f'attachment; filename="{filename}.{fmt.kind}"',
    }
    if fmt.kind == "csv":
        response = web.StreamResponse(
            headers={"Content-Type": "text/csv; charset=utf-8", **disposition}
        )
        await response.prepare(request)
        source = itertools.cycle(rows) if min_bytes and rows else rows
        chunks = iter_csv(columns, source, formatted=fmt.variant == "formatted")
        if min_bytes and rows:
            chunks = _at_least(chunks, min_bytes)
        for chunk in chunks:
            await response.write(chunk)
        await response.write_eof()
        return response
    loop = asyncio.get_running_loop()
    if fmt.kind == "pdf":
        render = functools.partial(
            render_pdf, columns, rows, title=title, landscape=fmt.variant == "landscape"
        )
        content_type = "application/pdf"
    else:
        render = functools.partial(render_xlsx, columns, rows, title=title)
        content_type = XLSX_MEDIA_TYPE
    body = await loop.run_in_executor(None, render)
    return web.Response(body=body, headers={"Content-Type": content_type, **disposition})

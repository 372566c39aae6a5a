"""The one JSON-array writer: every JSON result the library writes has these bytes.

``[`` then one row per line (``,\\n`` between rows), then ``]\\n``; UTF-8, not ASCII-escaped.
``Session.download``/``export``, ``Job.result``/``export`` and bulk pulls all write this way.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from typing import Any, Protocol

from ._errors import UnexpectedResponse

__all__ = ["ArrayWriter", "dump_array", "rows_of", "write_array"]


class _Out(Protocol):
    def write(self, data: bytes, /) -> Any: ...


def _dumps(row: Any) -> bytes:
    return json.dumps(row, ensure_ascii=False).encode()


class ArrayWriter:
    """Writes a JSON array of rows to ``out`` incrementally (``rows``: already written)."""

    def __init__(self, out: _Out, *, rows: int = 0) -> None:
        self._out = out
        self.rows = rows

    def start(self) -> None:
        """The opening bracket."""
        self._out.write(b"[")

    def write(self, rows: Iterable[Any]) -> None:
        """More rows."""
        out, n = self._out, self.rows
        for row in rows:
            out.write((b",\n" if n else b"") + _dumps(row))
            n += 1
        self.rows = n

    def finish(self) -> None:
        """The closing bracket and a newline."""
        self._out.write(b"]\n")


def write_array(out: _Out, rows: Iterable[Any]) -> None:
    """The whole array of ``rows`` to ``out``."""
    writer = ArrayWriter(out)
    writer.start()
    writer.write(rows)
    writer.finish()


def dump_array(rows: Iterable[Any]) -> bytes:
    """The whole array of ``rows`` as bytes."""
    buf = io.BytesIO()
    write_array(buf, rows)
    return buf.getvalue()


def rows_of(document: Any, *, what: str) -> list[Any]:
    """The rows of a decoded JSON result: its ``value`` array (or the array itself)."""
    rows = document.get("value") if isinstance(document, dict) else document
    if not isinstance(rows, list):
        raise UnexpectedResponse(f"{what}: no 'value' array")
    return rows

"""Writing rows to files: a JSON array, or typed Parquet (pyarrow), complete or absent.

Parquet columns follow the report's column types from the root ``$metadata``: text as
strings, DateTimeOffset as UTC timestamps (microseconds), Double/Single/Decimal as float64,
integers at their width, Boolean as bool; a column the metadata does not describe is kept as
text. Rows are typed with the library's row typer, so raw and typed rows both work. Files
go to a temporary name beside the target and are renamed once complete; any failure or
cancellation removes the temporary file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import brightmetrics_async as bm

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["ParquetFile", "parquet_available", "write_json_rows", "write_parquet"]


def _new_file_mode() -> int:
    # mkstemp creates 0600; a finished file gets the mode any new file would (the umask's).
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def parquet_available() -> bool:
    """True when pyarrow can be imported (the ``parquet`` extra)."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def write_json_rows(rows: Iterable[Mapping[str, Any]], path: Path) -> Path:
    """Write ``rows`` as one JSON array, atomically; return the path."""
    with bm.AtomicFile(path) as out:
        bm.write_json_array(out, rows)
        return out.commit()


def _arrow_type(edm: str) -> pa.DataType:
    import pyarrow as pa

    return {
        "Edm.String": pa.string(),
        "Edm.DateTimeOffset": pa.timestamp("us", tz="UTC"),
        "Edm.Date": pa.date32(),
        "Edm.Double": pa.float64(),
        "Edm.Single": pa.float64(),
        "Edm.Decimal": pa.float64(),
        "Edm.Byte": pa.uint8(),
        "Edm.SByte": pa.int8(),
        "Edm.Int16": pa.int16(),
        "Edm.Int32": pa.int32(),
        "Edm.Int64": pa.int64(),
        "Edm.Boolean": pa.bool_(),
    }.get(edm, pa.string())


def arrow_schema(columns: Mapping[str, str], extra: Iterable[str] = ()) -> pa.Schema:
    """The Arrow schema for a report's columns (name -> Edm type), extras as text."""
    import pyarrow as pa

    fields = [pa.field(name, _arrow_type(edm)) for name, edm in columns.items()]
    fields += [pa.field(name, pa.string()) for name in extra if name not in columns]
    return pa.schema(fields)


class ParquetFile:
    """``with ParquetFile(path, columns) as f: f.write(rows)...; f.commit()``.

    Each ``write`` adds one row group. Without ``commit`` nothing appears at ``path``.
    Raises :class:`ConfigurationError` when pyarrow is missing and
    :class:`UnexpectedResponse` when a value does not fit its column's type.
    """

    def __init__(self, path: Path, columns: Mapping[str, str]) -> None:
        if not parquet_available():
            raise bm.ConfigurationError(
                "parquet needs pyarrow: pip install 'brightmetrics-async[parquet]'"
            )
        self.path = path
        self.columns = dict(columns)
        self.rows = 0
        self._typer = bm.row_typer(self.columns)
        self._tmp: Path | None = None
        self._writer: Any = None
        self._schema: pa.Schema | None = None

    def __enter__(self) -> ParquetFile:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".part", dir=self.path.parent
        )
        os.close(fd)
        self._tmp = Path(name)
        os.chmod(self._tmp, _new_file_mode())
        return self

    def write(self, rows: list[dict[str, Any]]) -> None:
        """Append ``rows`` (raw or typed) as one row group."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        assert self._tmp is not None, "ParquetFile used outside 'with'"
        if self._schema is None:
            extra = [k for row in rows[:1] for k in row if k not in self.columns]
            self._schema = arrow_schema(self.columns, extra)
            self._writer = pq.ParquetWriter(self._tmp, self._schema)
        if not rows:
            return
        typed = [self._typer(r) for r in rows]
        try:
            table = pa.Table.from_pylist(typed, schema=self._schema)
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise bm.UnexpectedResponse(f"a value does not fit its column's type: {exc}") from None
        self._writer.write_table(table)
        self.rows += len(rows)

    def commit(self) -> Path:
        """Close the file and rename it onto ``path``."""
        assert self._tmp is not None, "ParquetFile used outside 'with'"
        if self._writer is None:
            self.write([])
        self._writer.close()
        self._writer = None
        os.replace(self._tmp, self.path)
        self._tmp = None
        return self.path

    def __exit__(self, *exc: object) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
        if self._tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                self._tmp.unlink()


def write_parquet(rows: list[dict[str, Any]], columns: Mapping[str, str], path: Path) -> Path:
    """Write ``rows`` as typed Parquet at ``path``, atomically; return the path."""
    with ParquetFile(path, columns) as out:
        out.write(rows)
        return out.commit()


async def stream_parquet(
    pages: AsyncIterator[bm.Page], columns: Mapping[str, str], path: Path
) -> tuple[Path, int]:
    """Write each page as a row group as it arrives; return the path and the row count."""
    with ParquetFile(path, columns) as out:
        async for page in pages:
            out.write(page.rows)
        return out.commit(), out.rows

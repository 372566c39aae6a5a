"""The knowledge store in a SQLite file beside the budget's: shared by the processes of a machine.

Theory of operation
-------------------
Schema (``PRAGMA user_version`` = 1, ``PRAGMA application_id`` = :data:`APPLICATION_ID`)::

    documents(scope TEXT, key TEXT, value BLOB, saved_at REAL)   primary key (scope, key)
    series(scope TEXT, key TEXT, seq INTEGER, value REAL)        primary key (scope, key, seq)

The file is only a cache, so it is never trusted: before first use it is *vetted* (it opens as
SQLite, ``quick_check`` passes, it carries this library's application id and schema version
and exactly its tables). A file that fails - unreadable, truncated, another program's, another
schema, a future version - is **set aside**: renamed to ``<name>.aside-<time>`` (with its
``-wal``/``-shm`` companions), never deleted, and a fresh file takes its place. If even that
fails, the store is disabled for the life of the object and every call is a miss: a session
works without its knowledge, it only spends more requests. The connection, WAL mode, busy
timeout and worker thread come from :class:`~.._sqlite_file.SQLiteFile`, as for the budget.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import anyio

from .._budget import default_budget_path
from .._errors import BrightmetricsError, ConfigurationError
from .._sqlite_file import SQLiteFile, transaction
from ._base import Entry, KnowledgeStore

__all__ = ["APPLICATION_ID", "SCHEMA_VERSION", "SQLiteKnowledge", "default_knowledge_path"]

log = logging.getLogger("brightmetrics_async")
_T = TypeVar("_T")

SCHEMA_VERSION = 1
#: "BMKN": marks a file as this library's knowledge store.
APPLICATION_ID = 0x424D4B4E
_TABLES = {"documents", "series"}

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS documents (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    saved_at REAL NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE TABLE IF NOT EXISTS series (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    seq INTEGER NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (scope, key, seq)
);
PRAGMA application_id = {APPLICATION_ID}
"""


def default_knowledge_path() -> Path:
    """Where :class:`SQLiteKnowledge` keeps its file by default: beside the budget's."""
    return default_budget_path().parent / "knowledge.sqlite3"


def vet(path: Path) -> str | None:
    """Why the file at ``path`` cannot be used as a knowledge store, or None if it can.

    A missing or empty file is fine (it is created). Never writes.
    """
    try:
        if not path.exists() or path.stat().st_size == 0:
            return None
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
    except (OSError, sqlite3.Error) as exc:
        return f"unreadable ({exc})"
    try:
        if conn.execute("PRAGMA quick_check(1)").fetchone()[0] != "ok":
            return "damaged (quick_check failed)"
        app = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
    except sqlite3.Error as exc:
        return f"not a readable SQLite file ({exc})"
    finally:
        conn.close()
    if app != APPLICATION_ID:
        return "another program's file (application id)"
    if version > SCHEMA_VERSION:
        return f"written by a newer version (schema {version} > {SCHEMA_VERSION})"
    if version != SCHEMA_VERSION or tables != _TABLES:
        return f"another schema (version {version}, tables {sorted(tables)})"
    return None


def set_aside(path: Path) -> Path:
    """Rename ``path`` (and its WAL companions) out of the way; returns the new name."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    target = path.with_name(f"{path.name}.aside-{stamp}-{os.getpid()}")
    for suffix in ("-wal", "-shm"):
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            companion.replace(target.with_name(target.name + suffix))
    path.replace(target)
    return target


#: Series read per query (two parameters each, under SQLite's 32,766-parameter limit).
_BATCH = 500


class _Batch:
    """Series keys read together, and what was read (None until read)."""

    __slots__ = ("done", "keys", "values")

    def __init__(self) -> None:
        self.keys: set[tuple[str, str]] = set()
        self.done = anyio.Event()
        self.values: dict[tuple[str, str], list[float]] | None = None


class SQLiteKnowledge(KnowledgeStore):
    """Knowledge in a SQLite file (default :func:`default_knowledge_path`).

    Safe for many processes of one machine. A file that is not a sound knowledge store of
    this version is renamed aside and replaced (see the module docstring); no error is raised
    for it - the store works, or is disabled and misses.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, busy_timeout: float = 30.0):
        if not busy_timeout >= 0:
            raise ConfigurationError(f"busy_timeout must be >= 0 seconds, got {busy_timeout!r}")
        self._path = Path(path) if path is not None else default_knowledge_path()
        self._file = SQLiteFile(
            self._path,
            what="knowledge file",
            schema=_SCHEMA,
            version=SCHEMA_VERSION,
            busy_timeout=float(busy_timeout),
        )
        self._vetted = False
        self._gathering: _Batch | None = None  # series reads waiting for the worker thread
        self._busy: _Batch | None = None  # the batch in the worker thread
        self.disabled_reason: str | None = None
        self.set_aside_as: Path | None = None

    @property
    def path(self) -> Path:
        """The SQLite file."""
        return self._path

    def __repr__(self) -> str:
        return f"SQLiteKnowledge(path={str(self._path)!r})"

    async def _run(self, func: Callable[[sqlite3.Connection], _T], miss: _T) -> _T:
        if self.disabled_reason is not None:
            return miss
        if not self._vetted:
            self._vetted = True
            import anyio.to_thread

            problem = await anyio.to_thread.run_sync(vet, self._path)
            if problem is not None:
                try:
                    self.set_aside_as = await anyio.to_thread.run_sync(set_aside, self._path)
                    log.warning(
                        "knowledge file %s set aside as %s: %s",
                        self._path,
                        self.set_aside_as,
                        problem,
                    )
                except OSError as exc:
                    self.disabled_reason = f"{problem}; cannot set it aside: {exc}"
                    log.warning("knowledge file %s not used: %s", self._path, self.disabled_reason)
                    return miss
        try:
            return await self._file.run(func)
        except BrightmetricsError as exc:
            # A file that breaks while in use (another process replaced it, the disk is full):
            # work without it from now on rather than fail the session.
            self.disabled_reason = exc.message
            log.warning("knowledge file %s not used: %s", self._path, exc.message)
            await self._file.close()
            return miss

    async def get(self, scope: str, key: str) -> Entry | None:
        def get(conn: sqlite3.Connection) -> Entry | None:
            row = conn.execute(
                "SELECT value, saved_at FROM documents WHERE scope = ? AND key = ?", (scope, key)
            ).fetchone()
            if row is None or not isinstance(row[0], bytes):
                return None
            return Entry(row[0], float(row[1]))

        return await self._run(get, None)

    async def put(self, scope: str, key: str, value: bytes, *, saved_at: float) -> None:
        def put(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.execute(
                    "INSERT OR REPLACE INTO documents (scope, key, value, saved_at) "
                    "VALUES (?, ?, ?, ?)",
                    (scope, key, sqlite3.Binary(value), saved_at),
                )

        await self._run(put, None)

    async def delete(self, scope: str, key: str) -> None:
        def delete(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.execute("DELETE FROM documents WHERE scope = ? AND key = ?", (scope, key))

        await self._run(delete, None)

    async def append(self, scope: str, key: str, value: float, *, keep: int) -> None:
        def append(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                row = conn.execute(
                    "SELECT MAX(seq) FROM series WHERE scope = ? AND key = ?", (scope, key)
                ).fetchone()
                seq = (row[0] if row and row[0] is not None else 0) + 1
                conn.execute(
                    "INSERT INTO series (scope, key, seq, value) VALUES (?, ?, ?, ?)",
                    (scope, key, seq, float(value)),
                )
                conn.execute(
                    "DELETE FROM series WHERE scope = ? AND key = ? AND seq <= ?",
                    (scope, key, seq - keep),
                )

        await self._run(append, None)

    async def series(self, scope: str, key: str) -> list[float]:
        """The series ``key`` of ``scope``; concurrent calls are read in one query.

        A call made while another read of series is in the worker thread joins the next
        batch, read by its first caller as soon as the thread is free: 10,000 jobs submitted
        at once cost a few dozen thread hops instead of 10,000 (benchmarks/jobs.py). A read
        has no effect, so a caller cancelled while waiting loses nothing; if the batch's
        reader is cancelled before its query ran, the others read again.
        """
        while True:
            batch = self._gathering
            lead = batch is None
            if batch is None:
                batch = self._gathering = _Batch()
            batch.keys.add((scope, key))
            await (self._read(batch) if lead else batch.done.wait())
            if batch.values is not None:
                return list(batch.values.get((scope, key), ()))

    async def _read(self, batch: _Batch) -> None:
        try:
            while self._busy is not None:  # this batch gathers while the previous one is read
                await self._busy.done.wait()
            self._busy = batch
            if self._gathering is batch:
                self._gathering = None

            def series(conn: sqlite3.Connection) -> None:
                found: dict[tuple[str, str], list[float]] = {}
                keys = sorted(batch.keys)
                for i in range(0, len(keys), _BATCH):
                    chunk = keys[i : i + _BATCH]
                    # Only the number of placeholders varies: no value is written in the SQL.
                    where = " OR ".join(["(scope = ? AND key = ?)"] * len(chunk))
                    rows = conn.execute(
                        f"SELECT scope, key, value FROM series WHERE {where} "  # noqa: S608
                        "ORDER BY scope, key, seq",
                        [part for pair in chunk for part in pair],
                    )
                    for sc, k, value in rows:
                        if isinstance(value, (int, float)):
                            found.setdefault((sc, k), []).append(float(value))
                batch.values = found  # set here: a cancelled reader's batch is still read

            await self._run(series, None)
            if batch.values is None:  # the store is disabled or failed: a miss for all
                batch.values = {}
        finally:
            if self._busy is batch:
                self._busy = None
            if self._gathering is batch:
                self._gathering = None
            batch.done.set()

    async def clear(self, scope: str) -> None:
        def clear(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.execute("DELETE FROM documents WHERE scope = ?", (scope,))
                conn.execute("DELETE FROM series WHERE scope = ?", (scope,))

        await self._run(clear, None)

    async def aclose(self) -> None:
        await self._file.close()

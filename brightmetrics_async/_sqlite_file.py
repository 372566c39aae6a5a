"""One SQLite file used from async code: the budget's and the journal's common ground.

The file is opened lazily (constructors do no I/O), in WAL mode with ``synchronous=FULL`` so a
committed transaction survives a crash or a power cut, with a busy timeout so that processes
sharing the file queue instead of failing. sqlite3 calls block, so they run in a worker thread,
one at a time per object (one connection, never used by two threads at once). The schema is
versioned with ``PRAGMA user_version``: an older file is upgraded, a newer one refused.
sqlite3 errors become :class:`TransportError`.

Before each transaction the path is checked to still name the file that was opened (same
device and inode): a file deleted or replaced while in use would leave this process writing
to a ghost that no other process sees, so the object refuses to go on (``replaced_error``)
instead of silently starting afresh. :meth:`SQLiteFile.close` and a new use open the new file.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import anyio.to_thread

from ._errors import BrightmetricsError, ConfigurationError, TransportError

__all__ = ["SQLiteFile", "transaction"]

_T = TypeVar("_T")


class SQLiteFile:
    """A lazily opened SQLite file; ``what`` names it in error messages ("budget file", ...)."""

    def __init__(
        self,
        path: Path,
        *,
        what: str,
        schema: str,
        version: int,
        busy_timeout: float,
        replaced_error: Callable[[str], BrightmetricsError] | None = None,
        newer_error: Callable[[str], BrightmetricsError] | None = None,
        upgrade: Callable[[sqlite3.Connection], None] | None = None,
    ) -> None:
        self.path = path
        self._what = what
        self._schema = schema
        self._version = version
        self._busy_timeout = busy_timeout
        self._conn: sqlite3.Connection | None = None
        self._identity: tuple[int, int] | None = None
        self._opened = path  # made absolute when opened: a later chdir must not matter
        self._replaced_error = replaced_error or (lambda message: TransportError(message))
        self._newer_error = newer_error or (lambda message: ConfigurationError(message))
        self._upgrade = upgrade  # run after the schema when a file's version is older
        self._lock = threading.Lock()

    async def run(self, func: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``func(connection)`` in a worker thread, alone on this file object.

        Raises :class:`TransportError` for sqlite3 errors (locked too long, disk full, ...).
        """

        def call() -> _T:
            with self._lock:
                try:
                    conn = self._connection()
                    self._check_identity()  # hook #14: a deleted or replaced file is refused
                    return func(conn)
                except sqlite3.Error as exc:
                    raise TransportError(f"{self._what} {str(self.path)!r} failed: {exc}") from exc

        return await anyio.to_thread.run_sync(call)

    async def close(self) -> None:
        """Close the connection; the file stays, and is reopened if used again."""

        def close() -> None:
            with self._lock:
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None
                    self._identity = None

        await anyio.to_thread.run_sync(close)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = self._open()
            # A store dropped without close() (a budget handed to a short-lived helper, a store
            # whose file was replaced and refused) must not keep its file handle until the
            # interpreter exits (Python 3.13 warns of such connections). The connection allows
            # any thread, and closing a closed connection does nothing.
            weakref.finalize(self, self._conn.close)
            try:
                self._opened = self.path.absolute()
                self._identity = _identity(self._opened)
            except OSError:
                self._identity = None
        return self._conn

    def _check_identity(self) -> None:
        try:
            now = _identity(self._opened)
        except OSError:
            now = None
        if now is None or now != self._identity:
            raise self._replaced_error(
                f"{self._what} {str(self.path)!r} was deleted or replaced while in use; "
                "refusing to go on with the old file (close and reopen to start on the new one)"
            )

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TransportError(f"cannot create {str(self.path.parent)!r}: {exc}") from exc
        # isolation_level=None: transactions are ours (BEGIN IMMEDIATE), not the module's.
        conn = sqlite3.connect(
            self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            with transaction(conn):
                found = conn.execute("PRAGMA user_version").fetchone()[0]
                if found > self._version:
                    raise self._newer_error(
                        f"{self._what} {str(self.path)!r} has schema {found}, newer than "
                        f"this library's {self._version}: upgrade brightmetrics-async"
                    )
                if found < self._version:
                    for statement in self._schema.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    if self._upgrade is not None:
                        self._upgrade(conn)  # in the same transaction: all or nothing
                    conn.execute(f"PRAGMA user_version = {self._version}")
        except BaseException:
            conn.close()
            raise
        return conn


def _identity(path: Path) -> tuple[int, int]:
    info = os.stat(path)
    return info.st_dev, info.st_ino


class transaction:  # noqa: N801 - used like a function: `with transaction(conn):`
    """Run a block in one transaction: commit on success, roll back on any exception."""

    def __init__(self, conn: sqlite3.Connection, begin: str = "BEGIN IMMEDIATE") -> None:
        self._conn = conn
        self._begin = begin

    def __enter__(self) -> None:
        self._conn.execute(self._begin)

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None:
            self._conn.execute("COMMIT")
        elif self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

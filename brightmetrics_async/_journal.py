"""The crash-resume journal of bulk pulls: a small SQLite file beside the budget.

Theory of operation
-------------------
A bulk pull (``Session.pull_many(..., journal=Journal())``) writes down, for each item, just
enough to finish the work after a crash without spending a request twice. An item is keyed by
a stable hash of what it asks for as the caller gave it (report, format, filter, time zone,
output path, and async, sync or "let the pull choose": see ``_pull_items.item_key``). The way
an item left to choose took is recorded when it starts (``way``), and a later run continues
that way whatever it would choose now: it resumes the job, or pages on from the checkpoint.
Its row moves through these states::

    started --(async job submitted)--> submitted --(done)--> done
    started --(a JSON page flushed)--> paging ----(...)----> done

* ``submitted`` keeps the job's resume token (status URL, format, timing: no credentials).
  On restart the job is resumed from it while within its hour, instead of being resubmitted.
* ``paging`` keeps the page checkpoint of a JSON pull written to a file: the next link (the
  server's URL, verbatim), the kept temporary file and how many bytes of it are good. On
  restart the file is cut back to that offset and the pull continues from the next link.
* ``done`` items whose output file exists are skipped on restart.

Every update is ONE ``BEGIN IMMEDIATE`` transaction with ``synchronous=FULL`` in WAL mode, so a
SIGKILL between two updates leaves the last one durable and never half of one. The checkpoint
is recorded only after the page's bytes are fsynced, so the journal never points past what is
on disk. sqlite3 calls block; they run in a worker thread, one at a time.

The file holds no secrets: report ids, formats, filter text, paths, next links and status URLs
(links carrying user information are refused), byte offsets and resume tokens, which hold no
credentials by design.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from types import TracebackType
from typing import Literal, TypeVar
from urllib.parse import urlsplit

import anyio
import anyio.to_thread
import attrs

from ._budget import default_budget_path
from ._clock import Clock, SystemClock
from ._errors import ConfigurationError
from ._sqlite_file import SQLiteFile, transaction

__all__ = ["Journal", "JournalEntry", "default_journal_path"]

_T = TypeVar("_T")
SCHEMA_VERSION = 2
State = Literal["started", "submitted", "paging", "done"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    key TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    path TEXT,
    state TEXT NOT NULL,
    token TEXT,
    next_link TEXT,
    part TEXT,
    byte_offset INTEGER NOT NULL DEFAULT 0,
    pages INTEGER NOT NULL DEFAULT 0,
    rows INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL
);
ALTER TABLE items ADD COLUMN way TEXT
"""
# Version 2 added ``way`` ('async' or 'sync'; NULL in entries of version 1): both a new file
# and a version-1 file run every statement above once, the CREATE then being a no-op.
_COLUMNS = (
    "key, label, path, state, token, next_link, part, byte_offset, pages, rows, updated_at, way"
)
_SELECT = f"SELECT {_COLUMNS} FROM items"  # noqa: S608 - constant text, values are bound


def default_journal_path() -> Path:
    """Where :class:`Journal` keeps its file by default: beside the default budget file."""
    return default_budget_path().parent / "journal.sqlite3"


@attrs.frozen
class JournalEntry:
    """One journaled item: its ``state`` and what is needed to carry it on.

    ``token`` is a submitted job's resume token; ``next_link``, ``part`` and ``offset`` the
    checkpoint of a JSON pull to a file (``pages`` and ``rows`` written so far). ``use_async``
    is the way the item took when it started (None: not recorded, as in journals written
    before the way was recorded).
    """

    key: str
    label: str
    path: str | None
    state: State
    token: str | None = None
    next_link: str | None = None
    part: str | None = None
    offset: int = 0
    pages: int = 0
    rows: int = 0
    updated_at: float = 0.0
    use_async: bool | None = None


class Journal:
    """A crash-resume journal for :meth:`Session.pull_many` (see the module docstring).

    ``path`` defaults to :func:`default_journal_path`. One journal may serve many pulls, even
    in several processes (SQLite locking), but one pull should not run twice at once.

    Raises :class:`TransportError` (on first use) when the file cannot be opened or written,
    and :class:`ConfigurationError` for a file of a newer schema.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        clock: Clock | None = None,
        busy_timeout: float = 30.0,
    ) -> None:
        self._path = Path(path) if path is not None else default_journal_path()
        self._clock: Clock = clock or SystemClock()
        self._file = SQLiteFile(
            self._path,
            what="journal",
            schema=_SCHEMA,
            version=SCHEMA_VERSION,
            busy_timeout=float(busy_timeout),
        )

    @property
    def path(self) -> Path:
        """The SQLite file."""
        return self._path

    def __repr__(self) -> str:
        return f"Journal(path={str(self._path)!r})"

    async def __aenter__(self) -> Journal:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection (the file stays; the journal reopens it if used again)."""
        await self._file.close()

    # -- reading ----------------------------------------------------------------------------

    async def get(self, key: str) -> JournalEntry | None:
        """The entry of ``key``, or None."""

        def get(conn: sqlite3.Connection) -> JournalEntry | None:
            row = conn.execute(_SELECT + " WHERE key = ?", (key,)).fetchone()
            return None if row is None else _entry(row)

        return await self._file.run(get)

    async def entries(self) -> list[JournalEntry]:
        """Every entry, oldest update first."""

        def read(conn: sqlite3.Connection) -> list[JournalEntry]:
            rows = conn.execute(_SELECT + " ORDER BY updated_at, key")
            return [_entry(row) for row in rows]

        return await self._file.run(read)

    # -- writing: one transaction each -----------------------------------------------------

    async def start(
        self, key: str, *, label: str, path: str | None, use_async: bool | None = None
    ) -> JournalEntry:
        """Record that ``key`` started (keeping what an earlier run recorded); return it.

        ``use_async``: the way it takes, recorded unless an earlier run already recorded
        one and made progress (a job submitted, a page checkpoint): that way stays.
        """
        way = None if use_async is None else ("async" if use_async else "sync")

        def start(conn: sqlite3.Connection) -> JournalEntry:
            with transaction(conn):
                conn.execute(
                    "INSERT OR IGNORE INTO items (key, label, path, state, updated_at, way) "
                    "VALUES (?, ?, ?, 'started', ?, ?)",
                    (key, label, path, self._clock.time(), way),
                )
                if way is not None:
                    conn.execute(
                        "UPDATE items SET way = ? WHERE key = ? "
                        "AND (way IS NULL OR state = 'started')",
                        (way, key),
                    )
                row = conn.execute(_SELECT + " WHERE key = ?", (key,))
                return _entry(row.fetchone())

        return await self._file.run(start)

    async def record_token(self, key: str, token: str) -> None:
        """Record the resume token of ``key``'s submitted job."""
        _refuse_userinfo(token)
        await self._update(key, "state = 'submitted', token = ?", (token,))

    async def record_checkpoint(
        self, key: str, *, next_link: str, part: str, offset: int, pages: int, rows: int
    ) -> None:
        """Record that ``part`` holds ``offset`` good bytes and the pull continues at
        ``next_link`` (call only once those bytes are fsynced)."""
        _refuse_userinfo(next_link)
        await self._update(
            key,
            "state = 'paging', next_link = ?, part = ?, byte_offset = ?, pages = ?, rows = ?",
            (next_link, part, offset, pages, rows),
        )

    async def mark_done(self, key: str) -> None:
        """Record that ``key`` is complete (its output, if any, is in place)."""
        await self._update(
            key,
            "state = 'done', token = NULL, next_link = NULL, part = NULL, byte_offset = 0",
            (),
        )

    async def reset(self, key: str) -> None:
        """Forget ``key``'s token and checkpoint: the next run starts it afresh."""
        await self._update(
            key,
            "state = 'started', token = NULL, next_link = NULL, part = NULL, byte_offset = 0, "
            "pages = 0, rows = 0",
            (),
        )

    async def forget(self, key: str) -> None:
        """Delete ``key``'s entry (and the temporary file it kept, if any)."""
        entry = await self.get(key)

        def forget(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.execute("DELETE FROM items WHERE key = ?", (key,))

        await self._file.run(forget)
        if entry is not None and entry.part:
            part = anyio.Path(entry.part)
            with contextlib.suppress(OSError):
                await part.unlink()

    async def clear(self) -> None:
        """Delete every entry and the temporary files they kept."""
        for entry in await self.entries():
            await self.forget(entry.key)

    async def _update(self, key: str, assignments: str, values: tuple[object, ...]) -> None:
        def update(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.execute(
                    f"UPDATE items SET {assignments}, updated_at = ? WHERE key = ?",  # noqa: S608
                    (*values, self._clock.time(), key),
                )

        await self._file.run(update)


_STATES = ("started", "submitted", "paging", "done")


def _entry(row: tuple[object, ...]) -> JournalEntry:
    key, label, path, state, token, next_link, part, offset, pages, rows, updated_at, way = row
    # The file may have been edited: a wrong type or state is refused, not half-trusted.
    counts_ok = all(type(v) is int and 0 <= v < 2**62 for v in (offset, pages, rows))
    way_ok = way in (None, "async", "sync")
    if state not in _STATES or not counts_ok or type(updated_at) not in (int, float) or not way_ok:
        raise ConfigurationError(
            f"journal entry {str(key)[:40]!r} is corrupt (state, counts, time or way); "
            "forget it or clear the journal"
        )
    return JournalEntry(
        key=str(key),
        label=str(label),
        path=None if path is None else str(path),
        state=state,  # type: ignore[arg-type]
        token=None if token is None else str(token),
        next_link=None if next_link is None else str(next_link),
        part=None if part is None else str(part),
        offset=int(offset),  # type: ignore[call-overload]
        pages=int(pages),  # type: ignore[call-overload]
        rows=int(rows),  # type: ignore[call-overload]
        updated_at=float(updated_at),  # type: ignore[arg-type]
        use_async=None if way is None else way == "async",
    )


def _refuse_userinfo(text: str) -> None:
    # Links come from the server; one carrying user:password@ must not land in a file.
    if "@" not in text:
        return
    for word in text.replace('"', " ").split():
        if "://" not in word:
            continue
        try:
            parts = urlsplit(word)
            userinfo = parts.username is not None or parts.password is not None
        except ValueError:
            userinfo = True  # unparseable: do not store what cannot be checked
        if userinfo:
            raise ConfigurationError("refusing to journal a link with user information")

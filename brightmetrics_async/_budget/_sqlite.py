"""A budget in a SQLite file: survives restarts, shared by the processes of one machine.

Theory of operation
-------------------
Schema (``PRAGMA user_version`` = 2)::

    spent(account TEXT, at_us INTEGER,      one row per token spent; index (account, at_us)
          boot TEXT, boot_us INTEGER)       the boot id and boot clock when it was spent
    blocks(account TEXT PRIMARY KEY, until_us INTEGER)

Version 1 files (no ``boot``/``boot_us``) are upgraded in place on first use, their rows
kept (they age by the wall clock); a file of a newer version is a ``BudgetStoreError``.

Every acquisition is ONE ``BEGIN IMMEDIATE`` transaction: it takes the database's
write lock before reading, so two processes can never both read "149 spent" and both
insert (the lost update behind off-by-one limiters). Inside it: delete the account's
rows at or before ``now - period``, read the block and the live rows, let
:func:`._ledger.decide` rule, insert ``now`` when granted, commit. WAL mode lets
snapshots read while another process writes; ``busy_timeout`` makes waiters queue on
the lock instead of failing. Commits are ``synchronous=FULL``: a few milliseconds per
request is nothing next to a daily quota, and a grant lost in a power cut would let
one request too many through.

sqlite3 calls block, so they run in a worker thread (``anyio.to_thread.run_sync``);
a threading lock keeps the one connection from being used by two threads at once.
Time comes from the budget's clock (the system clock by default), read inside the
transaction. A process's wall clock may be wrong (set a day ahead, run under faketime), so
each entry also records the boot id and ``CLOCK_BOOTTIME`` and an entry of the reader's
boot leaves the window only when both clocks say it is old (:mod:`._boot`): a process with
a skewed clock can neither prune the others' entries nor see its own as expired early.

The file holds no secrets: only account names (which must not be secrets) and times.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import TypeVar

import platformdirs

from .._clock import Clock
from .._errors import BudgetStoreError, ConfigurationError
from .._sqlite_file import SQLiteFile, transaction
from ._base import Budget
from ._boot import Reading, effective_us, read_clock
from ._ledger import Decision, StoreState, check_live, check_time_us, decide

__all__ = ["SQLiteBudget", "default_budget_path"]

_T = TypeVar("_T")

SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spent (
    account TEXT NOT NULL,
    at_us INTEGER NOT NULL,
    boot TEXT,
    boot_us INTEGER
);
CREATE INDEX IF NOT EXISTS spent_account_at ON spent (account, at_us);
CREATE TABLE IF NOT EXISTS blocks (
    account TEXT PRIMARY KEY,
    until_us INTEGER NOT NULL
);
"""


def default_budget_path() -> Path:
    """Where :class:`SQLiteBudget` keeps its file by default (per user, per machine)."""
    return platformdirs.user_state_path("brightmetrics-async") / "budget.sqlite3"


class SQLiteBudget(Budget):
    """A sliding-window budget in a SQLite file (see :class:`Budget`).

    ``path`` defaults to :func:`default_budget_path`; parent directories are created on
    first use. Safe for many processes on one machine, and it survives restarts. Do not
    put the file on a network file system (SQLite locking is unreliable there).
    ``busy_timeout`` is how long, in seconds, to wait for another process's transaction.

    Raises:
        ConfigurationError: invalid ``limit``, ``period``, ``reserve``, ``max_wait`` or
            ``busy_timeout``; a file with a newer schema (raised on first use).
        TransportError: the file cannot be opened or stays locked (raised on first use).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        limit: int = 150,
        period: float = 86400.0,
        reserve: int = 0,
        max_wait: float | None = None,
        clock: Clock | None = None,
        busy_timeout: float = 30.0,
    ) -> None:
        super().__init__(
            limit=limit, period=period, reserve=reserve, max_wait=max_wait, clock=clock
        )
        if not busy_timeout >= 0:
            raise ConfigurationError(f"busy_timeout must be >= 0 seconds, got {busy_timeout!r}")
        self._path = Path(path) if path is not None else default_budget_path()
        self._file = SQLiteFile(
            self._path,
            what="budget file",
            schema=_SCHEMA,
            version=SCHEMA_VERSION,
            busy_timeout=float(busy_timeout),
            replaced_error=lambda message: BudgetStoreError(message, store=str(self._path)),
            newer_error=lambda message: BudgetStoreError(message, store=str(self._path)),
            upgrade=_upgrade,
        )

    @property
    def path(self) -> Path:
        """The SQLite file."""
        return self._path

    @property
    def store_name(self) -> str:
        """The file's path (errors name it)."""
        return str(self._path)

    def __repr__(self) -> str:
        return f"SQLiteBudget(path={str(self._path)!r}, {self._repr_fields()})"

    async def _attempt(self, account: str, cap: int) -> Decision:
        period_us = self._period_us
        clock = self._clock
        store = self.store_name

        def attempt(conn: sqlite3.Connection) -> Decision:
            with transaction(conn):
                # Read the time only once the write lock is held, so the timestamps
                # of all processes are inserted in order and none is backdated by
                # the time spent queueing for the lock.
                now = read_clock(clock)
                now_us = now.wall_us
                live = _prune_and_read(conn, account, now, period_us, store)
                decision = decide(
                    live,
                    now_us=now_us,
                    period_us=period_us,
                    cap=cap,
                    blocked_until_us=_read_block(conn, account, now_us, store),
                )
                if decision.granted:
                    conn.execute(
                        "INSERT INTO spent (account, at_us, boot, boot_us) VALUES (?, ?, ?, ?)",
                        (account, now_us, now.boot, now.boot_us),
                    )
                return decision

        return await self._file.run(attempt)

    async def _read(self, account: str) -> StoreState:
        period_us = self._period_us
        clock = self._clock
        store = self.store_name

        def read(conn: sqlite3.Connection) -> StoreState:
            with transaction(conn, "BEGIN"):
                now = read_clock(clock)
                now_us = now.wall_us
                values = check_live(
                    _effective(conn, account, now, store), now_us=now_us, store=store
                )
                live = tuple(t for t in values if t > now_us - period_us)
                row = conn.execute(
                    "SELECT until_us FROM blocks WHERE account = ?", (account,)
                ).fetchone()
            block = None if row is None else check_time_us(row[0], store=store, what="a block")
            return StoreState(now_us, live, block)

        return await self._file.run(read)

    async def _reset(self, account: str) -> None:
        def reset(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.execute("DELETE FROM spent WHERE account = ?", (account,))
                conn.execute("DELETE FROM blocks WHERE account = ?", (account,))

        await self._file.run(reset)

    async def _block(self, account: str, until_us: int) -> None:
        def block(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                # MAX() in the upsert: an existing later block is never shortened.
                conn.execute(
                    "INSERT INTO blocks (account, until_us) VALUES (?, ?) "
                    "ON CONFLICT (account) DO UPDATE "
                    "SET until_us = MAX(until_us, excluded.until_us)",
                    (account, until_us),
                )

        await self._file.run(block)

    async def aclose(self) -> None:
        """Close the connection (the file stays; the budget reopens it if used again)."""
        await self._file.close()


def _upgrade(conn: sqlite3.Connection) -> None:
    # Version 1 -> 2: the boot columns (old rows keep NULL there and age by the wall clock).
    have = {row[1] for row in conn.execute("PRAGMA table_info(spent)")}
    for column, kind in (("boot", "TEXT"), ("boot_us", "INTEGER")):
        if column not in have:
            conn.execute(f"ALTER TABLE spent ADD COLUMN {column} {kind}")


def _rows(
    conn: sqlite3.Connection, account: str, now: Reading, store: str
) -> list[tuple[int, int]]:
    # Every row of the account, so a text or REAL value cannot hide from the checks behind
    # SQLite's cross-type comparisons: (effective time, rowid).
    rows = conn.execute(
        "SELECT rowid, at_us, boot, boot_us FROM spent WHERE account = ?", (account,)
    )
    return [(effective_us(at, boot, up, now, store=store), rowid) for rowid, at, boot, up in rows]


def _effective(conn: sqlite3.Connection, account: str, now: Reading, store: str) -> list[int]:
    return [t for t, _ in _rows(conn, account, now, store)]


def _prune_and_read(
    conn: sqlite3.Connection, account: str, now: Reading, period_us: int, store: str
) -> tuple[int, ...]:
    # Checked before pruning (the caller's transaction rolls back on BudgetStoreError): a
    # corrupt or future-dated entry is refused, and never used to decide what to delete.
    rows = _rows(conn, account, now, store)
    values = check_live((t for t, _ in rows), now_us=now.wall_us, store=store)
    cutoff = now.wall_us - period_us
    old = [(rowid,) for t, rowid in rows if t <= cutoff]
    if old:
        conn.executemany("DELETE FROM spent WHERE rowid = ?", old)
    return tuple(t for t in values if t > cutoff)


def _read_block(conn: sqlite3.Connection, account: str, now_us: int, store: str) -> int | None:
    row = conn.execute("SELECT until_us FROM blocks WHERE account = ?", (account,)).fetchone()
    if row is None:
        return None
    until = check_time_us(row[0], store=store, what="a block")
    if until <= now_us:
        conn.execute("DELETE FROM blocks WHERE account = ? AND until_us <= ?", (account, now_us))
        return None
    return until

"""A budget in a SQLite file: survives restarts, shared by the processes of one machine.

Theory of operation
-------------------
Schema (``PRAGMA user_version`` = 1)::

    spent(account TEXT, at_us INTEGER)      one row per token spent; index (account, at_us)
    blocks(account TEXT PRIMARY KEY, until_us INTEGER)

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
Time comes from the budget's clock (the system clock by default: every process on one
machine reads the same clock), read inside the transaction.

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
from ._ledger import Decision, StoreState, check_live, check_time_us, decide, to_us

__all__ = ["SQLiteBudget", "default_budget_path"]

_T = TypeVar("_T")

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spent (
    account TEXT NOT NULL,
    at_us INTEGER NOT NULL
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
                now_us = to_us(clock.time())
                live = _prune_and_read(conn, account, now_us, period_us, store)
                decision = decide(
                    live,
                    now_us=now_us,
                    period_us=period_us,
                    cap=cap,
                    blocked_until_us=_read_block(conn, account, now_us, store),
                )
                if decision.granted:
                    conn.execute(
                        "INSERT INTO spent (account, at_us) VALUES (?, ?)", (account, now_us)
                    )
                return decision

        return await self._file.run(attempt)

    async def _read(self, account: str) -> StoreState:
        period_us = self._period_us
        clock = self._clock
        store = self.store_name

        def read(conn: sqlite3.Connection) -> StoreState:
            with transaction(conn, "BEGIN"):
                now_us = to_us(clock.time())
                # Every row of the account, so a text or REAL value cannot hide from the
                # checks behind SQLite's cross-type comparisons.
                rows = conn.execute("SELECT at_us FROM spent WHERE account = ?", (account,))
                values = check_live((row[0] for row in rows), now_us=now_us, store=store)
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


def _prune_and_read(
    conn: sqlite3.Connection, account: str, now_us: int, period_us: int, store: str
) -> tuple[int, ...]:
    # Checked before pruning (the caller's transaction rolls back on BudgetStoreError): a
    # corrupt or future-dated entry is refused, and never used to decide what to delete.
    rows = conn.execute("SELECT at_us FROM spent WHERE account = ?", (account,))
    values = check_live((row[0] for row in rows), now_us=now_us, store=store)
    cutoff = now_us - period_us
    if values and values[0] <= cutoff:
        conn.execute("DELETE FROM spent WHERE account = ? AND at_us <= ?", (account, cutoff))
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

"""``SQLiteFile.run``: concurrent calls share worker-thread hops (#11), each func alone under
the lock and in its own transaction, its error its caller's only; cancellation as with
``anyio.to_thread.run_sync`` (a func not started is skipped, a running one is waited for)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import anyio
import anyio.to_thread
import pytest

from brightmetrics_async._errors import TransportError
from brightmetrics_async._sqlite_file import SQLiteFile, transaction

pytestmark = pytest.mark.anyio

SCHEMA = "CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)"


def sqlite_file(tmp_path: Path) -> SQLiteFile:
    return SQLiteFile(
        tmp_path / "f.sqlite3", what="test file", schema=SCHEMA, version=1, busy_timeout=5.0
    )


def insert(k: str, v: int) -> Callable[[sqlite3.Connection], int]:
    def func(conn: sqlite3.Connection) -> int:
        with transaction(conn):
            conn.execute("INSERT INTO t (k, v) VALUES (?, ?)", (k, v))
        return v

    return func


def rows(conn: sqlite3.Connection) -> dict[str, int]:
    return dict(conn.execute("SELECT k, v FROM t").fetchall())


class Gate:
    """A func that blocks its worker thread until released, to queue calls behind it."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.finished = False

    def __call__(self, conn: sqlite3.Connection) -> str:
        self.started.set()
        self.release.wait(30)
        self.finished = True
        return "gate"

    async def wait_started(self) -> None:
        await anyio.to_thread.run_sync(self.started.wait, 30)


async def test_one_funcs_error_fails_its_caller_only(tmp_path: Path) -> None:
    f = sqlite_file(tmp_path)
    try:
        await f.run(insert("taken", 0))

        def boom(conn: sqlite3.Connection) -> None:
            raise ValueError("boom")

        def bad_sql(conn: sqlite3.Connection) -> None:
            conn.execute("SELECT * FROM no_such_table")

        gate = Gate()
        gated = asyncio.ensure_future(f.run(gate))
        await gate.wait_started()
        calls = [
            f.run(insert("a", 1)),
            f.run(boom),
            f.run(insert("taken", 2)),  # a constraint error: rolled back, TransportError
            f.run(bad_sql),
            f.run(insert("b", 3)),
        ]
        together = asyncio.gather(*calls, return_exceptions=True)
        for _ in range(5):
            await asyncio.sleep(0)
        gate.release.set()
        got = await together
        assert await gated == "gate"
        assert got[0] == 1
        assert isinstance(got[1], ValueError)
        assert isinstance(got[2], TransportError)
        assert "test file" in str(got[2])
        assert isinstance(got[3], TransportError)
        assert got[4] == 3
        assert await f.run(rows) == {"taken": 0, "a": 1, "b": 3}, "each func its transaction"
    finally:
        await f.close()


async def test_a_caller_cancelled_before_its_func_started_skips_it(tmp_path: Path) -> None:
    f = sqlite_file(tmp_path)
    try:
        gate = Gate()
        gated = asyncio.ensure_future(f.run(gate))
        await gate.wait_started()
        skipped = asyncio.ensure_future(f.run(insert("skipped", 1)))
        kept = asyncio.ensure_future(f.run(insert("kept", 2)))
        await asyncio.sleep(0)
        skipped.cancel()
        with pytest.raises(asyncio.CancelledError):
            await skipped  # at once: the gate still holds the worker
        assert not gate.finished
        gate.release.set()
        assert await gated == "gate"
        assert await kept == 2
        assert await f.run(rows) == {"kept": 2}, "the cancelled caller's func never ran"
    finally:
        await f.close()


def test_one_file_serves_one_event_loop_after_another(tmp_path: Path) -> None:
    f = sqlite_file(tmp_path)

    async def use(k: str) -> dict[str, int]:
        await asyncio.gather(*(f.run(insert(f"{k}{i}", i)) for i in range(5)))
        return await f.run(rows)

    assert len(asyncio.run(use("a"))) == 5
    assert len(asyncio.run(use("b"))) == 10
    asyncio.run(f.close())

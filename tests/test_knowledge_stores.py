"""The knowledge stores: one contract on memory, SQLite and Redis; bad files set aside."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest

import brightmetrics_async as bm
from brightmetrics_async._knowledge import Knowledge, filter_shape, range_key
from brightmetrics_async._knowledge._sqlite import APPLICATION_ID, SCHEMA_VERSION
from brightmetrics_async.testing import VirtualClock

from ._redis_fixture import running_redis_server

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[bm.KnowledgeStore]:
    made: bm.KnowledgeStore
    if request.param == "memory":
        made = bm.MemoryKnowledge()
        yield made
    elif request.param == "sqlite":
        made = bm.SQLiteKnowledge(tmp_path / "knowledge.sqlite3")
        yield made
        await made.aclose()
    else:
        with running_redis_server() as url:
            made = bm.RedisKnowledge(url, key_prefix=f"t{tmp_path.name}:")
            yield made
            await made.aclose()


async def test_documents_round_trip_per_scope(store: bm.KnowledgeStore) -> None:
    assert await store.get("a", "doc") is None
    await store.put("a", "doc", b"<xml \x00/>", saved_at=123.5)
    entry = await store.get("a", "doc")
    assert entry is not None
    assert (entry.value, entry.saved_at) == (b"<xml \x00/>", 123.5)
    assert await store.get("b", "doc") is None  # another scope sees nothing
    await store.put("a", "doc", b"new", saved_at=124.0)
    entry = await store.get("a", "doc")
    assert entry is not None
    assert entry.value == b"new"
    await store.delete("a", "doc")
    await store.delete("a", "doc")  # absent: no error
    assert await store.get("a", "doc") is None


async def test_series_keep_the_last_numbers(store: bm.KnowledgeStore) -> None:
    assert await store.series("a", "job") == []
    for value in range(1, 8):
        await store.append("a", "job", float(value), keep=3)
    assert await store.series("a", "job") == [5.0, 6.0, 7.0]
    assert await store.series("b", "job") == []
    await store.append("b", "job", 2.5, keep=3)
    await store.clear("a")
    assert await store.series("a", "job") == []
    assert await store.series("b", "job") == [2.5]


async def test_concurrent_series_reads_each_get_their_own_series(
    store: bm.KnowledgeStore,
) -> None:
    for i in range(40):
        for v in range(i % 4):
            await store.append(f"s{i % 2}", f"job/{i}", float(i * 10 + v), keep=5)
    got: dict[int, list[float]] = {}

    async def read(i: int) -> None:
        got[i] = await store.series(f"s{i % 2}", f"job/{i}")

    async with anyio.create_task_group() as tg:
        for i in range(40):
            tg.start_soon(read, i)
    assert got == {i: [float(i * 10 + v) for v in range(i % 4)] for i in range(40)}


async def test_concurrent_sqlite_series_reads_share_thread_hops(tmp_path: Path) -> None:
    store = bm.SQLiteKnowledge(tmp_path / "knowledge.sqlite3")
    await store.append("a", "job/7", 7.0, keep=5)
    hops = 0
    run = store._file.run

    async def counted(func: Any) -> Any:
        nonlocal hops
        hops += 1
        return await run(func)

    store._file.run = counted  # type: ignore[method-assign]
    got: list[list[float]] = []

    async def read(i: int) -> None:
        got.append(await store.series("a", f"job/{i % 10}"))

    async with anyio.create_task_group() as tg:
        for i in range(1000):
            tg.start_soon(read, i)
    assert sorted(got).count([7.0]) == 100
    assert sorted(got).count([]) == 900
    assert hops <= 3  # the first read alone, then everyone who came while it ran
    await store.aclose()


async def test_a_cancelled_series_reader_leaves_the_others_an_answer(tmp_path: Path) -> None:
    store = bm.SQLiteKnowledge(tmp_path / "knowledge.sqlite3")
    await store.append("a", "job", 3.0, keep=5)
    assert await store.series("a", "job") == [3.0]  # vetted and open
    answers: list[list[float]] = []

    async def follow() -> None:
        answers.append(await store.series("a", "job"))

    for cancel_after in range(4):  # the reader cancelled at each of its first checkpoints
        async with anyio.create_task_group() as tg:
            with anyio.CancelScope() as scope:
                tg.start_soon(follow)
                tg.start_soon(follow)

                async def lead(scope: anyio.CancelScope = scope, n: int = cancel_after) -> None:
                    for _ in range(n):
                        await anyio.lowlevel.checkpoint()
                    scope.cancel()

                tg.start_soon(lead)
                await store.series("a", "job")  # this task leads a batch, then is cancelled
        assert store._busy is None
        assert store._gathering is None
    assert answers
    assert all(a == [3.0] for a in answers)
    assert await store.series("a", "job") == [3.0]
    await store.aclose()


async def test_the_facade_decides_freshness(store: bm.KnowledgeStore) -> None:
    clock = VirtualClock()
    k = Knowledge(store, scope="acct|https://x", clock=clock, max_age=100)
    await k.save("doc:service", b"body")
    assert await k.document("doc:service") == b"body"
    await clock.sleep(101)
    assert await k.document("doc:service") is None  # too old
    await k.save("doc:service", b"body2")
    assert await k.document("doc:service") == b"body2"
    await clock.sleep(1)
    k.refresh()
    assert await k.document("doc:service") is None  # saved before the refresh
    await clock.sleep(1)
    await k.save("doc:service", b"body3")
    assert await k.document("doc:service") == b"body3"
    # A document "saved" in the future comes from a wrong clock: not trusted.
    await store.put(k.scope, "doc:root", b"x", saved_at=clock.time() + 3600)
    assert await k.document("doc:root") is None
    await k.learn("job", "r|csv|", value=10.0)
    await k.learn("job", "r|csv|", value=float("nan"))  # ignored
    await k.learn("job", "r|csv|", value=-1.0)  # ignored
    assert await k.numbers("job", "r|csv|") == [10.0]


async def test_no_store_knows_nothing() -> None:
    k = Knowledge(None, scope="s", clock=VirtualClock())
    await k.save("doc:service", b"x")
    await k.learn("pages", "r", value=3)
    assert await k.document("doc:service") is None
    assert await k.numbers("pages", "r") == []
    assert not k.enabled
    with pytest.raises(bm.ConfigurationError):
        Knowledge(None, scope="s", clock=VirtualClock(), max_age=-1)


def _aside(tmp_path: Path) -> list[Path]:
    return sorted(p for p in tmp_path.iterdir() if ".aside-" in p.name and p.suffix != "")


@pytest.mark.parametrize(
    "kind", ["garbage", "truncated", "foreign", "future", "other-schema", "empty-db"]
)
async def test_a_bad_file_is_set_aside_never_trusted(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "knowledge.sqlite3"
    good = bm.SQLiteKnowledge(path)
    await good.put("s", "doc", b"trusted?", saved_at=1.0)
    await good.aclose()
    if kind == "garbage":
        path.write_bytes(b"this is not a database" * 100)
    elif kind == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2 + 7])
    else:
        path.unlink()
        conn = sqlite3.connect(path)
        if kind == "foreign":
            conn.execute("CREATE TABLE documents (x)")
            conn.execute("INSERT INTO documents VALUES (1)")
        elif kind == "future":
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
            conn.execute("CREATE TABLE documents (x)")
        elif kind == "other-schema":
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("CREATE TABLE other (x)")
        else:
            conn.execute("CREATE TABLE t (x)")
            conn.execute("DROP TABLE t")
        conn.commit()
        conn.close()
    before = path.read_bytes()
    store = bm.SQLiteKnowledge(path)
    try:
        assert await store.get("s", "doc") is None  # never trusted
        assert store.set_aside_as is not None
        assert store.set_aside_as.read_bytes() == before  # kept, not deleted
        await store.put("s", "doc", b"fresh", saved_at=2.0)  # a fresh file works
        entry = await store.get("s", "doc")
        assert entry is not None
        assert entry.value == b"fresh"
    finally:
        await store.aclose()


async def test_a_sound_file_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "knowledge.sqlite3"
    first = bm.SQLiteKnowledge(path)
    await first.append("s", "pages|r|default", 7.0, keep=10)
    await first.aclose()
    second = bm.SQLiteKnowledge(path)
    assert await second.series("s", "pages|r|default") == [7.0]
    assert second.set_aside_as is None
    await second.aclose()


async def test_a_file_that_cannot_be_opened_disables_the_store(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"not a folder")
    store = bm.SQLiteKnowledge(blocker / "knowledge.sqlite3")
    assert await store.get("s", "doc") is None
    await store.put("s", "doc", b"x", saved_at=1.0)  # no error: a miss
    await store.append("s", "job", 1.0, keep=3)
    assert await store.series("s", "job") == []
    assert store.disabled_reason is not None
    assert blocker.read_bytes() == b"not a folder"


def test_default_path_is_beside_the_budget() -> None:
    assert bm.default_knowledge_path().parent == bm.default_budget_path().parent


def test_filter_shape_drops_literals() -> None:
    assert filter_shape(None) == ""
    assert filter_shape("Queue_Name eq 'Sales'") == "Queue_Name eq ?"
    assert filter_shape("Queue_Name eq 'O''Brien'") == filter_shape("Queue_Name eq 'x'")
    assert filter_shape("Queue_Name in ('a', 'b', 'c')") == "Queue_Name in (?)"
    assert (
        filter_shape("Call_Date_Time ge 2026-01-01T00:00:00Z and Time_Talk_Total gt 10.5")
        == "Call_Date_Time ge ? and Time_Talk_Total gt ?"
    )
    assert filter_shape("Agent1 eq 'x'") == "Agent1 eq ?"


def test_range_key_is_the_span_in_days() -> None:
    assert range_key(None) == "default"
    assert range_key("Queue_Name eq 'Sales'") == "default"
    assert range_key("Call_Date_Time ge 2026-01-01T00:00:00Z") == "open"
    assert (
        range_key(
            "Call_Date_Time ge 2026-01-01T00:00:00Z and Call_Date_Time le 2026-01-31T00:00:00Z"
        )
        == "30d"
    )
    # Dates inside a quoted string are values of text columns, not a range.
    assert range_key("Queue_Name eq '2026-01-01'") == "default"

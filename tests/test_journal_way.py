"""Journaled items left to choose their way (#12): the journal keys the item as given, records
the way it took, and a resumed run keeps that way whatever it would choose now; journals of
the earlier format (keyed by the way, no way recorded) still resume. Requests are counted
from the emulator's log."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import brightmetrics_async as bm
from brightmetrics_async._journal import Journal
from brightmetrics_async._pull_items import item_key
from brightmetrics_async.testing import DEMO_API_KEY, Fault, FaultKind

from ._reliability import CALLER_ID, Rig, leftovers, rig

pytestmark = pytest.mark.anyio

# The journal's schema as version 1 wrote it (no ``way`` column), verbatim.
V1_SCHEMA = """
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
)
"""


@contextlib.asynccontextmanager
async def knowing_nothing(r: Rig) -> AsyncIterator[bm.Session]:
    """A second session on the same service and budget whose knowledge store is empty: left
    to choose, it would page (page count unknown)."""
    async with bm.Session(
        bm.ApiKey(DEMO_API_KEY),
        base_url=r.server.url,
        clock=r.clock,
        budget=r.budget,
        retry=bm.RetryPolicy.never(),
        max_wait=3600.0,
        cache=bm.MemoryKnowledge(),
    ) as s:
        yield s


def submissions(r: Rig) -> int:
    return sum(1 for rec in r.emulator.requests if rec.header("Prefer") == "respond-async")


async def test_a_json_file_that_chose_an_export_resumes_its_job(tmp_path: Path) -> None:
    async with (
        rig(tmp_path, retry=bm.RetryPolicy.never(), job_seconds=30.0, job_retry_after=5.0) as r,
        Journal(tmp_path / "journal.sqlite3", clock=r.clock) as journal,
    ):
        reference = [row async for row in r.session.rows(CALLER_ID)]  # learns its pages
        target = r.out / "caller.json"
        item = bm.PullItem(CALLER_ID, path=target)  # left to choose: the export is cheaper
        logged = len(r.emulator.requests)
        assert (await r.session.choose_way(item)).use_async is True
        assert len(r.emulator.requests) == logged, "choosing costs no request"
        r.emulator.faults.add(Fault(FaultKind.SERVER_ERROR, path_contains="/status/", times=1))
        async with r.session.pull_many([item], journal=journal) as pull:
            (first,) = await pull.collect()
        assert isinstance(first.error, bm.ApiError)
        assert first.use_async is True
        entry = await journal.get(item_key(item))
        assert entry is not None
        assert (entry.state, entry.use_async) == ("submitted", True)
        assert submissions(r) == 1
        # The next run would page (it knows nothing): the journal's way wins, the job resumes.
        async with knowing_nothing(r) as s:
            assert (await s.choose_way(item)).use_async is False
            # Its estimate counts it the way the pull will continue it: the job.
            assert (await s.estimate([item])).items[0].kind == "pages"
            assert (await s.estimate([item], journal=journal)).items[0].kind == "job"
            assert s.requests_sent == 0
            events: list[bm.PullEvent] = []
            before = len(r.emulator.requests)
            async with s.pull_many([item], journal=journal, on_event=events.append) as pull:
                (second,) = await pull.collect()
        assert second.ok, second.error
        assert second.use_async is True
        assert "resumed" in [e.kind for e in events]
        assert submissions(r) == 1, "no second submission"
        seen = r.emulator.requests[before:]
        assert seen
        assert all("/status/" in rec.path for rec in seen), "polls only"
        assert json.loads(target.read_text()) == reference
        assert second.rows == len(reference)
        assert (await journal.get(item_key(item))).state == "done"  # type: ignore[union-attr]


async def test_a_journal_of_the_earlier_format_resumes_its_page_checkpoint(
    tmp_path: Path,
) -> None:
    """A version-1 journal (items keyed with the way, False for "let the pull choose"; no
    way recorded) is upgraded in place; its JSON file continues from the page checkpoint,
    although the pull would now choose the export."""
    async with (
        rig(tmp_path, retry=bm.RetryPolicy.never()) as r,
        Journal(tmp_path / "new.sqlite3", clock=r.clock) as journal,
    ):
        reference = await r.session.export(CALLER_ID, tmp_path / "ref.json", format="json")
        fault_free = len(r.emulator.requests)
        target = r.out / "caller.json"
        paged = bm.PullItem(CALLER_ID, path=target, use_async=False)
        r.emulator.faults.add(
            Fault(FaultKind.DELAY, path_contains="$skiptoken", times=2, seconds=0)
        )
        r.emulator.faults.add(Fault(FaultKind.SERVER_ERROR, path_contains="$skiptoken", times=1))
        async with r.session.pull_many([paged], journal=journal) as pull:
            (first,) = await pull.collect()
        assert not first.ok
        entry = await journal.get(item_key(paged))
        assert entry is not None
        assert entry.state == "paging"
        # The same entry as version 1 wrote it: the same key, no way column.
        old = tmp_path / "v1.sqlite3"
        with contextlib.closing(sqlite3.connect(old)) as conn, conn:
            conn.execute(V1_SCHEMA)
            conn.execute(
                "INSERT INTO items VALUES (?, ?, ?, 'paging', NULL, ?, ?, ?, ?, ?, ?)",
                (
                    entry.key,
                    entry.label,
                    entry.path,
                    entry.next_link,
                    entry.part,
                    entry.offset,
                    entry.pages,
                    entry.rows,
                    entry.updated_at,
                ),
            )
            conn.execute("PRAGMA user_version = 1")
        item = bm.PullItem(CALLER_ID, path=target)  # left to choose
        assert item_key(item) != entry.key
        assert (await r.session.choose_way(item)).use_async is True
        resume_at = len(r.emulator.requests)
        async with (
            Journal(old, clock=r.clock) as v1,
            r.session.pull_many([item], journal=v1) as pull,
        ):
            (second,) = await pull.collect()
            after = await v1.get(entry.key)
        assert second.ok, second.error
        assert second.use_async is False, "the checkpoint's way: paging"
        assert target.read_bytes() == reference.read_bytes()
        assert after is not None
        assert (after.state, after.use_async) == ("done", False)
        seen = r.emulator.requests[resume_at:]
        assert not any(rec.header("Prefer") == "respond-async" for rec in seen)
        assert entry.next_link is not None
        assert entry.next_link.endswith(seen[0].target), "continued from the checkpoint"
        assert len(seen) == fault_free - entry.pages
        assert leftovers(r.out) == []
    with contextlib.closing(sqlite3.connect(old)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2

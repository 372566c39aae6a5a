"""The crash-resume journal: the SQLite file itself, and bulk pulls resumed from it in-process
(a failed run stands in for the crash; tests/test_crash_resume.py does it with SIGKILL)."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

import brightmetrics_async as bm
from brightmetrics_async._journal import Journal, default_journal_path
from brightmetrics_async._pull_items import item_key
from brightmetrics_async.testing import Fault, FaultKind

from ._reliability import AGENT_DETAIL, CALLER_ID, SUMMARY, acquired, leftovers, rig

pytestmark = pytest.mark.anyio


# -- the file ----------------------------------------------------------------------------------


async def test_default_path_is_beside_the_budget() -> None:
    assert default_journal_path() == bm.default_budget_path().parent / "journal.sqlite3"
    assert Journal().path == default_journal_path()


async def test_entries_move_through_their_states_one_transaction_each(tmp_path: Path) -> None:
    async with Journal(tmp_path / "j.sqlite3") as j:
        started = await j.start("k1", label="Agent Detail", path="/tmp/a.json")
        assert started.state == "started"
        await j.record_token("k1", '{"v":1}')
        assert (await j.get("k1")).state == "submitted"  # type: ignore[union-attr]
        again = await j.start("k1", label="Agent Detail", path="/tmp/a.json")
        assert again.token == '{"v":1}', "a restart keeps what was recorded"
        await j.record_checkpoint(
            "k1", next_link="http://127.0.0.1/x?$skiptoken=a", part="/p", offset=10, pages=2, rows=5
        )
        entry = await j.get("k1")
        assert entry is not None
        assert (entry.state, entry.offset, entry.pages, entry.rows) == ("paging", 10, 2, 5)
        await j.mark_done("k1")
        entry = await j.get("k1")
        assert entry is not None
        assert (entry.state, entry.token, entry.next_link, entry.part) == ("done", None, None, None)
        await j.reset("k1")
        assert (await j.get("k1")).state == "started"  # type: ignore[union-attr]
        await j.forget("k1")
        assert await j.get("k1") is None
        assert await j.entries() == []
    # Another connection (another process) sees every committed update at once.
    with contextlib.closing(sqlite3.connect(tmp_path / "j.sqlite3")) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2  # v2: the way


async def test_links_with_user_information_are_not_journaled(tmp_path: Path) -> None:
    async with Journal(tmp_path / "j.sqlite3") as j:
        await j.start("k", label="x", path=None)
        with pytest.raises(bm.ConfigurationError):
            await j.record_checkpoint(
                "k", next_link="https://u:pw@h/x", part="/p", offset=1, pages=1, rows=1
            )
        with pytest.raises(bm.ConfigurationError):
            await j.record_token("k", '{"status_url":"https://u:pw@h/s"}')
    assert b"pw@" not in (tmp_path / "j.sqlite3").read_bytes()


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(bm.ConfigurationError, match="newer"):
        async with Journal(path) as j:
            await j.entries()


async def test_an_unusable_path_is_a_typed_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(bm.TransportError):
        async with Journal(tmp_path / "file" / "j.sqlite3") as j:
            await j.entries()


def test_item_keys_are_stable_and_distinct(tmp_path: Path) -> None:
    a = bm.PullItem(CALLER_ID, path=tmp_path / "a.json")
    assert item_key(a) == item_key(bm.PullItem(CALLER_ID, path=tmp_path / "a.json"))
    others = [
        bm.PullItem(CALLER_ID, path=tmp_path / "b.json"),
        bm.PullItem(CALLER_ID, format="csv", path=tmp_path / "a.json"),
        bm.PullItem(CALLER_ID, path=tmp_path / "a.json", use_async=True),
        bm.PullItem(CALLER_ID, path=tmp_path / "a.json", filter="Media_Type eq 'Voice'"),
        bm.PullItem(AGENT_DETAIL, path=tmp_path / "a.json"),
    ]
    assert len({item_key(a), *map(item_key, others)}) == 1 + len(others)


# -- resuming bulk pulls -----------------------------------------------------------------------


async def test_checkpoint_then_resume_spends_exactly_one_fault_free_pull(tmp_path: Path) -> None:
    async with (
        rig(tmp_path, retry=bm.RetryPolicy.never()) as r,
        Journal(tmp_path / "journal.sqlite3", clock=r.clock) as journal,
    ):
        reference = await r.session.export(CALLER_ID, tmp_path / "ref.json", format="json")
        fault_free = len(r.emulator.requests)
        target = r.out / "caller.json"
        # Forced to page (its page count is learned: left to choose, it would export, #12).
        item = bm.PullItem(CALLER_ID, path=target, use_async=False)
        # Page 4 fails once (no retry): the first run stops after three good pages.
        skip_pages = 3
        r.emulator.faults.add(
            Fault(FaultKind.DELAY, path_contains="$skiptoken", times=skip_pages - 1, seconds=0)
        )
        r.emulator.faults.add(Fault(FaultKind.SERVER_ERROR, path_contains="$skiptoken", times=1))
        mark = len(r.emulator.requests)
        async with r.session.pull_many([item], journal=journal) as pull:
            (first,) = await pull.collect()
        assert isinstance(first.error, bm.ApiError)
        assert first.pages == skip_pages
        assert not target.exists(), "no final file while incomplete"
        entry = await journal.get(item_key(item))
        assert entry is not None
        assert (entry.state, entry.pages) == ("paging", skip_pages)
        assert entry.part is not None
        assert entry.next_link is not None
        assert Path(entry.part).stat().st_size == entry.offset, "the kept pages are on disk"
        resume_at = len(r.emulator.requests)
        async with r.session.pull_many([item], journal=journal) as pull:
            (second,) = await pull.collect()
        assert second.ok, second.error
        assert target.read_bytes() == reference.read_bytes(), "complete, byte for byte"
        assert entry.next_link.endswith(r.emulator.requests[resume_at].target)
        assert leftovers(r.out) == []
        assert (await journal.get(item_key(item))).state == "done"  # type: ignore[union-attr]
        targets = [rec.target for rec in r.emulator.requests[mark:]]
        ok = [rec.target for rec in r.emulator.requests[mark:] if rec.status == 200]
        # The failed request is the only one spent twice; every page was read once.
        assert len(ok) == len(set(ok)) == fault_free
        assert len(targets) == fault_free + 1
        assert await r.spent() == len(r.emulator.requests)
        assert acquired(r.session) == 0


async def test_done_items_are_skipped_with_no_request(tmp_path: Path) -> None:
    async with rig(tmp_path) as r, Journal(tmp_path / "journal.sqlite3", clock=r.clock) as journal:
        items = [
            bm.PullItem(CALLER_ID, path=r.out / "caller.json"),
            bm.PullItem(SUMMARY, format="csv", path=r.out / "summary.csv"),
            bm.PullItem(SUMMARY, format="pdf", path=r.out / "summary.pdf", use_async=True),
        ]
        async with r.session.pull_many(items, journal=journal) as pull:
            assert all(res.ok and not res.skipped for res in await pull.collect())
        sent = len(r.emulator.requests)
        contents = [i.path.read_bytes() for i in items if i.path is not None]
        async with r.session.pull_many(items, journal=journal) as pull:
            again = await pull.collect()
        assert all(res.ok and res.skipped for res in again)
        assert [res.value for res in again] == [i.path for i in items]
        assert len(r.emulator.requests) == sent, "nothing was asked again"
        assert [i.path.read_bytes() for i in items if i.path is not None] == contents
        # An output deleted since is pulled again.
        (r.out / "summary.csv").unlink()
        async with r.session.pull_many(items, journal=journal) as pull:
            third = await pull.collect()
        assert [res.skipped for res in third] == [True, False, True]
        assert (r.out / "summary.csv").read_bytes() == contents[1]


async def test_a_submitted_job_is_resumed_not_resubmitted(tmp_path: Path) -> None:
    async with (
        rig(tmp_path, retry=bm.RetryPolicy.never(), job_seconds=30.0, job_retry_after=5.0) as r,
        Journal(tmp_path / "journal.sqlite3", clock=r.clock) as journal,
    ):
        reference = await r.session.download(SUMMARY, format="pdf")
        target = r.out / "job.pdf"
        item = bm.PullItem(SUMMARY, format="pdf", path=target, use_async=True)
        # Polls fail: the first run ends with the job still running on the server.
        r.emulator.faults.add(Fault(FaultKind.SERVER_ERROR, path_contains="/status/", times=1))
        async with r.session.pull_many([item], journal=journal) as pull:
            (first,) = await pull.collect()
        assert isinstance(first.error, bm.ApiError)
        assert first.token is not None
        entry = await journal.get(item_key(item))
        assert entry is not None
        assert entry.state == "submitted"
        assert entry.token == first.token or entry.token is not None
        events: list[str] = []
        async with r.session.pull_many(
            [item], journal=journal, on_event=lambda e: events.append(e.kind)
        ) as pull:
            (second,) = await pull.collect()
        assert second.ok, second.error
        assert target.read_bytes() == reference
        assert "resumed" in events
        assert "submitted" not in events
        submissions = [rec for rec in r.emulator.requests_to(SUMMARY) if rec.status == 202]
        assert len(submissions) == 1, "the job was submitted once"
        assert len(list(r.emulator.jobs)) == 1
        assert await r.spent() == len(r.emulator.requests)


async def test_a_job_past_its_hour_is_submitted_again(tmp_path: Path) -> None:
    async with (
        rig(tmp_path, retry=bm.RetryPolicy.never(), job_seconds=30.0, job_retry_after=5.0) as r,
        Journal(tmp_path / "journal.sqlite3", clock=r.clock) as journal,
    ):
        item = bm.PullItem(SUMMARY, path=r.out / "job.json", use_async=True)
        r.emulator.faults.add(Fault(FaultKind.SERVER_ERROR, path_contains="/status/", times=1))
        async with r.session.pull_many([item], journal=journal) as pull:
            (first,) = await pull.collect()
        assert not first.ok
        r.clock.advance(2 * 3600)
        async with r.session.pull_many([item], journal=journal) as pull:
            (second,) = await pull.collect()
        assert second.ok, second.error
        assert len(list(r.emulator.jobs)) == 2, "the expired job was submitted afresh"
        assert (r.out / "job.json").exists()


async def test_a_job_the_server_forgot_is_submitted_again(tmp_path: Path) -> None:
    async with (
        rig(tmp_path, retry=bm.RetryPolicy.never(), job_seconds=30.0, job_retry_after=5.0) as r,
        Journal(tmp_path / "journal.sqlite3", clock=r.clock) as journal,
    ):
        item = bm.PullItem(SUMMARY, format="csv", path=r.out / "job.csv", use_async=True)
        r.emulator.faults.add(Fault(FaultKind.SERVER_ERROR, path_contains="/status/", times=1))
        async with r.session.pull_many([item], journal=journal) as pull:
            (first,) = await pull.collect()
        assert not first.ok
        r.emulator.faults.add(Fault(FaultKind.STATUS_NOT_FOUND, path_contains="/status/", times=1))
        async with r.session.pull_many([item], journal=journal) as pull:
            (second,) = await pull.collect()
        assert second.ok, second.error
        assert len(list(r.emulator.jobs)) == 2


async def test_an_expired_page_checkpoint_restarts_the_item(tmp_path: Path) -> None:
    async with (
        rig(tmp_path, retry=bm.RetryPolicy.never(), skiptoken_ttl=600.0) as r,
        Journal(tmp_path / "journal.sqlite3", clock=r.clock) as journal,
    ):
        reference = await r.session.export(AGENT_DETAIL, tmp_path / "ref.json", format="json")
        target = r.out / "agents.json"
        item = bm.PullItem(AGENT_DETAIL, path=target, use_async=False)  # pages (see above)
        r.emulator.faults.add(
            Fault(FaultKind.DELAY, path_contains="$skiptoken", times=1, seconds=0)
        )
        r.emulator.faults.add(Fault(FaultKind.SERVER_ERROR, path_contains="$skiptoken", times=1))
        async with r.session.pull_many([item], journal=journal) as pull:
            (first,) = await pull.collect()
        assert not first.ok
        r.clock.advance(3600)  # the server forgets its paging context
        async with r.session.pull_many([item], journal=journal) as pull:
            (second,) = await pull.collect()
        assert second.ok, second.error
        assert target.read_bytes() == reference.read_bytes()
        assert leftovers(r.out) == []


async def test_clear_removes_entries_and_kept_files(tmp_path: Path) -> None:
    async with (
        rig(tmp_path, retry=bm.RetryPolicy.never()) as r,
        Journal(tmp_path / "journal.sqlite3", clock=r.clock) as journal,
    ):
        item = bm.PullItem(CALLER_ID, path=r.out / "caller.json", use_async=False)
        r.emulator.faults.add(Fault(FaultKind.SERVER_ERROR, path_contains="$skiptoken", times=1))
        async with r.session.pull_many([item], journal=journal) as pull:
            await pull.collect()
        assert len(leftovers(r.out)) == 1
        await journal.clear()
        assert leftovers(r.out) == []
        assert await journal.entries() == []

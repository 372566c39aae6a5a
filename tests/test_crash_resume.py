"""Crash resume with a real process and a real SIGKILL.

The emulator runs in this process on a virtual clock the test holds still, so the two async
jobs stay running while the first worker runs. The worker (``tests/_pull_worker.py``) freezes
itself at a known point - jobs submitted and journaled, the CSV written, three JSON pages
checkpointed - and is killed there with SIGKILL. The clock then moves past the jobs' duration and
a second worker finishes the work from the journal: jobs resumed, not resubmitted; pages
continued, not re-read; every output complete; nothing spent twice.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import anyio
import pytest

import brightmetrics_async as bm
from brightmetrics_async._journal import Journal
from brightmetrics_async.testing import (
    DEMO_API_KEY,
    Emulator,
    EmulatorConfig,
    EmulatorServer,
    VirtualClock,
    serve,
)

from ._pull_worker import AGENT_DETAIL, CALLER_ID, SUMMARY, items
from ._reliability import leftovers

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parent.parent
STOP_AFTER_PAGES = 3


def worker(server: EmulatorServer, tmp: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tests._pull_worker",
        server.url,
        str(tmp / "out"),
        str(tmp / "journal.sqlite3"),
        str(tmp / "budget.sqlite3"),
        *extra,
    ]


def is_poll(target: str) -> bool:
    return "/status/" in target


async def test_sigkill_mid_pull_then_restart_finishes_without_spending_twice(
    tmp_path: Path,
) -> None:
    clock = VirtualClock(autojump=False)  # held still: the jobs run until the test says
    emulator = Emulator(
        EmulatorConfig(quota_limit=None, job_seconds=20.0, job_retry_after=1.0),
        clock=clock.time,
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    marker = tmp_path / "stopped"
    async with serve(emulator) as server:
        # -- run 1: killed mid-pull -----------------------------------------------------------
        proc = await anyio.open_process(
            worker(server, tmp_path, str(STOP_AFTER_PAGES), str(marker)), cwd=ROOT, env=env
        )
        try:
            with anyio.fail_after(30):
                while not marker.exists():
                    assert proc.returncode is None, "the worker ended before its stop point"
                    await anyio.sleep(0.02)
            async with Journal(tmp_path / "journal.sqlite3") as journal:
                entries = {Path(e.path or "").name: e for e in await journal.entries()}
            assert entries["summary.pdf"].state == "submitted"
            assert entries["agents.csv"].state == "submitted"
            assert entries["summary.csv"].state == "done"
            assert entries["callers.json"].state == "paging"
            assert entries["callers.json"].pages == STOP_AFTER_PAGES
            checkpoint = entries["callers.json"].next_link
            assert checkpoint is not None
            proc.send_signal(signal.SIGKILL)
            with anyio.fail_after(10):
                await proc.wait()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.returncode == -signal.SIGKILL
        first_run = len(emulator.requests)
        out = tmp_path / "out"
        assert not (out / "callers.json").exists(), "no final file for the unfinished pull"
        assert not (out / "summary.pdf").exists()

        # -- run 2: the jobs are done by now; finish from the journal --------------------------
        clock.advance(60.0)
        second = await anyio.run_process(worker(server, tmp_path), cwd=ROOT, env=env, check=False)
        assert second.returncode == 0, second.stderr.decode()
        results = [json.loads(line) for line in second.stdout.decode().splitlines()]
        assert [r["error"] for r in results] == [None] * 4
        assert [r["skipped"] for r in results] == [False, False, True, False]
        requests = list(emulator.requests)
        run2 = requests[first_run:]

        # Jobs still within their hour were resumed, never submitted again.
        assert len(list(emulator.jobs)) == 2
        submissions = [r for r in requests if r.header("Prefer") == "respond-async"]
        assert len(submissions) == 2
        assert all(requests.index(s) < first_run for s in submissions)
        # The JSON pull continued at its checkpoint and read no page twice.
        pages = [r.target for r in requests if CALLER_ID in r.target]
        assert len(pages) == len(set(pages))
        run2_pages = [r.target for r in run2 if CALLER_ID in r.target]
        assert checkpoint.endswith(run2_pages[0])
        assert len(pages) - len(run2_pages) == STOP_AFTER_PAGES
        # The finished CSV was not asked for again.
        assert not [r for r in run2 if SUMMARY in r.target and not is_poll(r.target)]
        # Every request of both runs spent budget, and the budget file says so.
        async with bm.SQLiteBudget(tmp_path / "budget.sqlite3") as budget:
            assert (await budget.snapshot("acme")).spent == len(requests)

        # -- the outputs, against a fault-free pull of the same data --------------------------
        async with bm.Session(
            bm.ApiKey(DEMO_API_KEY), base_url=server.url, budget=bm.MemoryBudget()
        ) as s:
            ref = tmp_path / "ref"
            fault_free = len(emulator.requests)
            expected = {
                "summary.pdf": await s.download(SUMMARY, format="pdf"),
                "agents.csv": await s.download(AGENT_DETAIL, format="csv"),
                "summary.csv": await s.download(SUMMARY, format="csv"),
                "callers.json": (
                    await s.export(CALLER_ID, ref / "c.json", format="json")
                ).read_bytes(),
            }
            reference_pages = len(
                [r for r in emulator.requests[fault_free:] if CALLER_ID in r.target]
            )
        for item in items(out):
            assert item.path is not None
            assert item.path.read_bytes() == expected[item.path.name], item.path.name
        assert leftovers(out) == []
        # Apart from status polls (their number follows the clock), both runs together sent
        # exactly what one uninterrupted pull sends: 2 submissions, 1 CSV, every page once.
        non_polls = [r for r in requests if not is_poll(r.target)]
        assert len(non_polls) == 2 + 1 + reference_pages
        assert DEMO_API_KEY.encode() not in (tmp_path / "journal.sqlite3").read_bytes()

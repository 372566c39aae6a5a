"""``pull`` chooses each report's way by default (#12): paging or an asynchronous export,
whichever the dry run predicts to cost fewer requests from what earlier runs learned;
``--async`` / ``--sync`` (and a plan's ``async``) force it. Requests are counted from the
emulator's log; the CLI runs in fresh processes sharing one knowledge store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from brightmetrics_async.testing import EmulatorConfig

from ._cli_support import creds, emulator, run_cli

pytestmark = pytest.mark.anyio

SUMMARY = "Service Summary"  # one page
CALLER_ID = "Search by CallerID"  # a detail report: many pages
CALLER_GUID = "68c8e362-b2c2-6f6d-498b-af782b253239"


def ways(data: dict[str, Any]) -> dict[str, bool | None]:
    return {item["report"]: item["async"] for item in data["items"]}


async def test_pull_chooses_each_way_and_its_estimate_is_the_spend(tmp_path: Path) -> None:
    # Jobs finish before the first poll (Retry-After 1 s): a learned job costs 2 requests.
    config = EmulatorConfig(job_seconds=0.2, job_retry_after=1.0)
    async with emulator(config) as server:
        log = server.emulator.requests

        async def pull(n: int, *flags: str) -> tuple[dict[str, Any], list[Any]]:
            before = len(log)
            out = tmp_path / f"run{n}"
            args = ("pull", SUMMARY, CALLER_ID, "-f", "json", "-o", str(out), "--json", *flags)
            run = await run_cli(*args, *creds(server))
            assert run.code == 0, run.err
            return json.loads(run.out), list(log[before:])

        cold, _ = await pull(1)
        warm, warm_log = await pull(2)
        forced_sync, sync_log = await pull(3, "--sync")
        forced_async, async_log = await pull(4, "--async")
        await pull(5)  # a third learned duration of the CallerID export: its polls aim
        before = len(log)
        dry = await run_cli(
            "pull", SUMMARY, CALLER_ID, "-f", "json", "-o", str(tmp_path / "run6"), "--dry-run",
            "--json", *creds(server),
        )  # fmt: skip
        assert len(log) == before, "a dry run sends nothing"
        real, real_log = await pull(6)
    # Cold: page counts unknown, both page. Warm: the one-page summary pages, the report
    # learned to take many pages is exported asynchronously.
    assert ways(cold) == {SUMMARY: False, CALLER_ID: False}
    assert [i["way"] for i in cold["items"]] == ["sync", "sync"]
    assert ways(warm) == {SUMMARY: False, CALLER_ID: True}
    submitted = [r for r in warm_log if r.header("Prefer") == "respond-async"]
    assert len(submitted) == 1
    assert CALLER_GUID in submitted[0].target
    assert warm["requests"] < cold["requests"]
    same = json.loads((tmp_path / "run2" / "search-by-callerid.json").read_text())
    assert same == json.loads((tmp_path / "run1" / "search-by-callerid.json").read_text())
    assert [i["rows"] for i in warm["items"]] == [i["rows"] for i in cold["items"]]
    # Forced either way.
    assert ways(forced_sync) == {SUMMARY: False, CALLER_ID: False}
    assert not any(r.header("Prefer") == "respond-async" for r in sync_log)
    assert ways(forced_async) == {SUMMARY: True, CALLER_ID: True}
    assert sum(r.header("Prefer") == "respond-async" for r in async_log) == 2
    # Warm with nothing guessed: the dry run and the cost line are the spend.
    estimate = json.loads(dry.out)["estimate"]
    assert estimate["guesses"] == []
    assert [i["kind"] for i in estimate["items"]] == ["pages", "job"]
    assert ways(real) == {SUMMARY: False, CALLER_ID: True}
    assert estimate["total"] == real["estimate"]["total"] == real["requests"] == len(real_log)


async def test_a_plan_sets_the_way_per_report_and_the_estimate_counts_it(tmp_path: Path) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text(
        "[[report]]\n"
        f'report = "{CALLER_ID}"\nformat = "json"\nfile = "chosen.json"\n\n'
        "[[report]]\n"
        f'report = "{CALLER_ID}"\nformat = "json"\nfile = "paged.json"\nasync = false\n\n'
        "[[report]]\n"
        f'report = "{SUMMARY}"\nformat = "json"\nfile = "job.json"\nasync = true\n\n'
        "[[report]]\n"
        f'report = "{SUMMARY}"\nformat = "csv"\n'
    )
    out = tmp_path / "out"
    async with emulator() as server:
        log = server.emulator.requests
        warmup = await run_cli("pull", CALLER_ID, "-f", "json", "-o", str(out), *creds(server))
        assert warmup.code == 0, warmup.err
        before = len(log)
        dry = await run_cli("pull", "--plan", str(plan), "-o", str(out), "--dry-run", "--json",
                            *creds(server))  # fmt: skip
        assert len(log) == before
    assert dry.code == 0, dry.err
    items = json.loads(dry.out)["estimate"]["items"]
    # Left to choose: the export (pages learned); forced: pages, a job; a CSV: one request.
    assert [i["kind"] for i in items] == ["job", "pages", "job", "download"]
    assert items[1]["requests"] > items[0]["requests"]
    assert items[3]["requests"] == 1


async def test_plan_and_flags_refuse_to_mix(tmp_path: Path) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text(f'[[report]]\nreport = "{SUMMARY}"\n')
    for flag in ("--async", "--sync"):
        run = await run_cli("pull", "--plan", str(plan), "-o", str(tmp_path), flag)
        assert run.code == 2
        assert "--plan sets format, filter, timezone and async" in run.err

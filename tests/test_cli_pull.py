"""``brightmetrics pull`` (and ``job``) in a subprocess: plans, progress displays, the budget
refusal, Ctrl-C with resume tokens, and picking a job up again."""

from __future__ import annotations

import json
import shlex
import signal
import time
from pathlib import Path

import anyio
import pytest
from anyio.streams.text import TextReceiveStream

import brightmetrics_async as bm
from brightmetrics_async.testing import DEMO_API_KEY, EmulatorConfig, EmulatorServer

from ._cli_support import (
    SCRIPT,
    creds,
    emulator,
    key_env,
    run_cli,
    run_in_pty,
    sigint_not_ignored,
)

pytestmark = pytest.mark.anyio

AGENT_DETAIL = "6f40b845-fb28-4547-b73b-e11ce29f481b"
SERVICE_SUMMARY = "03bd1235-eb2c-410f-a415-fefacd98df41"
AGENT_ACTIVITY = "041cee41-ac5f-4455-a02d-022705afe417"
FAST_JOBS = EmulatorConfig(job_seconds=0.3, job_retry_after=1.0)


def _plan(path: Path, body: str) -> Path:
    path.write_text(body)
    return path


PLAN = f"""
parallel = 3

[[report]]
report = "Service Summary"
format = "csv"

[[report]]
report = "{AGENT_DETAIL}"
format = "json"
filter = "Media_Type eq 'Voice'"
timezone = "Eastern Standard Time"
file = "voice.json"

[[report]]
report = "{AGENT_ACTIVITY}"
format = "xlsx"
async = true
"""


async def test_plan_pull_with_plain_lines_when_not_a_terminal(tmp_path: Path) -> None:
    plan = _plan(tmp_path / "plan.toml", PLAN)
    out = tmp_path / "out"
    async with emulator(FAST_JOBS) as server:
        run = await run_cli("pull", "--plan", str(plan), "-o", str(out), *creds(server))
        data_targets = [r.target for r in server.emulator.requests_to(AGENT_DETAIL)]
    assert run.code == 0, run.err
    assert "\x1b[" not in run.out, "no control sequences when stdout is not a terminal"
    lines = run.out.splitlines()
    assert any(line.startswith("started") for line in lines)
    # The plan names a report by title, so the service document is read: the GUID entry's
    # title is known, and names its line and its file (issue 15, point 7).
    assert any(
        line.startswith("submitted") and "Agent Activity Summary - All" in line for line in lines
    )
    assert sum(line.startswith("done") for line in lines) == 3
    assert "This pull will cost about" in run.err
    assert "3 of 3 files written" in run.err
    assert sorted(p.name for p in out.iterdir()) == [
        "agent-activity-summary-all-saved-msc-agents.xlsx",
        "service-summary.csv",
        "voice.json",
    ]
    rows = json.loads((out / "voice.json").read_text())
    assert rows
    assert all(r["Media_Type"] == "Voice" for r in rows)
    assert rows[0]["Call_Date_Time"].endswith(("-05:00", "-04:00"))
    assert any("%24filter=Media_Type" in t or "$filter=Media_Type" in t for t in data_targets)


async def test_pull_json_output_matches_estimate_and_requests(tmp_path: Path) -> None:
    async with emulator(FAST_JOBS) as server:
        run = await run_cli(
            "pull",
            "--all",
            "-f",
            "csv",
            "-f",
            "pdf",
            "-o",
            str(tmp_path),
            "--json",
            "--parallel",
            "6",
            *creds(server),
        )
        seen = len(server.emulator.requests)
    assert run.code == 0, run.err
    data = json.loads(run.out)
    assert len(data["items"]) == 12
    assert all(i["ok"] for i in data["items"])
    # --all spends the service document first; every item is one download.
    assert data["requests"] == seen == 13
    assert data["estimate"]["total"] == 12
    assert data["remaining"] == 150 - 13
    assert {Path(i["path"]).suffix for i in data["items"]} == {".csv", ".pdf"}


async def test_live_progress_under_a_pseudo_terminal(tmp_path: Path) -> None:
    async with emulator(FAST_JOBS) as server:
        args = [
            "pull",
            SERVICE_SUMMARY,
            AGENT_DETAIL,
            "-f",
            "csv",
            "--async",
            "-o",
            str(tmp_path),
        ]
        env = key_env(server, TERM="xterm-256color")
        env.pop("NO_COLOR")
        code, output = await anyio.to_thread.run_sync(run_in_pty, args, env)
    text = output.decode(errors="replace")
    assert code == 0, text
    assert "\x1b[" in text, "rich drew with control sequences"
    assert "━" in text, "progress bars were drawn"
    assert "waiting: poll 1" in text or "polling (poll 1)" in text
    assert "pull (all)" in text
    assert "2/2 done" in text
    assert (tmp_path / f"{AGENT_DETAIL}.csv").stat().st_size > 0


async def _prespend(server: EmulatorServer, leave: int) -> str:
    account = bm.Session(bm.ApiKey(DEMO_API_KEY), base_url=server.url).account
    async with bm.SQLiteBudget() as budget:
        for _ in range(150 - leave):
            await budget.acquire(account)
    return account


async def test_pull_refuses_a_plan_that_does_not_fit_unless_yes(tmp_path: Path) -> None:
    items = [SERVICE_SUMMARY, AGENT_ACTIVITY, AGENT_DETAIL]
    async with emulator() as server:
        await _prespend(server, leave=2)
        refused = await run_cli("pull", *items, "-o", str(tmp_path), *creds(server))
        assert server.emulator.requests == [], "a refusal sends nothing"
        assert not list(tmp_path.iterdir())
        forced = await run_cli(
            "pull",
            *items,
            "-o",
            str(tmp_path),
            "--yes",
            "--json",
            "--parallel",
            "1",
            *creds(server),
        )
        seen = len(server.emulator.requests)
    assert refused.code == 6
    assert "needs about 3 requests but only 2 are left" in refused.err
    assert "--yes" in refused.err
    assert forced.code == 6, "the item that found no budget fails with the budget's code"
    data = json.loads(forced.out)
    assert [i["ok"] for i in data["items"]] == [True, True, False]
    assert data["items"][2]["error_class"] == "budget"
    assert seen == 2
    assert len(list(tmp_path.glob("*.csv"))) == 2


async def test_ctrl_c_leaves_no_partial_file_and_prints_resume_tokens(tmp_path: Path) -> None:
    # The emulator's clock is real time plus a shift the test controls: jobs stay pending
    # until the test moves the emulator past their duration.
    shift = [0.0]
    config = EmulatorConfig(job_seconds=600.0, job_retry_after=1.0)
    out = tmp_path / "out"
    async with emulator(config, clock=lambda: time.time() + shift[0]) as server:
        args = [
            "pull",
            SERVICE_SUMMARY,
            AGENT_DETAIL,
            "-f",
            "csv",
            "--async",
            "-o",
            str(out),
        ]
        with sigint_not_ignored():
            proc = await anyio.open_process([str(SCRIPT), *args], env=key_env(server))
        async with proc:
            assert proc.stdout is not None
            assert proc.stderr is not None
            seen = ""
            with anyio.fail_after(20):
                async for chunk in TextReceiveStream(proc.stdout):
                    seen += chunk
                    if seen.count("submitted") == 2 and "polled" in seen:
                        break
            proc.send_signal(signal.SIGINT)
            with anyio.fail_after(20):
                err = "".join([c async for c in TextReceiveStream(proc.stderr)])
                code = await proc.wait()
        assert code == 130, err
        assert "interrupted" in err
        assert list(out.iterdir()) == [], "no partial or temporary file is left"
        commands = [shlex.split(line) for line in err.splitlines() if "job resume" in line]
        assert len(commands) == 2
        tokens = {Path(c[-1]).name: c[c.index("resume") + 1] for c in commands}
        assert set(tokens) == {f"{SERVICE_SUMMARY}.csv", f"{AGENT_DETAIL}.csv"}
        token = tokens[f"{AGENT_DETAIL}.csv"]
        status = await run_cli("job", "status", token, "--no-poll", "--json", *creds(server))
        assert status.code == 0, status.err
        assert json.loads(status.out)["state"] == "pending"
        assert json.loads(status.out)["report"] == AGENT_DETAIL
        shift[0] = 700.0  # the export is finished now
        target = tmp_path / "resumed.csv"
        resumed = await run_cli("job", "resume", token, "-o", str(target), "--json", *creds(server))
        submissions = [r for r in server.emulator.requests if r.header("Prefer")]
    assert resumed.code == 0, resumed.err
    assert json.loads(resumed.out)["state"] == "done"
    assert target.read_text().startswith("Call_Date_Time")
    assert len(submissions) == 2, "resuming submits nothing new"


async def test_resume_rejects_a_broken_token_and_pull_rejects_bad_usage(tmp_path: Path) -> None:
    bad_plan = _plan(tmp_path / "bad.toml", '[[report]]\nreport = "x"\nformt = "csv"\n')
    async with emulator() as server:
        broken = await run_cli(
            "job", "resume", '{"v": 99}', "-o", str(tmp_path / "x"), *creds(server)
        )
        neither = await run_cli("pull", "-o", str(tmp_path), *creds(server))
        plan = await run_cli("pull", "--plan", str(bad_plan), "-o", str(tmp_path), *creds(server))
        fmt = await run_cli(
            "pull", SERVICE_SUMMARY, "-f", "docx", "-o", str(tmp_path), *creds(server)
        )
        seen = len(server.emulator.requests)
    assert broken.code == 7
    assert "job error" in broken.err
    assert neither.code == 2
    assert "exactly one of" in neither.err
    assert plan.code == 2
    assert "formt" in plan.err
    assert fmt.code == 2
    assert "unknown format" in fmt.err
    assert seen == 0

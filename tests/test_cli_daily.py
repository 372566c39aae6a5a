"""The command line in daily use (issue 15, points 4-10), each point through the installed
console script in a subprocess against the emulator (a pseudo-terminal where one matters)."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

import anyio
import pytest
from anyio.abc import Process
from anyio.streams.text import TextReceiveStream

import brightmetrics_async as bm
from brightmetrics_async._cli._ratelimit import duration
from brightmetrics_async.testing import EmulatorConfig, Fault, FaultKind

from ._cli_support import (
    SCRIPT,
    cli_env,
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
HELPDESK_TITLE = "Helpdesk Workgroup Service-Level Summary w/o Wait Time"

PLAN = f"""
[[report]]
report = "service summary"
format = "csv"

[[report]]
report = "{AGENT_DETAIL}"
format = "csv"
async = true

[[report]]
report = "Service Summary"
format = "pdf"
async = true
"""


async def _interrupt(proc: Process, until: re.Pattern[str]) -> tuple[int, str, str]:
    """Read stdout until ``until`` matches, send SIGINT, return code, stdout and stderr."""
    assert proc.stdout is not None
    assert proc.stderr is not None
    seen = ""
    with anyio.fail_after(30):
        async for chunk in TextReceiveStream(proc.stdout):
            seen += chunk
            if until.search(seen):
                break
    proc.send_signal(signal.SIGINT)
    with anyio.fail_after(30):
        err = "".join([c async for c in TextReceiveStream(proc.stderr)])
        code = await proc.wait()
    return code, seen, err


_TWO_JOBS_ONE_FILE = re.compile(r"(?s)(?=.*submitted.*submitted)(?=.*\ndone )")


# Tens of seconds when both cores are busy (pytest-xdist, a loaded machine): a wider limit
# than the suite's 60 s, which stays to catch a hang.
@pytest.mark.timeout(180)
async def test_pull_is_journaled_and_continues_after_ctrl_c(tmp_path: Path) -> None:
    shift = [0.0]
    config = EmulatorConfig(job_seconds=600.0, job_retry_after=1.0)
    plan = tmp_path / "plan.toml"
    plan.write_text(PLAN)
    out = tmp_path / "out"
    args = [str(SCRIPT), "pull", "--plan", str(plan), "-o", str(out)]
    async with emulator(config, clock=lambda: time.time() + shift[0]) as server:
        env = key_env(server)
        log = server.emulator.requests
        with sigint_not_ignored():
            first = await anyio.open_process(args, env=env)
        async with first:
            code1, _, err1 = await _interrupt(first, _TWO_JOBS_ONE_FILE)
        # --fresh starts over: the file is pulled again and both jobs are submitted again.
        with sigint_not_ignored():
            second = await anyio.open_process([*args, "--fresh"], env=env)
        async with second:
            code2, out2, err2 = await _interrupt(second, _TWO_JOBS_ONE_FILE)
        submitted_before = sum(1 for r in log if r.header("Prefer"))
        listed = await run_cli("job", "list", "--json", env=env)
        listed_text = await run_cli("job", "list", env=env)
        jobs = json.loads(listed.out)
        token = next(j["token"] for j in jobs if j["title"] == "Agent Detail")
        (tmp_path / "token").write_text(token + "\n")
        from_file = await run_cli(
            "job", "status", f"@{tmp_path / 'token'}", "--no-poll", "--json", env=env
        )
        from_stdin = await run_cli("job", "status", "-", "--no-poll", env=env, stdin=token)
        shift[0] = 700.0  # every job is finished now
        sync_before = len(
            [r for r in log if r.target.endswith(SERVICE_SUMMARY) and not r.header("Prefer")]
        )
        third = await run_cli(*args[1:], env=env)
        sync_after = len(
            [r for r in log if r.target.endswith(SERVICE_SUMMARY) and not r.header("Prefer")]
        )
        submitted_after = sum(1 for r in log if r.header("Prefer"))
        empty = await run_cli("job", "list", env=env)
        async with bm.Journal() as journal:  # the one the CLI used (same XDG directories)
            left = await journal.entries()
    assert code1 == code2 == 130, err1 + err2
    assert "Run the same command again to continue" in err1
    assert "Continuing" not in err2, "--fresh forgot the first run"
    assert "skipped" not in out2
    assert submitted_before == 4
    assert listed.code == 0, listed.err
    assert sorted((j["title"], j["format"]) for j in jobs) == [
        ("Agent Detail", "csv"),
        ("Service Summary", "pdf"),
    ]
    assert all(j["seconds_left"] > 3000 and j["age_seconds"] >= 0 for j in jobs)
    assert "2 unfinished jobs:" in listed_text.out
    assert "Agent Detail [csv]" in listed_text.out
    assert "left" in listed_text.out
    assert from_file.code == 0, from_file.err
    assert json.loads(from_file.out)["title"] == "Agent Detail"
    assert json.loads(from_file.out)["state"] == "pending"
    assert from_stdin.code == 0, from_stdin.err
    assert f"Report:     Agent Detail ({AGENT_DETAIL}) [csv]" in from_stdin.out
    # The rerun says it continues, skips the written file and resumes both jobs.
    assert third.code == 0, third.both
    assert "Continuing an earlier run of this pull: 1 file already written (skipped), " in (
        third.err
    )
    assert "2 jobs to resume" in third.err
    assert "skipped    Service Summary [csv]" in third.out
    assert third.out.count("resumed ") == 2
    assert sync_after == sync_before, "the written file was not pulled again"
    assert submitted_after == submitted_before, "no job was submitted again"
    assert sorted(p.name for p in out.iterdir()) == [
        "agent-detail.csv",
        "service-summary.csv",
        "service-summary.pdf",
    ]
    assert empty.out.strip() == "No unfinished jobs."
    # A complete pull is forgotten: the same command tomorrow pulls fresh data.
    assert left == []


async def test_job_tokens_of_gone_jobs_and_other_hosts(tmp_path: Path) -> None:
    config = EmulatorConfig(job_seconds=600.0, job_retry_after=1.0)
    async with emulator(config) as server:
        with sigint_not_ignored():
            proc = await anyio.open_process(
                [str(SCRIPT), "pull", SERVICE_SUMMARY, "--async", "-o", str(tmp_path)],
                env=key_env(server),
            )
        async with proc:
            code, _, err = await _interrupt(proc, re.compile("submitted"))
        assert "brightmetrics job resume" in err, err
        token = next(
            line.split()[3] for line in err.splitlines() if "brightmetrics job resume" in line
        )
        data = json.loads(token.strip("'"))
        other = json.dumps(
            {**data, "status_url": data["status_url"].replace("127.0.0.1", "localhost")}
        )
        gone = json.dumps(
            {**data, "status_url": re.sub(r"[0-9a-f]{8}", "00000000", data["status_url"], count=1)}
        )
        env = key_env(server)
        polled = await run_cli("job", "status", token.strip("'"), "--json", env=env)
        elsewhere = await run_cli("job", "status", other, env=env)
        vanished = await run_cli("job", "resume", gone, "-o", str(tmp_path / "v.csv"), env=env)
    assert code == 130
    assert polled.code == 0, polled.err
    assert json.loads(polled.out)["title"] == "Service Summary", "the title, not only the GUID"
    assert elsewhere.code == 7, elsewhere.both
    assert "for a job on http://localhost" in elsewhere.err
    assert vanished.code in (4, 7), vanished.both
    assert "resume with" not in vanished.err, "a job the server no longer knows is not resumable"


async def test_job_resume_never_shows_a_past_poll_time(tmp_path: Path) -> None:
    shift = [0.0]
    config = EmulatorConfig(job_seconds=600.0, job_retry_after=1.0)
    async with emulator(config, clock=lambda: time.time() + shift[0]) as server:
        with sigint_not_ignored():
            proc = await anyio.open_process(
                [str(SCRIPT), "pull", SERVICE_SUMMARY, "--async", "-o", str(tmp_path / "o")],
                env=key_env(server),
            )
        async with proc:
            _, _, err = await _interrupt(proc, re.compile("polled"))
        assert "brightmetrics job resume" in err, err
        token = next(
            line.split()[3] for line in err.splitlines() if "brightmetrics job resume" in line
        ).strip("'")
        shift[0] = 700.0
        # The token as a later reader gets it: its last poll long ago, its next one past.
        data = json.loads(token)
        moved = {k: data[k] - 120 for k in ("submitted_at", "expires_at", "last_poll_at")}
        token = json.dumps({**data, **moved})
        resumed = await run_cli(
            "job", "resume", token, "-o", str(tmp_path / "r.csv"), env=key_env(server)
        )
    assert resumed.code == 0, resumed.both
    assert "next poll: now" in resumed.err
    assert re.search(r"after \d+ polls?\.", resumed.out)


@pytest.mark.allow_429
async def test_a_429_says_until_when_why_and_what_to_do(tmp_path: Path) -> None:
    config = EmulatorConfig(quota_limit=1)
    async with emulator(config) as server:
        # Another machine's state: its knowledge store keeps the service document there,
        # so the next run here asks the server again (#12).
        elsewhere = cli_env(XDG_STATE_HOME=str(tmp_path / "elsewhere"))
        first = await run_cli("reports", *creds(server), env=elsewhere)
        refused = await run_cli("reports", *creds(server))
        shown = await run_cli("budget", *creds(server))
        local = await run_cli("reports", "--json", *creds(server))
        seen = [r.status for r in server.emulator.requests]
    assert first.code == 0
    assert seen == [200, 429], "the block is kept locally: the third run sends nothing"
    for run in (refused, local):
        assert run.code == 6, run.both
        line = next(x for x in run.err.splitlines() if "HTTP 429" in x)
        assert re.search(r"blocked until \d\d:\d\d (today|tomorrow), in 2[34] h \d+ min", line)
        assert "150 requests in 24 hours, shared with every other user" in line
        assert "reset button under My Account" in line
        assert "'brightmetrics budget reset'" in line, "one line, never cut"
    assert "Blocked:    until" in shown.out
    assert "reset button under My Account" in shown.out
    error = json.loads(local.out)["error"]
    assert error["code"] == "budget"
    assert error["exit_code"] == 6
    assert "HTTP 429" in error["message"]


async def test_budget_reset_confirms_on_a_terminal_and_needs_yes_without_one() -> None:
    async with emulator() as server:
        no_terminal = await run_cli("budget", "reset", *creds(server))
        as_json = await run_cli("budget", "reset", "--json", *creds(server))
        short = await run_cli("budget", "reset", "-y", *creds(server))
        env = key_env(server)
        code, output = await anyio.to_thread.run_sync(
            lambda: run_in_pty(["budget", "reset"], env, answers={b"[y/N]": b"n\n"})
        )
        top = await run_cli("--help")
    assert no_terminal.code == 11
    assert "needs a confirmation and there is no terminal: pass --yes" in no_terminal.err
    assert json.loads(as_json.out)["error"]["exit_code"] == 11
    assert short.code == 0, short.err
    assert "reset: 150 requests left" in short.out
    assert code == 11, output
    assert b"not confirmed; nothing was changed" in output
    assert " 11  declined" in top.out


# Tens of seconds when both cores are busy (pytest-xdist, a loaded machine): a wider limit
# than the suite's 60 s, which stays to catch a hang.
@pytest.mark.timeout(180)
async def test_output_for_pipes_scripts_and_people(tmp_path: Path) -> None:
    env = cli_env()
    env.pop("COLUMNS")
    async with emulator(EmulatorConfig(job_seconds=0.3, job_retry_after=1.0)) as server:
        env.update(BRIGHTMETRICS_URL=server.url)
        table = await run_cli("reports", *creds(server), env=env)
        missing = await run_cli(
            "export",
            "No Such Report At All",
            "-o",
            str(tmp_path / "x.csv"),
            "--json",
            *creds(server),
        )
        usage = await run_cli("pull", "-o", str(tmp_path), "--json", *creds(server))
        csv_json = await run_cli(
            "export", SERVICE_SUMMARY, "-o", str(tmp_path / "s.csv"), "--json", *creds(server)
        )
        rows_json = await run_cli(
            "export", SERVICE_SUMMARY, "-o", str(tmp_path / "s.json"), "--json", *creds(server)
        )
        budget = await run_cli("budget", "--json", *creds(server))
        text = await run_cli(
            "pull",
            SERVICE_SUMMARY,
            "-f",
            "csv",
            "-f",
            "json",
            "--async",
            "-o",
            str(tmp_path / "t"),
            *creds(server),
        )
        helps = [await run_cli(c, "--help") for c in ("export", "emulator", "job")]
    assert table.code == 0
    assert HELPDESK_TITLE in table.out, "nothing is cut when stdout is a pipe"
    assert "…" not in table.out
    assert missing.code == 4
    error = json.loads(missing.out)["error"]
    assert error == {
        "code": "not-found",
        "message": error["message"],
        "exit_code": 4,
        "token": None,
    }
    assert "No Such Report At All" in error["message"]
    assert usage.code == 2
    assert json.loads(usage.out)["error"]["code"] == "usage"
    assert json.loads(csv_json.out)["rows"] is None, "a CSV's rows are not counted"
    assert json.loads(rows_json.out)["rows"] == len(json.loads((tmp_path / "s.json").read_text()))
    snap = json.loads(budget.out)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", snap["at"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", snap["next_free_at"])
    assert text.code == 0, text.err
    counted = re.findall(r"\b(\d+) (poll|page|row|request|file)(s?)\b", text.out + text.err)
    assert counted
    assert all((n == "1") == (s == "") for n, _, s in counted), counted
    for run in helps:
        assert run.code == 0
        assert "Exit codes" not in run.out, "the table is in the top-level help only"


async def test_live_rows_show_the_format(tmp_path: Path) -> None:
    async with emulator(EmulatorConfig(job_seconds=0.5, job_retry_after=1.0)) as server:
        env = key_env(server, TERM="xterm-256color")
        env.pop("NO_COLOR")
        code, output = await anyio.to_thread.run_sync(
            run_in_pty,
            ["pull", SERVICE_SUMMARY, "-f", "csv", "-f", "pdf", "--async", "-o", str(tmp_path)],
            env,
        )
    text = output.decode(errors="replace")
    assert code == 0, text
    assert f"{SERVICE_SUMMARY} [csv, async]" in text
    assert f"{SERVICE_SUMMARY} [pdf, async]" in text


async def test_parquet_files_follow_the_umask_like_every_other_format(tmp_path: Path) -> None:
    async with emulator() as server:
        runs = [
            await run_cli("export", SERVICE_SUMMARY, "-o", str(tmp_path / name), *creds(server))
            for name in ("s.parquet", "s.csv")
        ]
    assert [r.code for r in runs] == [0, 0], [r.err for r in runs]
    mask = os.umask(0o022)
    os.umask(mask)
    modes = {(tmp_path / n).stat().st_mode & 0o777 for n in ("s.parquet", "s.csv")}
    assert modes == {0o666 & ~mask}


async def test_interrupting_the_demo_prints_no_resume_commands(tmp_path: Path) -> None:
    with sigint_not_ignored():
        proc = await anyio.open_process(
            [str(SCRIPT), "demo", "-o", str(tmp_path / "d"), "--job-seconds", "4"], env=cli_env()
        )
    async with proc:
        code, _, err = await _interrupt(proc, re.compile("submitted"))
    assert code == 130
    assert "interrupted" in err
    assert "job resume" not in err, "the demo's emulator stopped with it"
    assert "filtered to Media_Type eq 'Voice'" in err


async def test_a_json_pull_continues_from_its_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["pull", AGENT_DETAIL, "-f", "json", "-o", str(out)]
    async with emulator() as server:
        env = key_env(server)
        # The second page hangs for a while: Ctrl-C comes once the first is checkpointed.
        server.emulator.faults.add(
            Fault(FaultKind.DELAY, path_contains="skiptoken", times=1, seconds=5.0)
        )
        with sigint_not_ignored():
            proc = await anyio.open_process([str(SCRIPT), *args], env=env)
        async with proc, bm.Journal() as journal:
            with anyio.fail_after(30):
                while not any(e.state == "paging" for e in await journal.entries()):
                    await anyio.sleep(0.05)
            proc.send_signal(signal.SIGINT)
            with anyio.fail_after(30):
                assert await proc.wait() == 130
        before = len(server.emulator.requests_to(AGENT_DETAIL))
        second = await run_cli(*args, "--json", env=env)
        resumed = server.emulator.requests_to(AGENT_DETAIL)[before:]
        whole = await run_cli(
            "export", AGENT_DETAIL, "-o", str(tmp_path / "whole.json"), "--json", env=env
        )
    assert second.code == 0, second.err
    assert "skiptoken" in resumed[0].target, "the rerun starts at the checkpoint"
    assert whole.code == 0, whole.err
    rows = json.loads((out / f"{AGENT_DETAIL}.json").read_text())
    assert rows == json.loads((tmp_path / "whole.json").read_text())
    assert json.loads(second.out)["items"][0]["rows"] == len(rows)
    assert json.loads(second.out)["earlier_run"] == {"done": 0, "jobs": 0, "paging": 1}
    assert not list(out.glob(".*.part"))


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (86223, "23 h 57 min"),
        (86400, "24 h 0 min"),
        (3 * 86400 + 7200, "3 d 2 h"),
        (75, "1 min 15 s"),
        (600, "10 min"),
        (9, "9 s"),
    ],
)
def test_durations_read_like_the_issue_asks(seconds: float, text: str) -> None:
    assert duration(seconds) == text

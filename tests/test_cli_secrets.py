"""Credentials on the command line (issue 15 point 1, issue 14 point 7), plan targets kept
inside their directory, and the console script without the ``cli`` extra (issue 15 point 3).

Every case runs the installed console script in a subprocess against the emulator and counts
what the emulator saw.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

import brightmetrics_async as bm
from brightmetrics_async._cli._lookup import match_report
from brightmetrics_async.testing import DEMO_API_KEY, DEMO_PASSWORD, DEMO_PASSWORD_HASH, DEMO_USER

from ._cli_support import cli_env, creds, emulator, key_env, run_cli, run_in_pty

pytestmark = pytest.mark.anyio

SERVICE_SUMMARY = "03bd1235-eb2c-410f-a415-fefacd98df41"


async def test_the_command_line_beats_the_environment_which_beats_the_config(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'user = "{DEMO_USER}"\npassword_hash = "{DEMO_PASSWORD_HASH}"\n')
    config.chmod(0o600)
    async with emulator() as server:
        env = key_env(server)  # BRIGHTMETRICS_API_KEY is exported
        # A user typed on the command line wins over the exported key: a wrong password
        # fails as that user instead of signing in with the key.
        typed = await run_cli(
            "reports", "--user", DEMO_USER, "--password-stdin", env=env, stdin="wrong\n"
        )
        # The environment's key wins over the config file's user.
        from_env = await run_cli("reports", "--json", "--config", str(config), env=env)
        # Two kinds at one level name both, and nothing is sent.
        both_typed = await run_cli("reports", "--user", DEMO_USER, "--api-key-stdin", env=env)
        both_env = await run_cli(
            "reports", "--url", server.url, env=key_env(server, BRIGHTMETRICS_USER=DEMO_USER)
        )
        # Without the environment the config file's user signs in.
        from_config = await run_cli(
            "reports", "--json", "--url", server.url, "--config", str(config)
        )
        # A piped password goes with the user the environment names.
        env_user = await run_cli(
            "reports",
            "--password-stdin",
            # Another state directory: the knowledge store of the run above would answer (#12).
            env=cli_env(
                BRIGHTMETRICS_URL=server.url,
                BRIGHTMETRICS_USER=DEMO_USER,
                XDG_STATE_HOME=str(tmp_path / "elsewhere"),
            ),
            stdin=DEMO_PASSWORD + "\n",
        )
        auths = [r.header("Authorization") or "" for r in server.emulator.requests]
    assert typed.code == 3, typed.both
    assert from_env.code == 0, from_env.err
    assert both_typed.code == 2
    assert "--api-key-stdin and --user are both given (command line)" in both_typed.err
    assert both_env.code == 2
    assert "BRIGHTMETRICS_API_KEY and BRIGHTMETRICS_USER are both given (environment)" in (
        both_env.err
    )
    assert from_config.code == 0, from_config.err
    assert env_user.code == 0, env_user.err
    assert [a.split()[0] for a in auths] == ["Basic", "Bearer", "Basic", "Basic"]
    assert auths[1] == f"Bearer {DEMO_API_KEY}"
    assert "wrong" not in typed.both


async def test_secrets_are_refused_as_option_values_and_read_safely(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'api_key = "{DEMO_API_KEY}"\n')
    config.chmod(0o644)
    async with emulator() as server:
        key_value = await run_cli("reports", "--url", server.url, "--api-key", DEMO_API_KEY)
        password_value = await run_cli(
            "reports", "--url", server.url, "--user", DEMO_USER, "--password", "hunter2"
        )
        hash_value = await run_cli(
            "reports", "--url", server.url, "--user", DEMO_USER, "--password-hash", "abc="
        )
        loose_config = await run_cli("reports", "--url", server.url, "--config", str(config))
        no_terminal = await run_cli("reports", "--url", server.url, "--api-key")
        seen_before = len(server.emulator.requests)
        # --api-key alone asks on the terminal, without echo.
        env = cli_env(BRIGHTMETRICS_URL=server.url)
        code, output = await anyio.to_thread.run_sync(
            lambda: run_in_pty(
                ["reports", "--json", "--api-key"],
                env,
                answers={b"API key:": DEMO_API_KEY.encode() + b"\n"},
            )
        )
        config.chmod(0o600)
        tight_config = await run_cli(
            "reports", "--json", "--url", server.url, "--config", str(config)
        )
    assert seen_before == 0, "nothing is sent with a refused secret"
    for run, option in ((key_value, "--api-key"), (password_value, "--password")):
        assert run.code == 2
        assert f"{option} does not take a value" in run.err
        assert "process's command line" in run.err
        assert "-stdin" in run.err
    assert DEMO_API_KEY not in key_value.both
    assert "hunter2" not in password_value.both
    assert hash_value.code == 2
    assert "BRIGHTMETRICS_PASSWORD_HASH" in hash_value.err
    assert "abc=" not in hash_value.both
    assert loose_config.code == 2
    assert f"run chmod 600 {config}" in loose_config.err
    assert "mode 0644" in loose_config.err
    assert DEMO_API_KEY not in loose_config.both
    assert no_terminal.code == 2
    assert "no terminal to ask on" in no_terminal.err
    text = output.decode(errors="replace")
    assert code == 0, text
    assert "API key:" in text
    assert DEMO_API_KEY not in text, "the typed key is not echoed"
    assert tight_config.code == 0, tight_config.err
    assert len(json.loads(tight_config.out)) == 6


PLAN_ENTRY = '[[report]]\nreport = "Service Summary"\nfile = "{}"\n'


async def test_plan_targets_stay_inside_the_output_directory(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "elsewhere").mkdir()
    cases = {
        "absolute": ("/root/.bashrc", "no absolute path"),
        "dotdot": ("../../../../etc/cron.d/x", "no '..'"),
        "symlink": ("link/x.csv", "through a symbolic link"),
    }
    async with emulator() as server:
        runs = {}
        for name, (file, _) in cases.items():
            plan = tmp_path / f"{name}.toml"
            plan.write_text(PLAN_ENTRY.format(file))
            runs[name] = await run_cli("pull", "--plan", str(plan), "-o", str(out), *creds(server))
        seen = len(server.emulator.requests)
    for name, (file, why) in cases.items():
        assert runs[name].code == 2, runs[name].both
        assert file in runs[name].err
        assert why in runs[name].err
    assert seen == 0
    assert list((tmp_path / "elsewhere").iterdir()) == []


async def test_export_format_follows_the_suffix_and_refuses_a_contradiction(
    tmp_path: Path,
) -> None:
    async with emulator() as server:
        implied = await run_cli(
            "export", "Service Summary", "-o", str(tmp_path / "s.xlsx"), "--json", *creds(server)
        )
        clash = await run_cli(
            "export", SERVICE_SUMMARY, "-f", "csv", "-o", str(tmp_path / "x.xlsx"), *creds(server)
        )
        seen = len(server.emulator.requests)
    assert implied.code == 0, implied.err
    assert json.loads(implied.out)["format"] == "xlsx"
    assert (tmp_path / "s.xlsx").read_bytes()[:2] == b"PK"
    assert clash.code == 2
    assert "contradicts the file suffix '.xlsx'" in clash.err
    assert seen == 2  # the implied export's service document and download; nothing for x
    assert not (tmp_path / "x.xlsx").exists()


_HIDE_CLICK = """
import importlib.abc, sys

class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "click" or name.startswith("click."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Hide())
from brightmetrics_async._cli import main
main()
"""


def test_without_click_the_command_says_what_to_install() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _HIDE_CLICK, "reports"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert "pip install 'brightmetrics-async[cli]'" in lines[0]


def test_report_names_match_loosely_and_suggest() -> None:
    reports = [
        bm.Report(name="Agent_Detail", title="Agent Detail", kind="EntitySet", url="g1"),
        bm.Report(name="Agent_detail2", title="agent detail", kind="EntitySet", url="g2"),
        bm.Report(name="Service_Summary", title="Service Summary", kind="EntitySet", url="g3"),
    ]
    assert match_report("Agent Detail", reports).url == "g1"  # exact wins
    assert match_report("SERVICE summary", reports).url == "g3"
    with pytest.raises(bm.NotFound, match="matches several reports"):
        match_report("AGENT DETAIL", reports)
    with pytest.raises(bm.NotFound, match="did you mean 'Service Summary'"):
        match_report("Servce Sumary", reports)

"""The README's command-line section, run: the day-of-use transcript, the plan file, the config
file and shell completion (issue 15 point 11); and ``.ci/run`` keeps nox out of the system
Python.

The transcript is compared line by line, after normalizing what changes between runs: every
number becomes ``#`` (sizes, times, counts, ports), plurals become singular, sizes lose their
unit and whitespace runs collapse. A ``…`` in an expected line stands for anything. Lines of
one command may come in any order (items run in parallel); each must be there.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
from pathlib import Path

import anyio
import pytest
from anyio.streams.text import TextReceiveStream

from brightmetrics_async.testing import DEMO_API_KEY

from ._cli_support import SCRIPT, cli_env, emulator, sigint_not_ignored

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _block(marker: str) -> str:
    """The fenced block right after ``<!-- marker``."""
    after = README.split(f"<!-- {marker}", 1)[1]
    return after.split("```", 2)[1].split("\n", 1)[1]


def _norm(line: str) -> str:
    line = re.sub(r"\d+(?:\.\d+)*", "#", line)
    line = re.sub(r"# (?:bytes|B|kB|MB|GB)\b", "# SIZE", line)
    line = re.sub(r"\b(poll|page|row|request|file|job|item)s\b", r"\1", line)
    return " ".join(line.split())


def _matches(expected: str, actual_lines: list[str]) -> bool:
    parts = [re.escape(_norm(p)) for p in expected.split("…")]
    pattern = re.compile(".*".join(parts))
    return any(pattern.search(_norm(line)) for line in actual_lines)


def _steps(block: str) -> list[tuple[str, str, list[str]]]:
    """(command, comment, expected lines) of each ``$`` line of a console block."""
    steps: list[tuple[str, str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            command, _, comment = line[2:].partition("  #")
            steps.append((command.strip(), comment.strip(), []))
        elif steps and line.strip() and line.strip() != "^C":
            steps[-1][2].append(line)
    return steps


async def _interrupted(args: list[str], env: dict[str, str], cwd: Path, before: list[str]) -> str:
    """Run until every line of ``before`` was printed, then press Ctrl-C; all output."""
    with sigint_not_ignored():
        proc = await anyio.open_process(args, env=env, cwd=cwd)
    async with proc:
        assert proc.stdout is not None
        assert proc.stderr is not None
        out = ""
        with anyio.fail_after(30):
            async for chunk in TextReceiveStream(proc.stdout):
                out += chunk
                if all(_matches(line, out.splitlines()) for line in before):
                    break
        proc.send_signal(signal.SIGINT)
        with anyio.fail_after(30):
            err = "".join([c async for c in TextReceiveStream(proc.stderr)])
            code = await proc.wait()
    assert code == 130, err
    return out + err


# Tens of seconds when both cores are busy (pytest-xdist, a loaded machine): a wider limit
# than the suite's 60 s, which stays to catch a hang.
@pytest.mark.timeout(180)
async def test_the_readme_day_of_use_transcript(tmp_path: Path) -> None:
    (tmp_path / "plan.toml").write_text(_block("plan.toml"))
    steps = _steps(_block("cli-day"))
    assert len(steps) >= 9
    async with emulator() as server:
        env = cli_env(BRIGHTMETRICS_URL=server.url, BRIGHTMETRICS_API_KEY=DEMO_API_KEY)
        env.pop("COLUMNS")
        for command, comment, expected in steps:
            words = shlex.split(command)
            assert words[0] in ("brightmetrics", "export"), command
            if words[0] == "export":
                name, _, value = words[1].partition("=")
                assert name in env
                assert name != "BRIGHTMETRICS_API_KEY" or value == DEMO_API_KEY
                continue
            if words[1:] == ["emulator"]:
                continue  # the test's own emulator serves instead
            args = [str(SCRIPT), *words[1:]]
            if "Ctrl-C" in comment:
                live = [x for x in expected if x.startswith(("started", "submitted", "done"))]
                output = await _interrupted(args, env, tmp_path, live)
            else:
                with anyio.fail_after(60):
                    done = await anyio.run_process(args, env=env, cwd=tmp_path, check=False)
                output = done.stdout.decode() + done.stderr.decode()
                code = int(m.group(1)) if (m := re.search(r"exit (\d+)", comment)) else 0
                assert done.returncode == code, (command, output)
            lines = output.splitlines()
            missing = [x for x in expected if not _matches(x, lines)]
            assert not missing, f"{command}: missing {missing} in:\n{output}"
    assert (
        (tmp_path / "reports" / "voice" / "agent-detail.csv")
        .read_text()
        .startswith("Call_Date_Time")
    )
    assert (tmp_path / "sales.xlsx").read_bytes()[:2] == b"PK"


async def test_the_readme_config_file_signs_in(tmp_path: Path) -> None:
    async with emulator() as server:
        text = _block("config.toml").replace("http://127.0.0.1:8080/OData.ashx", server.url)
        folder = Path(cli_env()["XDG_CONFIG_HOME"]) / "brightmetrics-async"
        folder.mkdir(parents=True, exist_ok=True)
        config = folder / "config.toml"
        config.write_text(text)
        config.chmod(0o644)
        refused = await anyio.run_process([str(SCRIPT), "reports"], env=cli_env(), check=False)
        config.chmod(0o600)
        listed = await anyio.run_process(
            [str(SCRIPT), "reports", "--json"], env=cli_env(), check=False
        )
        budget = await anyio.run_process(
            [str(SCRIPT), "budget", "--json"], env=cli_env(), check=False
        )
    assert refused.returncode == 2
    assert b"chmod 600" in refused.stderr
    assert listed.returncode == 0, listed.stderr
    assert b"Service Summary" in listed.stdout
    assert b'"account": "acme"' in budget.stdout


def test_the_readme_shell_completion_works() -> None:
    lines = [x[2:] for x in _block("completion").splitlines() if x.startswith("$ ")]
    assert any("bash_source" in x for x in lines)
    bash = next(x for x in lines if "bash_source" in x).split("  #")[0]
    env = {**os.environ, "PATH": f"{SCRIPT.parent}{os.pathsep}{os.environ['PATH']}"}
    installed = subprocess.run(
        ["bash", "-c", f"{bash}\ncomplete -p brightmetrics"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr
    assert "brightmetrics" in installed.stdout
    asked = subprocess.run(
        [str(SCRIPT)],
        capture_output=True,
        text=True,
        env={
            **env,
            "_BRIGHTMETRICS_COMPLETE": "bash_complete",
            "COMP_WORDS": "brightmetrics pu",
            "COMP_CWORD": "1",
        },
        timeout=60,
        check=False,
    )
    assert asked.stdout.split() == ["plain,pull"]


def test_ci_installs_nox_in_a_virtual_environment() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    installs = [x for x in ci.splitlines() if "pip install" in x and not x.lstrip().startswith("#")]
    assert installs
    assert all(x.strip().startswith('"$CI_VENV/bin/python" -m pip') for x in installs)
    assert 'python3 -m venv "$CI_VENV"' in ci
    assert "apt-get install -y -qq redis-server" in ci
    assert subprocess.run(["bash", "-n", str(ROOT / ".ci" / "run")], check=False).returncode == 0

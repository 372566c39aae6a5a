"""The README's promises that code can check: the cost table and the test command."""

from __future__ import annotations

import re
from pathlib import Path

import brightmetrics_async as bm

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_cost_table_matches_the_policy() -> None:
    section = README.split("<!-- cost-table", 1)[1].split("\n\n", 1)[0]
    rows = re.findall(
        r"^\| ([^|]+) \| (\d+) polls? \| (\d+) polls? \| (\d+) polls? \| (\d+) polls? \|$",
        section,
        re.M,
    )
    assert len(rows) == 4
    policy = bm.PollPolicy()
    for (label, first, learned, stable, naive), row in zip(
        rows, bm.cost_table(policy), strict=True
    ):
        seconds = {"10 s": 10, "1 min": 60, "5 min": 300, "30 min": 1800}[label.strip()]
        assert row.duration == seconds
        assert int(first) == row.polls
        assert int(naive) == row.naive_polls
        assert int(learned) == policy.predict_polls(seconds, expected=seconds)
        assert int(learned) == row.learned_polls
        assert int(stable) == row.stable_polls
        assert row.stable_polls == policy.predict_polls(
            seconds, expected=seconds, aim=policy.aim([seconds] * policy.stable_after)
        )


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    commands = [line.strip() for line in ci.splitlines() if line.strip().startswith("nox ")]
    assert commands
    assert all(command in README for command in commands)

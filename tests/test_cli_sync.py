"""``brightmetrics sync`` as a user runs it: a subprocess, the emulator, a real DuckDB file.

Includes a real SIGKILL half way through a run. The emulator runs on the real clock here (the
CLI lives in real time), so ranges are given as absolute dates and compared up to the stored
watermark.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import anyio
import pytest

duckdb = pytest.importorskip("duckdb")
pytest.importorskip("dlt")

import brightmetrics_async as bm  # noqa: E402
from brightmetrics_async.testing import DEMO_API_KEY, EmulatorConfig, EmulatorServer  # noqa: E402
from tests._cli_support import SCRIPT, cli_env, creds, emulator, run_cli  # noqa: E402

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

REPORTS = ["Agent Detail", "Search by CallerID"]
_DATA = re.compile(r"/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(\?|$)")


def _env(tmp: Path) -> dict[str, str]:
    return cli_env(
        BRIGHTMETRICS_PIPELINES_DIR=str(tmp / "pipelines"), RUNTIME__DLTHUB_TELEMETRY="false"
    )


def _args(server: EmulatorServer, tmp: Path, *extra: str, budget: str = "b") -> list[str]:
    return [
        "sync",
        *extra,
        "--to",
        str(tmp / "warehouse.duckdb"),
        *creds(server),
        "--budget",
        f"sqlite:{tmp / budget}.sqlite3",
        "--account",
        "sync-test",
        "--json",
    ]


def _data_requests(server: EmulatorServer) -> list[str]:
    return [r.target for r in server.emulator.requests if _DATA.search(r.target)]


def _since() -> str:
    moment = dt.datetime.now(dt.UTC) - dt.timedelta(days=60)
    return moment.replace(microsecond=0).isoformat()


def _rows(tmp: Path, table: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(tmp / "warehouse.duckdb"), read_only=True)
    try:
        cursor = con.execute(f"SELECT * FROM reports.{table}")  # noqa: S608 - the test's name
        names = [d[0] for d in cursor.description]
        out = []
        for row in cursor.fetchall():
            values = dict(zip(names, row, strict=True))
            out.append(values["call_date_time"].astimezone(dt.UTC))
    finally:
        con.close()
    return out


async def _reference(server: EmulatorServer, title: str, since: str, mark: str) -> list[Any]:
    async with bm.Session(
        bm.ApiKey(DEMO_API_KEY), base_url=server.url, budget=bm.MemoryBudget()
    ) as s:
        expr = bm.where(
            Call_Date_Time=bm.between(
                dt.datetime.fromisoformat(since), dt.datetime.fromisoformat(mark)
            )
        )
        return [r["Call_Date_Time"] async for r in s.rows(title, filter=expr, typed=True)]


async def _check_exactly_once(server: EmulatorServer, tmp: Path, since: str, out: str) -> None:
    result = json.loads(out)
    assert result["complete"] is True
    for entry in result["tables"]:
        loaded = _rows(tmp, entry["table"])
        expected = await _reference(server, entry["report"], since, entry["watermark"])
        assert len(expected) > 100
        assert sorted(loaded) == sorted(expected)  # no duplicate, no missing call


@pytest.mark.parametrize("kill_after", [5, 40, 122])  # 122: every page read, then loading
async def test_sigkill_mid_run_then_rerun_loads_every_call_once(
    tmp_path: Path, kill_after: int
) -> None:
    config = EmulatorConfig(slice_seconds=86400.0, quota_limit=None)  # ~61 pages per table
    since = _since()
    async with emulator(config) as server:
        proc = await anyio.open_process(
            [str(SCRIPT), *_args(server, tmp_path, *REPORTS, "--since", since)],
            env=_env(tmp_path),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        with anyio.fail_after(60):
            while len(_data_requests(server)) < kill_after and proc.returncode is None:
                await anyio.sleep(0.005)
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
            assert await proc.wait() in (-signal.SIGKILL, 0)  # 0: it finished first
        # A fresh budget file: the killed run spent most of the first one.
        args = _args(server, tmp_path, *REPORTS, "--since", since, budget="rerun")
        run = await run_cli(*args, env=_env(tmp_path))
        assert run.code == 0, run.out + run.err
        await _check_exactly_once(server, tmp_path, since, run.out)


async def test_budget_too_small_exits_partial_and_the_next_run_completes(tmp_path: Path) -> None:
    since = _since()
    async with emulator(EmulatorConfig(quota_limit=None)) as server:
        args = _args(server, tmp_path, *REPORTS, "--since", since)
        run = await run_cli(*args, "--reserve", "140", env=_env(tmp_path))
        assert run.code == 12, run.err
        assert "partial" in run.err
        first = {t["table"]: t for t in json.loads(run.out)["tables"]}
        assert 1 <= first["agent_detail"]["requests"] < 9  # the oldest part that fits
        assert first["agent_detail"]["watermark"] is not None
        assert first["search_by_callerid"]["requests"] == 0
        assert dt.datetime.fromisoformat(first["agent_detail"]["watermark"]) < dt.datetime.now(
            dt.UTC
        )
        run = await run_cli(*args, env=_env(tmp_path))
        assert run.code == 0, run.out + run.err
        await _check_exactly_once(server, tmp_path, since, run.out)
        second = {t["table"]: t for t in json.loads(run.out)["tables"]}
        assert second["agent_detail"]["requests"] < 9  # continued from the watermark


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (["No Such Report"], 4, "No Such Report"),
        (["Agent Detail", "--since", "last tuesday"], 2, "cannot read the time"),
        (["Agent Detail", "--overlap", "0h"], 2, "more than zero"),
        (["Agent Detail", "--overlap", "soon"], 2, "cannot read the duration"),
        (["Service Summary", "--since", "7d"], 2, "no date-time column"),
    ],
)
async def test_bad_input_is_refused_before_any_data_request(
    tmp_path: Path, extra: list[str], code: int, message: str
) -> None:
    async with emulator() as server:
        run = await run_cli(*_args(server, tmp_path, *extra), env=_env(tmp_path))
        assert run.code == code, run.err
        assert message in run.err
        assert _data_requests(server) == []


async def test_a_destination_that_cannot_be_opened_is_refused_before_any_request(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "not-a-database.duckdb"
    bad.write_text("hello, I am a text file\n" * 100)
    async with emulator() as server:
        for target in (str(bad), str(tmp_path / "missing" / "dir" / "x.duckdb"), "nodest"):
            args = ["sync", "Agent Detail", "--to", target, *creds(server), "--budget", "memory"]
            run = await run_cli(*args, env=_env(tmp_path))
            assert run.code == 2, run.err
            assert target in run.err
        assert server.emulator.requests == []


async def test_dry_run_plans_without_data_requests(tmp_path: Path) -> None:
    async with emulator() as server:
        run = await run_cli(
            *_args(server, tmp_path, *REPORTS, "--since", "60d", "--dry-run"), env=_env(tmp_path)
        )
        assert run.code == 0, run.out + run.err
        plan = json.loads(run.out)
        assert [t["requests"] for t in plan["tables"]] == [9, 9]
        assert plan["metadata_requests"] == 4
        run = await run_cli(
            *_args(server, tmp_path, *REPORTS, "--since", "60d", "--until", "30d", "--dry-run"),
            env=_env(tmp_path),
        )
        assert run.code == 0, run.err
        capped = json.loads(run.out)["tables"]
        assert [t["requests"] for t in capped] == [5, 5]  # 30 days in weekly slices
        ends = {dt.datetime.fromisoformat(t["to"]) for t in capped}
        assert len(ends) == 1
        assert ends.pop() < dt.datetime.now(dt.UTC) - dt.timedelta(days=29)
        assert _data_requests(server) == []


async def test_export_since_until_become_ge_le_on_the_date_column(tmp_path: Path) -> None:
    async with emulator() as server:
        run = await run_cli(
            "export",
            "Agent Detail",
            "-o",
            str(tmp_path / "x.csv"),
            "--since",
            "2026-11-01",
            "--until",
            "yesterday",
            *creds(server),
            "--budget",
            "memory",
            env=_env(tmp_path),
        )
        assert run.code == 0, run.out + run.err
        (target,) = _data_requests(server)
        assert "Call_Date_Time ge 2026-11-01T00:00:00Z and Call_Date_Time le " in unquote(target)

"""The CLI in fresh processes with a warm knowledge store: only data requests are spent.

Every statement that something "costs no request" is checked here with the emulator's log.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ._cli_support import creds, emulator, run_cli

pytestmark = pytest.mark.anyio

SUMMARY = "Service Summary"


async def test_a_warm_cli_session_spends_only_the_data_requests(tmp_path: Path) -> None:
    async with emulator() as server:
        log = server.emulator.requests
        # A first day: the documents are fetched once and kept in the knowledge store.
        warmup = await run_cli("filters", SUMMARY, *creds(server))
        assert warmup.code == 0, warmup.err
        assert len(log) == 2  # the service document, the filter metadata
        reports = await run_cli("reports", *creds(server))
        filters = await run_cli("filters", SUMMARY, *creds(server))
        assert len(log) == 2  # reports and filters by title: no request
        out = tmp_path / "s.csv"
        first = await run_cli("export", SUMMARY, "-o", str(out), *creds(server))
        again = await run_cli("export", SUMMARY, "-o", str(out), *creds(server))
        data = list(log[2:])
        # README and exit code 5: a bad filter on a report by title costs no request.
        bad = await run_cli(
            "export",
            SUMMARY,
            "-o",
            str(tmp_path / "x.csv"),
            "--filter",
            "Media_Type gt 'x'",
            *creds(server),
        )
        budget = await run_cli("budget", *creds(server))  # "(no request)"
        spent_after = len(log)
    assert reports.code == filters.code == first.code == again.code == 0, reports.err
    assert SUMMARY in reports.out
    # The two exports, nothing else: no service document, no $metadata.
    assert len(data) == 2
    assert data[0].target == data[1].target
    assert "$metadata" not in data[0].target
    assert not data[0].target.rstrip("/").endswith("OData.ashx")
    assert bad.code == 5, bad.err
    assert budget.code == 0
    assert spent_after == 4


async def test_a_warm_pull_estimate_uses_learned_pages_and_documents(tmp_path: Path) -> None:
    title = "Search by CallerID"  # a detail report: several pages
    async with emulator() as server:
        runs = []
        for n in (1, 2):
            out = tmp_path / f"run{n}"
            # --sync: pages both times (left to choose, the warm run takes the export, #12;
            # tests/test_cli_way.py).
            args = ("pull", title, "-f", "json", "-o", str(out), "--sync", "--json")
            runs.append(await run_cli(*args, *creds(server)))
        log = server.emulator.requests
    cold, warm = (json.loads(r.out) for r in runs)
    assert all(r.code == 0 for r in runs), runs[0].err
    pages = cold["requests"] - 1  # the service document, then the pages
    assert pages > 1
    # Cold: the page count is guessed; warm: learned, and the title costs nothing.
    assert "unknown" in cold["estimate"]["items"][0]["detail"]
    assert warm["estimate"]["service_document"] == 0
    assert warm["estimate"]["items"][0]["requests"] == pages
    assert warm["estimate"]["total"] == warm["requests"] == pages
    assert len(log) == cold["requests"] + warm["requests"]

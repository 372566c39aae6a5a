"""The CLI in fresh processes with a warm knowledge store: only data requests are spent.

Every statement that something "costs no request" is checked here with the emulator's log.
"""

from __future__ import annotations

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

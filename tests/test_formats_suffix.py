"""``Session.export`` takes the format from a known file suffix, and refuses a contradiction."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

import brightmetrics_async as bm
from brightmetrics_async._formats import format_for_path
from brightmetrics_async.testing import DEMO_API_KEY, Emulator, EmulatorServer, VirtualClock

pytestmark = pytest.mark.anyio


def _session(server: EmulatorServer, clock: VirtualClock) -> bm.Session:
    return bm.Session(
        bm.ApiKey(DEMO_API_KEY),
        base_url=server.url,
        clock=clock,
        budget=bm.MemoryBudget(clock=clock),
    )


@pytest.mark.parametrize(
    ("name", "given", "expected"),
    [
        ("a.xlsx", None, bm.Format.XLSX),
        ("a.XLSX", None, bm.Format.XLSX),
        ("a.pdf", None, bm.Format.PDF),
        ("a.json", None, bm.Format.JSON),
        ("a.csv", None, bm.Format.CSV),
        ("a.txt", None, bm.Format.CSV),
        ("noext", None, bm.Format.CSV),
        ("a.csv", "csv;formatted", bm.Format.CSV_FORMATTED),
        ("a.pdf", "pdf;landscape", bm.Format.PDF_LANDSCAPE),
        ("a.txt", "xlsx", bm.Format.XLSX),
    ],
)
def test_format_for_path(name: str, given: str | None, expected: bm.Format) -> None:
    assert format_for_path(name, given) is expected


async def test_export_takes_xlsx_from_the_suffix(
    bm_server: EmulatorServer, bm_emulator: Emulator, bm_clock: VirtualClock, tmp_path: Path
) -> None:
    async with _session(bm_server, bm_clock) as s:
        path = await s.export("Service Summary", tmp_path / "noformat.xlsx")
    assert path.read_bytes()[:2] == b"PK"
    assert openpyxl.load_workbook(path).active.max_row > 1
    data = [r for r in bm_emulator.requests if "$metadata" not in r.target]
    assert (data[-1].header("Accept") or "").startswith("application/vnd.openxml")


async def test_a_suffix_contradicting_the_format_is_refused_before_any_request(
    bm_server: EmulatorServer, bm_emulator: Emulator, bm_clock: VirtualClock, tmp_path: Path
) -> None:
    async with _session(bm_server, bm_clock) as s:
        with pytest.raises(bm.ConfigurationError, match=r"contradicts the file suffix '\.xlsx'"):
            await s.export(
                "03bd1235-eb2c-410f-a415-fefacd98df41", tmp_path / "x.xlsx", format="csv"
            )
        assert s.requests_sent == 0
    assert bm_emulator.requests == []
    assert list(tmp_path.iterdir()) == []

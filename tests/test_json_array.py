"""The one JSON-array writer: every JSON result the library writes has the same bytes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

import brightmetrics_async as bm
from brightmetrics_async._json_array import ArrayWriter, dump_array, rows_of

ROWS = [{"a": 1, "name": "Zoë"}, {"a": 2, "name": "Ann"}]
BYTES = '[{"a": 1, "name": "Zoë"},\n{"a": 2, "name": "Ann"}]\n'.encode()
SUMMARY = "03bd1235-eb2c-410f-a415-fefacd98df41"


def test_the_bytes() -> None:
    assert dump_array(ROWS) == BYTES
    assert dump_array([]) == b"[]\n"


def test_written_incrementally_and_resumed_it_is_the_same_array() -> None:
    buf = io.BytesIO()
    writer = ArrayWriter(buf)
    writer.start()
    writer.write(ROWS[:1])
    resumed = ArrayWriter(buf, rows=writer.rows)
    resumed.write(ROWS[1:])
    resumed.finish()
    assert buf.getvalue() == BYTES


def test_rows_of_a_result() -> None:
    assert rows_of({"value": ROWS}, what="x") == ROWS
    assert rows_of(ROWS, what="x") == ROWS
    with pytest.raises(bm.UnexpectedResponse):
        rows_of({"value": 3}, what="x")


@pytest.mark.anyio
async def test_download_export_job_and_pull_write_identical_bytes(
    session: bm.Session, tmp_path: Path
) -> None:
    downloaded = await session.download(SUMMARY)
    exported = (await session.export(SUMMARY, tmp_path / "a.json", format="json")).read_bytes()
    job = await session.submit(SUMMARY)
    by_job = (await job.export(tmp_path / "b.json")).read_bytes()
    async with session.pull_many([bm.PullItem(SUMMARY, path=tmp_path / "c.json")]) as pull:
        [result] = await pull.collect()
    assert isinstance(result.value, Path)
    pulled = result.value.read_bytes()
    assert downloaded == exported == by_job == pulled
    assert json.loads(downloaded)

"""A tampered crash-resume journal: an edited token is checked like any resume token (a status
URL off the service's status path is never requested: the item is submitted afresh), and a
corrupt row fails its item with a library error."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from aiohttp import web

import brightmetrics_async as bm
from brightmetrics_async._pull_items import item_key
from brightmetrics_async.testing import VirtualClock

from ._hostile import GUID, hostile, spent_equals_seen

pytestmark = pytest.mark.anyio

CSV = b"a,b\n1,2\n"


async def answer(request: web.Request) -> web.StreamResponse:
    if "/status/" in request.path:
        return web.Response(body=CSV, content_type="text/csv")
    status = f"http://{request.host}/OData.ashx/status/1"
    return web.json_response({}, status=202, headers={"Location": status, "Retry-After": "5"})


async def forged_journal(path: Path, item: bm.PullItem, status_url: str, now: float) -> None:
    token = {
        "v": 1,
        "status_url": status_url,
        "report": GUID,
        "format": "csv",
        "submitted_at": now,
        "expires_at": now + 3 * 86400,
        "retry_after": 5.0,
        "polls": 0,
        "history_key": None,
        "last_poll_at": None,
    }
    async with bm.Journal(path) as journal:
        await journal.start(item_key(item), label="x", path=str(item.path))
        await journal.record_token(item_key(item), json.dumps(token))


@pytest.mark.parametrize("where", ["/OData.ashx/admin/1", "/OData.ashx/status/../admin"])
async def test_a_journaled_token_off_the_status_path_is_not_followed(
    tmp_path: Path, where: str
) -> None:
    clock = VirtualClock()
    item = bm.PullItem(GUID, format="csv", path=tmp_path / "r.csv", use_async=True)
    async with hostile(answer, clock=clock) as (s, service):
        await forged_journal(tmp_path / "j.sqlite3", item, service.url + where, clock.time())
        async with (
            bm.Journal(tmp_path / "j.sqlite3") as journal,
            s.pull_many([item], journal=journal) as pull,
        ):
            results = [result async for result in pull]
        assert results[0].error is None
        assert item.path is not None
        assert item.path.read_bytes() == CSV
        assert not any("admin" in target for target in service.recorded.targets)
        assert await spent_equals_seen(s, service) == 2  # submitted afresh, polled once


async def test_a_corrupt_journal_row_fails_its_item_with_a_library_error(tmp_path: Path) -> None:
    clock = VirtualClock()
    item = bm.PullItem(GUID, format="csv", path=tmp_path / "r.csv", use_async=True)
    async with hostile(answer, clock=clock) as (s, service):
        await forged_journal(tmp_path / "j.sqlite3", item, f"{service.url}/x", clock.time())
        with sqlite3.connect(tmp_path / "j.sqlite3") as conn:
            conn.execute("UPDATE items SET byte_offset = 'lots', state = 'weird'")
        conn.close()
        async with (
            bm.Journal(tmp_path / "j.sqlite3") as journal,
            s.pull_many([item], journal=journal) as pull,
        ):
            results = [result async for result in pull]
        assert isinstance(results[0].error, bm.ConfigurationError)
        assert await spent_equals_seen(s, service) == 0

"""Tokens, checkpoints and links are checked, not trusted: an edited resume token cannot keep a
job polling past its hour or schedule a poll a year out, and every URL (server next link, token
status URL, ``start=`` checkpoint, the caller's base URL) goes through one check that turns
whatever urllib or yarl refuse (full-width characters...) into UnsafeLink."""

from __future__ import annotations

import json

import pytest
from aiohttp import web

import brightmetrics_async as bm
from brightmetrics_async.testing import DEMO_API_KEY, VirtualClock

from ._hostile import GUID, Answer, hostile, spent_equals_seen

pytestmark = pytest.mark.anyio

DAY = 86400.0


def always_running(retry_after: str = "5") -> Answer:
    async def answer(request: web.Request) -> web.StreamResponse:
        status = f"http://{request.host}/OData.ashx/status/1"
        headers = {"Location": status, "Retry-After": retry_after}
        return web.json_response({"statusUrl": status}, status=202, headers=headers)

    return answer


def edited(token: str, **changes: object) -> str:
    document = json.loads(token)
    document.update(changes)
    return json.dumps(document)


async def test_an_edited_expiry_cannot_keep_a_job_polling_past_its_hour() -> None:
    clock = VirtualClock()
    async with hostile(always_running(), clock=clock) as (s, service):
        job = await s.submit(GUID, format="csv")
        submitted = job.submitted_at
        forged = edited(job.token(), expires_at=submitted + 3 * DAY)
        resumed = await s.resume(forged)
        with pytest.raises(bm.JobExpired):
            await resumed.result()
        polls = sum("/status/" in t for t in service.recorded.targets)
        assert polls <= 20  # an hour's worth, not three days' (450)
        assert clock.time() <= submitted + 3600
        await spent_equals_seen(s, service)


async def test_a_submission_time_in_the_future_is_refused_without_a_request() -> None:
    clock = VirtualClock()
    async with hostile(always_running(), clock=clock) as (s, service):
        token = (await s.submit(GUID, format="csv")).token()
        year = 365 * DAY
        ahead = clock.time() + year
        forged = edited(token, submitted_at=ahead, expires_at=ahead + 3600)
        with pytest.raises(bm.InvalidToken, match="future"):
            await s.resume(forged)
        # A minute of skew between two machines is fine.
        ok = edited(token, submitted_at=clock.time() + 30, expires_at=clock.time() + 3630)
        assert (await s.resume(ok)).submitted_at == clock.time() + 30
        assert await spent_equals_seen(s, service) == 1


@pytest.mark.parametrize(
    "path",
    [
        "/OData.ashx/03bd1235-eb2c-410f-a415-fefacd98df41",  # a data URL, not a status URL
        "/elsewhere/status/1",
        "/OData.ashx/status/../../admin",
        "/OData.ashx/status/%2e%2e/admin",
        "/OData.ashx/status/",
        "/OData.ashx/statusx/1",
    ],
)
async def test_a_token_status_url_off_the_status_path_is_an_invalid_token(path: str) -> None:
    async with hostile(always_running()) as (s, service):
        token = (await s.submit(GUID, format="csv")).token()
        origin = service.url
        with pytest.raises(bm.InvalidTokenLink) as info:
            await s.resume(edited(token, status_url=origin + path))
        assert isinstance(info.value, bm.InvalidToken)
        assert isinstance(info.value, bm.UnsafeLink)
        assert await spent_equals_seen(s, service) == 1


FULL_WIDTH = [
    "http://127.0.0.1:{port}\uff20evil.example/OData.ashx/x",  # full-width @
    "http://127.0.0.1\uff1a{port}/OData.ashx/x",  # full-width colon
    "http://evil\u3002example/OData.ashx/x",  # ideographic full stop
    "http://127.0.0.1:{port}\u2100/OData.ashx/x",  # a/c, NFKC-decomposes to "a/c"
]


@pytest.mark.parametrize("link", FULL_WIDTH)
async def test_full_width_next_links_are_unsafe_links(link: str) -> None:
    async def answer(request: web.Request) -> web.StreamResponse:
        port = request.url.port
        return web.json_response({"value": [{"a": 1}], "@odata.nextLink": link.format(port=port)})

    async with hostile(answer) as (s, service):
        with pytest.raises(bm.UnsafeLink):
            [row async for row in s.rows(GUID)]
        assert await spent_equals_seen(s, service) == 1


@pytest.mark.parametrize("link", FULL_WIDTH)
async def test_full_width_token_and_checkpoint_links_are_refused_at_the_call(link: str) -> None:
    async with hostile(always_running()) as (s, service):
        port = service.url.rsplit(":", 1)[1]
        url = link.format(port=port)
        token = (await s.submit(GUID, format="csv")).token()
        with pytest.raises(bm.InvalidTokenLink):
            await s.resume(edited(token, status_url=url))
        with pytest.raises(bm.UnsafeLink):
            s.pages(GUID, start=url)
        assert await spent_equals_seen(s, service) == 1


@pytest.mark.parametrize("base", ["http://127.0.0.1\uff1a8080/OData.ashx", "http://ex\uff0eample/"])
def test_a_full_width_base_url_is_a_configuration_error(base: str) -> None:
    with pytest.raises(bm.ConfigurationError):
        bm.Session(bm.ApiKey(DEMO_API_KEY), base_url=base, budget=bm.MemoryBudget())


async def test_a_millisecond_retry_after_does_not_double_the_polls() -> None:
    clock = VirtualClock()
    async with hostile(always_running("0.001"), clock=clock) as (s, service):
        job = await s.submit(GUID, format="csv")
        with pytest.raises(bm.JobExpired):
            await job.result()
        polls = sum("/status/" in t for t in service.recorded.targets)
        assert polls <= 20  # 30 without the floor
        assert polls == bm.PollPolicy().predict_polls(3600, retry_after=0.001)
        await spent_equals_seen(s, service)


async def test_endless_distinct_next_links_stop_at_the_budget() -> None:
    served = 0

    async def answer(request: web.Request) -> web.StreamResponse:
        nonlocal served
        served += 1
        link = f"http://{request.host}/OData.ashx/{GUID}?$skiptoken={served}"
        return web.json_response({"value": [{"n": served}], "@odata.nextLink": link})

    clock = VirtualClock()
    budget = bm.MemoryBudget(limit=25, clock=clock)
    async with hostile(answer, clock=clock, budget=budget, max_wait=0) as (s, service):
        rows: list[dict[str, object]] = []

        async def read_all() -> None:
            async for row in s.rows(GUID):
                rows.append(row)

        with pytest.raises(bm.BudgetExhausted):
            await read_all()
        assert len(rows) == 25
        assert await spent_equals_seen(s, service) == 25

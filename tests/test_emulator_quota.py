"""The 150-per-24-hours company quota, its 429 and the reset button."""

from __future__ import annotations

import pytest

from brightmetrics_async.testing import (
    DEMO_ACCOUNT,
    DEMO_USER,
    OTHER_ACCOUNT,
    OTHER_API_KEY,
    SECOND_PASSWORD,
    SECOND_USER,
    EmulatorConfig,
)
from brightmetrics_async.testing._quota import Quota
from tests._emulator_helpers import AGENT_DETAIL, BEARER, basic, running

pytestmark = pytest.mark.anyio


def test_sliding_window_log_bounds_every_window() -> None:
    quota = Quota(limit=3, period=100.0)
    assert [quota.admit("a", t) for t in (0.0, 10.0, 20.0)] == [None, None, None]
    assert quota.admit("a", 50.0) == pytest.approx(50.0)  # until t=0 leaves the window
    assert quota.admit("b", 50.0) is None  # accounts are separate
    assert quota.admit("a", 100.0) is None  # t=0 left exactly now
    assert quota.admit("a", 105.0) == pytest.approx(5.0)
    status = quota.status("a", 105.0)
    assert (status.used, status.remaining, status.next_slot_at) == (3, 0, 110.0)
    quota.reset("a")
    assert quota.status("a", 105.0).used == 0


async def test_default_limit_is_150_per_day_per_company() -> None:
    async with running(EmulatorConfig()) as (server, session, clock):
        second = {"Authorization": basic(SECOND_USER, "*pass" + SECOND_PASSWORD)}
        for i in range(150):
            clock.advance(60)
            headers = BEARER if i % 2 else second  # two users of one company share it
            url = server.url if i % 3 else f"{server.url}/{AGENT_DETAIL}/$metadata"
            async with session.get(url, headers=headers) as resp:
                assert resp.status == 200
        assert server.emulator.quota_counts() == {DEMO_ACCOUNT: 150}
        clock.advance(60)
        async with session.get(server.url, headers=BEARER) as resp:
            assert resp.status == 429
            body = await resp.json()
            retry_after = int(resp.headers["Retry-After"])
        assert body["error"]["code"] == "TooManyRequests"
        # The first request was at +60 s; now is +151 min, the window is 24 h.
        assert retry_after == 86400 + 60 - 151 * 60
        # Another company is unaffected.
        other = {"Authorization": f"Bearer {OTHER_API_KEY}"}
        async with session.get(server.url, headers=other) as resp:
            assert resp.status == 200
        assert server.emulator.quota_status(OTHER_ACCOUNT).used == 1
        # The oldest request leaves the window after Retry-After seconds.
        clock.advance(retry_after)
        async with session.get(server.url, headers=BEARER) as resp:
            assert resp.status == 200


async def test_reset_endpoint_and_method() -> None:
    async with running(EmulatorConfig(quota_limit=2, quota_period=3600)) as (server, s, _):
        for _ in range(2):
            async with s.get(server.url, headers=BEARER) as resp:
                assert resp.status == 200
        async with s.get(server.url, headers=BEARER) as resp:
            assert resp.status == 429
        reset = f"{server.origin}/account/reset-api-limit"
        async with s.post(reset) as resp:
            assert resp.status == 401
        async with s.post(reset, headers={"Authorization": basic(DEMO_USER, "*passpassword")}) as r:
            assert r.status == 200
            assert (await r.json())["used"] == 0
        async with s.get(server.url, headers=BEARER) as resp:
            assert resp.status == 200
        server.emulator.reset_quota(DEMO_ACCOUNT)
        assert server.emulator.quota_status(DEMO_ACCOUNT).remaining == 2


async def test_unlimited_still_counts() -> None:
    async with running(EmulatorConfig(quota_limit=None)) as (server, s, _):
        for _ in range(3):
            async with s.get(server.url, headers=BEARER) as resp:
                assert resp.status == 200
        assert server.emulator.quota_status(DEMO_ACCOUNT).used == 3
        assert server.emulator.quota_status(DEMO_ACCOUNT).remaining is None

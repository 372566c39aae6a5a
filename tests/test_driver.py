"""The network driver: one budget token per Send, the credential added, failures thrown in."""

from __future__ import annotations

import socket

import pytest

import brightmetrics_async as bm
from brightmetrics_async._driver import Driver
from brightmetrics_async._fetch import Block, Flow, Head, Now, Read, Send, Sleep
from brightmetrics_async._http import Timeouts, Transport
from brightmetrics_async._request import Request
from brightmetrics_async.testing import DEMO_API_KEY, Emulator, EmulatorServer, VirtualClock

pytestmark = pytest.mark.anyio


def driver(clock: VirtualClock, budget: bm.Budget) -> Driver:
    return Driver(
        Transport(Timeouts()),
        auth=bm.ApiKey(DEMO_API_KEY),
        budget=budget,
        account="acct",
        clock=clock,
        max_wait=None,
    )


def two_requests(url: str) -> Flow[list[int]]:
    statuses = []
    for _ in range(2):
        head: Head = yield Send(Request(url, "service document", "service document"))
        body: bytes = yield Read(1024, truncate=True)
        assert body
        statuses.append(head.status)
    return statuses


async def test_each_send_spends_one_token_and_carries_the_credential(
    bm_server: EmulatorServer, bm_emulator: Emulator, bm_clock: VirtualClock
) -> None:
    budget = bm.MemoryBudget(clock=bm_clock)
    d = driver(bm_clock, budget)
    try:
        assert await d.run(two_requests(bm_server.url)) == [200, 200]
    finally:
        await d.transport.aclose()
    assert d.requests_sent == 2
    assert (await budget.snapshot("acct")).spent == 2
    seen = bm_emulator.requests[-2:]
    assert all(r.header("Authorization") for r in seen)
    assert all((r.header("User-Agent") or "").startswith("brightmetrics-async/") for r in seen)


def caught(url: str) -> Flow[str]:
    try:
        yield Send(Request(url, "service document", "service document"))
    except bm.TransportError as exc:
        return f"caught before_send={exc.before_send}"
    return "sent"


async def test_a_failure_is_thrown_into_the_flow_which_decides(bm_clock: VirtualClock) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    d = driver(bm_clock, bm.MemoryBudget(clock=bm_clock))
    try:
        assert await d.run(caught(f"http://127.0.0.1:{port}/x")) == "caught before_send=True"
    finally:
        await d.transport.aclose()
    assert d.requests_sent == 1, "the try spent its token"


def waits(seconds: float) -> Flow[float]:
    before: float = yield Now()
    yield Sleep(seconds)
    after: float = yield Now()
    yield Block(after + 30)
    return after - before


async def test_sleep_and_block_use_the_injected_clock_and_the_budget(
    bm_clock: VirtualClock,
) -> None:
    budget = bm.MemoryBudget(clock=bm_clock)
    d = driver(bm_clock, budget)
    assert await d.run(waits(3600.0)) == pytest.approx(3600.0)
    snapshot = await budget.snapshot("acct")
    assert snapshot.blocked_until == pytest.approx(bm_clock.time() + 30)

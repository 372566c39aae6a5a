"""Attacks the library already withstood, kept here so they stay withstood: links and
redirects to another origin, hostile XML, slow bodies, stale keep-alive connections and
cancellations at random points. Each case ends in the right result or a BrightmetricsError,
sends nothing elsewhere, leaves no file, and spends exactly what the server saw."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from aiohttp import web

import brightmetrics_async as bm
from brightmetrics_async.testing import DEMO_API_KEY, VirtualClock

from .._servers import Peer, peer
from ._hostile import GUID, bomb, compressed, hostile, spent_equals_seen

pytestmark = pytest.mark.anyio


def nothing_reached(elsewhere: Peer) -> None:
    assert elsewhere.recorded.targets == [], "a request reached the other origin"


@pytest.mark.parametrize("attack", ["next link", "redirect", "202 Location", "statusUrl", "poll"])
async def test_links_to_another_origin_are_never_followed(attack: str) -> None:
    async with peer() as elsewhere:
        steal = f"{elsewhere.url}/OData.ashx/status/1"

        async def answer(request: web.Request) -> web.StreamResponse:
            own = f"http://{request.host}/OData.ashx/status/1"
            if attack == "next link":
                return web.json_response({"value": [], "@odata.nextLink": steal})
            if attack == "redirect":
                return web.Response(status=307, headers={"Location": steal})
            if attack == "202 Location":
                return web.json_response({}, status=202, headers={"Location": steal})
            if attack == "statusUrl":
                return web.json_response({"statusUrl": steal}, status=202)
            where = steal if "/status/" in request.path else own
            return web.json_response({}, status=202, headers={"Location": where})

        async with hostile(answer, clock=VirtualClock()) as (s, service):

            async def victim() -> object:
                if attack in ("next link", "redirect"):
                    return await s.download(GUID)
                return await (await s.submit(GUID, format="csv")).result()

            with pytest.raises(bm.UnsafeLink):
                await victim()
            await spent_equals_seen(s, service)
    nothing_reached(elsewhere)


LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
    b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
    b'<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">]>'
    b'<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">&e;</edmx:Edmx>'
)


@pytest.mark.parametrize("attack", ["billion laughs", "external entity", "gzip laughs"])
async def test_hostile_xml_fails_cleanly_and_fetches_nothing(attack: str) -> None:
    async with peer() as elsewhere:
        external = (
            f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "{elsewhere.url}/x.dtd">]>'
            '<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">&e;</edmx:Edmx>'
        ).encode()

        async def answer(request: web.Request) -> web.StreamResponse:
            if attack == "gzip laughs":
                return compressed(bomb(8, prefix=LAUGHS[:-20]), content_type="application/xml")
            body = LAUGHS if attack == "billion laughs" else external
            return web.Response(body=body, content_type="application/xml")

        async with hostile(answer) as (s, service):
            with pytest.raises(bm.UnexpectedResponse):
                await s.filters(GUID)
            await spent_equals_seen(s, service)
    nothing_reached(elsewhere)


async def test_a_slow_body_ends_at_the_total_timeout() -> None:
    async def answer(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b'{"value": [')
        for _ in range(200):  # a byte every 50 ms: never idle long enough for a read timeout
            await asyncio.sleep(0.05)
            await response.write(b" ")
        return response

    timeouts = bm.Timeouts(connect=1.0, read=1.0, total=0.3)
    retry = bm.RetryPolicy(attempts=2, backoff=0.0, backoff_max=0.0, jitter=False)
    async with hostile(answer, timeouts=timeouts, retry=retry) as (s, service):
        with pytest.raises(bm.RequestTimeout):
            await s.download(GUID)
        assert await spent_equals_seen(s, service) == 2


@asynccontextmanager
async def stale_keep_alive_server() -> AsyncIterator[tuple[str, list[str]]]:
    """A raw HTTP/1.1 server that answers the first request of a connection with keep-alive,
    then drops the connection when the client reuses it (reads the request, closes, no answer)."""
    seen: list[str] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            for number in range(2):
                head = await reader.readuntil(b"\r\n\r\n")
                seen.append(head.split(b"\r\n", 1)[0].decode())
                if number == 1:
                    break  # the stale connection: the request arrived, no answer
                body = b"a,b\n1,2\n"
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nConnection: keep-alive\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/OData.ashx", seen
    finally:
        server.close()
        await server.wait_closed()


async def test_a_stale_keep_alive_connection_is_retried_and_paid_for() -> None:
    clock = VirtualClock()
    budget = bm.MemoryBudget(clock=clock)
    async with (
        stale_keep_alive_server() as (url, seen),
        bm.Session(
            bm.ApiKey(DEMO_API_KEY),
            base_url=url,
            budget=budget,
            clock=clock,
            check_filters=False,
            retry=bm.RetryPolicy(attempts=3, backoff=0.0, backoff_max=0.0, jitter=False),
        ) as s,
    ):
        for _ in range(3):
            assert await s.download(GUID, format="csv") == b"a,b\n1,2\n"
        spent = (await s.budget_status()).spent
    # Reused connections were dropped and retried by our loop (never silently by aiohttp):
    # every request the server received was paid for.
    assert spent == len(seen) == s.requests_sent
    assert spent > 3


async def test_random_cancellations_leave_nothing_behind(tmp_path: Path) -> None:
    async def answer(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/csv"})
        await response.prepare(request)
        for _ in range(20):
            await response.write(b"x,y\n" * 1000)
            await asyncio.sleep(0.002)
        return response

    rng = random.Random(14)
    target = tmp_path / "out" / "r.csv"
    async with hostile(answer, limits=None) as (s, service):
        for _ in range(12):
            with anyio.move_on_after(rng.uniform(0.0, 0.05)):
                await s.export(GUID, target, format="csv")
            if target.exists():
                assert target.read_bytes() == b"x,y\n" * 20000  # complete, never partial
                target.unlink()
            assert [p.name for p in target.parent.iterdir()] == []  # no temporary file
        # A request cancelled between spending and sending is paid and never seen: at most
        # that one per cancellation, never a request the budget did not see.
        for _ in range(100):
            if len(service.recorded.targets) >= s.requests_sent:
                break
            await asyncio.sleep(0.01)
        spent = (await s.budget_status()).spent
        assert spent == s.requests_sent
        assert spent - 12 <= len(service.recorded.targets) <= spent


async def test_a_small_content_length_with_an_endless_chunked_body_is_refused() -> None:
    """The read of a body framed by its Content-Length is trusted to stop there: a server that
    also sends ``Transfer-Encoding: chunked`` (request smuggling's favourite) is refused."""
    seen: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            seen.append(await reader.readuntil(b"\r\n\r\n"))
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
            )
            for _ in range(2000):  # 2 GB if anybody kept it
                writer.write(b"100000\r\n" + b" " * 0x100000 + b"\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    clock = VirtualClock()
    try:
        async with bm.Session(
            bm.ApiKey(DEMO_API_KEY),
            base_url=f"http://127.0.0.1:{port}/OData.ashx",
            budget=bm.MemoryBudget(clock=clock),
            clock=clock,
            check_filters=False,
            retry=bm.RetryPolicy(attempts=1),
        ) as s:
            with pytest.raises(bm.BrightmetricsError):
                await s.download(GUID)
            assert (await s.budget_status()).spent == len(seen) == 1
    finally:
        server.close()
        await server.wait_closed()

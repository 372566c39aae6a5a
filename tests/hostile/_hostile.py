"""Pieces of the hostile-server suite: a scripted service, bombs, and the promise every case
keeps (the budget spent equals the requests the server saw)."""

from __future__ import annotations

import functools
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

import brightmetrics_async as bm
from brightmetrics_async.testing import DEMO_API_KEY, VirtualClock

from .._servers import Peer, peer

MB = 1024 * 1024
GUID = "03bd1235-eb2c-410f-a415-fefacd98df41"
# Deterministic retries on the virtual clock: a hostile answer must not be retried anyway.
RETRY = bm.RetryPolicy(attempts=3, backoff=1.0, backoff_max=4.0, total=30.0, jitter=False)
# Low limits: bombs of a few MB show the behaviour in milliseconds (one test uses defaults).
SMALL = bm.Limits(page=256 * 1024, metadata=128 * 1024, status=8 * 1024, error=8 * 1024)

Answer = Callable[[web.Request], Awaitable[web.StreamResponse]]


@functools.cache
def bomb(decoded_mb: int, *, encoding: str = "gzip", prefix: bytes = b'{"value": [') -> bytes:
    """A compressed body that inflates to ``decoded_mb`` MB of blanks after ``prefix``.

    Built from one compressed megabyte repeated (a full flush resets the compressor, so every
    repeat is the same bytes): a 1 GB bomb costs a millisecond to make, about 1 MB on the
    wire. Its trailer's checksum is wrong, which only a reader that inflates it all could see.
    """
    wbits = {"gzip": 31, "deflate": 15}[encoding]
    co = zlib.compressobj(9, zlib.DEFLATED, wbits)
    block = b" " * MB
    first = co.compress(prefix) + co.compress(block) + co.flush(zlib.Z_FULL_FLUSH)
    again = co.compress(block) + co.flush(zlib.Z_FULL_FLUSH)
    return first + again * (decoded_mb - 1) + co.flush()


def compressed(
    body: bytes, *, status: int = 200, encoding: str = "gzip", **kw: Any
) -> web.Response:
    """A response whose body is already compressed (aiohttp sends it as it is)."""
    headers = {"Content-Encoding": encoding, **kw.pop("headers", {})}
    kw.setdefault("content_type", "application/json")
    return web.Response(body=body, status=status, headers=headers, **kw)


@asynccontextmanager
async def hostile(
    answer: Answer,
    *,
    limits: bm.Limits | None = SMALL,
    clock: VirtualClock | None = None,
    budget: bm.Budget | None = None,
    retry: bm.RetryPolicy = RETRY,
    **session: Any,
) -> AsyncIterator[tuple[bm.Session, Peer]]:
    """A scripted service on loopback and a session on it (memory budget, virtual clock)."""
    clock = clock or VirtualClock()
    async with (
        peer(answer) as service,
        bm.Session(
            bm.ApiKey(DEMO_API_KEY),
            base_url=f"{service.url}/OData.ashx",
            budget=budget or bm.MemoryBudget(clock=clock),
            clock=clock,
            check_filters=False,
            retry=retry,
            limits=limits,
            **session,
        ) as s,
    ):
        yield s, service


async def spent_equals_seen(s: bm.Session, service: Peer) -> int:
    """Assert the promise of every case and return the count."""
    spent = (await s.budget_status()).spent
    assert spent == len(service.recorded.targets) == s.requests_sent
    return spent


async def unreachable(request: web.Request) -> web.StreamResponse:
    """A service for cases that must send nothing (the recorded count proves it)."""
    return web.Response(status=599)

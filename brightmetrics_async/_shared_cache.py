"""Results shared by every replica: a Redis :class:`ResultCache` with a lease, and the one
read-through path ``max_age=`` calls take.

Theory of operation
-------------------
:func:`read_through` is how a session answers a ``max_age=`` call: concurrent callers of one
key in this process share one flight (``_singleflight``); the flight asks the session's
:class:`~._results.ResultCache` (``get``), and on a miss fetches (one request, within the
budget) and keeps the answer (``put``). The key (``_results.result_key``) names the request -
scope, URL, the headers choosing the representation -, never a credential.

:class:`RedisResultCache` implements that interface in Redis, so every replica serves what one
received, and concurrent misses across replicas send one request. Per key::

    <prefix>{<key>}:value   "<µs received>\\n<bytes>", expiring after ``ttl``
    <prefix>{<key>}:lease   the owner id of the replica fetching it, expiring after ``lease``

``get`` runs one Lua script: it reads the value and, when it is missing or older than
``max_age`` before the caller's ``now`` (an answer stored after ``now``, while the caller
waited, is fresh), takes the lease with ``SET NX PX``. The winner's
``get`` answers None (it fetches, and its ``put`` stores the answer and releases the lease in
one script); the others look again every ``wait_step`` seconds until the answer is there or
the lease is gone - a lease whose holder died (SIGKILL) expires after ``lease`` seconds and the
next one to look takes it, so a waiter gets its answer within the lease time plus one request.
A fetch that fails releases the lease (:meth:`RedisResultCache.release`), and the error goes to
that caller only.

**Redis failing** (connection lost, timeout) never leaves a request stuck: ``get`` answers
None, so the caller fetches directly (one request, spent within the budget like any other)
and its ``put`` does not try Redis again; a failed ``put`` only loses the sharing. Both are
logged and counted (``degraded``).
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Self

import anyio

from ._errors import ConfigurationError
from ._results import ResultCache
from ._singleflight import flights

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ._clock import Clock

__all__ = ["RedisResultCache", "check_max_age", "read_through"]

log = logging.getLogger("brightmetrics_async")
Fetch = Callable[[], Awaitable[bytes]]

# KEYS: value, lease. ARGV: max_age µs, now µs, owner, lease ms.
# Returns {1, value} (fresh), {2, ''} (lease taken: fetch), {0, ''} (someone else fetches).
_LOOKUP = """
local now = tonumber(ARGV[2])
local v = redis.call('GET', KEYS[1])
if v then
  local nl = string.find(v, '\\n', 1, true)
  if nl then
    -- Stored after the caller asked (while it waited on a lease) is fresh too.
    if now - tonumber(string.sub(v, 1, nl - 1)) <= tonumber(ARGV[1]) then return {1, v} end
  end
end
if redis.call('SET', KEYS[2], ARGV[3], 'NX', 'PX', ARGV[4]) then return {2, ''} end
return {0, ''}
"""

# KEYS: value, lease. ARGV: bytes, ttl ms, owner, now µs. Stores, then releases our lease.
_STORE = """
redis.call('SET', KEYS[1], ARGV[4] .. '\\n' .. ARGV[1], 'PX', ARGV[2])
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return 1
"""

# KEYS: lease. ARGV: owner. Releases the lease if still ours.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def check_max_age(max_age: object) -> float:
    """``max_age`` as seconds; raises TypeError / :class:`ConfigurationError` before any request."""
    if isinstance(max_age, bool) or not isinstance(max_age, (int, float)):
        raise TypeError("max_age must be a number of seconds")
    if not math.isfinite(max_age) or max_age < 0:
        raise ConfigurationError("max_age must be a finite number of seconds >= 0")
    return float(max_age)


async def read_through(
    results: ResultCache, key: str, *, max_age: float, clock: Clock, fetch: Fetch
) -> bytes:
    """The answer of ``key`` kept within ``max_age`` seconds, else ``fetch()``'s (then kept).

    Concurrent callers of ``key`` in this process share one lookup (and one fetch).
    """

    async def lookup() -> bytes:
        body = await results.get(key, max_age=max_age, now=clock.time())
        if body is not None:
            return body
        try:
            body = await fetch()
        except BaseException:
            if isinstance(results, RedisResultCache):
                with anyio.CancelScope(shield=True):
                    await results.release(key)
            raise
        await results.put(key, body, now=clock.time())
        return body

    return await flights().do(("result", key), lookup)


class RedisResultCache(ResultCache):
    """A :class:`ResultCache` in Redis, shared by every replica (see the module docstring).

    ``url`` is a redis-py URL (never shown with its password), or pass a ``client``.
    ``lease`` bounds how long a dead replica's lease holds the others back (seconds);
    ``wait_step`` is how often a waiter looks again; ``ttl`` is how long Redis keeps an
    answer (the longest ``max_age`` it can serve).

    Raises :class:`ConfigurationError` for bad values or when the ``redis`` package is missing.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Redis | None = None,
        key_prefix: str = "bm:result:",
        lease: float = 30.0,
        wait_step: float = 0.02,
        ttl: float = 3600.0,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        if (url is None) == (client is None):
            raise ConfigurationError("give exactly one of url= and client=")
        if not (lease > 0 and math.isfinite(lease)) or not (0 < wait_step <= lease):
            raise ConfigurationError("lease and wait_step must be positive, wait_step <= lease")
        if not (ttl > 0 and math.isfinite(ttl)):
            raise ConfigurationError("ttl must be a positive number of seconds")
        if client is None:
            try:
                from redis.asyncio import Redis
            except ImportError as exc:
                raise ConfigurationError(
                    "RedisResultCache needs the redis extra: "
                    "pip install 'brightmetrics-async[redis]'"
                ) from exc
            assert url is not None
            client = Redis.from_url(url, socket_timeout=5.0, socket_connect_timeout=5.0)
            self._owns = True
        else:
            self._owns = False
        self._redis: Redis = client
        self._prefix = key_prefix
        self._lease_ms = max(1, int(lease * 1000))
        self._ttl_ms = max(1, int(ttl * 1000))
        self._step = wait_step
        self._sleep = sleep
        self._owner = uuid.uuid4().hex
        self._lookup: Any = self._redis.register_script(_LOOKUP)
        self._store: Any = self._redis.register_script(_STORE)
        self._release: Any = self._redis.register_script(_RELEASE)
        self._direct: set[str] = set()
        #: Answers fetched directly or not shared because Redis failed (tests, monitoring).
        self.degraded = 0

    def __repr__(self) -> str:
        return f"RedisResultCache(key_prefix={self._prefix!r})"

    async def aclose(self) -> None:
        """Close the connection if this object opened it."""
        if self._owns:
            await self._redis.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _keys(self, key: str) -> list[str]:
        return [f"{self._prefix}{{{key}}}:value", f"{self._prefix}{{{key}}}:lease"]

    async def get(self, key: str, *, max_age: float, now: float) -> bytes | None:
        """The answer kept within ``max_age`` of ``now``; None when this caller is to fetch
        it (it holds the lease, or Redis failed). Waits while another replica fetches it."""
        keys = self._keys(key)
        args = [int(max_age * 1_000_000), int(now * 1_000_000), self._owner, self._lease_ms]
        while True:
            try:
                found, value = await self._lookup(keys=keys, args=args)
            except Exception as exc:
                self.degraded += 1
                self._direct.add(key)  # its put will not wait on a failing Redis again
                log.warning(
                    "result cache: Redis failed (%s); fetching directly", type(exc).__name__
                )
                return None
            if int(found) == 1:
                return bytes(value).split(b"\n", 1)[1]
            if int(found) == 2:
                return None
            await self._sleep(self._step)

    async def put(self, key: str, body: bytes, *, now: float) -> None:
        """Keep ``body`` (received at ``now``) for ``ttl``, and release this caller's lease."""
        if key in self._direct:  # fetched directly: Redis was failing a moment ago
            self._direct.discard(key)
            return
        args = [body, self._ttl_ms, self._owner, str(int(now * 1_000_000))]
        try:
            await self._store(keys=self._keys(key), args=args)
        except Exception as exc:
            self.degraded += 1
            log.warning("result cache: cannot store an answer in Redis: %s", type(exc).__name__)

    async def release(self, key: str) -> None:
        """Give up this caller's lease of ``key`` (its fetch failed): the others may take it."""
        if key in self._direct:
            self._direct.discard(key)
            return
        try:
            await self._release(keys=self._keys(key)[1:], args=[self._owner])
        except Exception as exc:
            log.warning("result cache: cannot release a lease: %s", type(exc).__name__)

"""Results shared by every replica: cached under ``max_age``, concurrent misses coalesced.

Theory of operation
-------------------
``get_or_fetch(key, max_age=..., fetch=...)`` returns the bytes of a request's answer. The
key names the request (account, URL, format: :func:`cache_key`), never a credential.

* **In a process**, concurrent callers of one key share one flight (one ``asyncio`` future):
  the first runs the lookup, the others await its answer.
* :class:`MemoryResultCache` keeps answers in the process, with the time they were received.
* :class:`RedisResultCache` keeps them in Redis, so every replica serves what one received.
  Per key::

      <prefix>{<key>}:value   "<µs received>\\n<bytes>", expiring after the writer's max_age
      <prefix>{<key>}:lease   the owner id of the replica fetching it, expiring after ``lease``

  One Lua script reads the value and, when it is missing or older than the caller's
  ``max_age`` (Redis ``TIME``, so client clocks never matter), takes the lease with
  ``SET NX PX``: the winner fetches and stores the answer (releasing its lease in the same
  script), the others poll every ``wait_step`` seconds until the answer is there or the lease
  is gone - a lease whose holder died (SIGKILL) expires after ``lease`` seconds and the next
  poller takes it, so a waiter gets its answer within the lease time plus one request.
* **Redis failing** (connection lost, timeout) never leaves a request stuck: the caller fetches
  directly (one request, spent within the budget like any other) and the error is logged.
  A fetch that fails releases the lease, and the error goes to that caller only; waiters then
  try the lease themselves.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, Self

import anyio

from ._clock import Clock, SystemClock
from ._errors import ConfigurationError

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "MemoryResultCache",
    "RedisResultCache",
    "ResultCache",
    "cache_key",
    "check_max_age",
]

log = logging.getLogger("brightmetrics_async")
Fetch = Callable[[], Awaitable[bytes]]

# KEYS: value, lease. ARGV: max_age µs, owner, lease ms.
# Returns {1, value} (fresh), {2, ''} (lease taken: fetch), {0, ''} (someone else fetches).
_LOOKUP = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local v = redis.call('GET', KEYS[1])
if v then
  local nl = string.find(v, '\\n', 1, true)
  if nl and now - tonumber(string.sub(v, 1, nl - 1)) <= tonumber(ARGV[1]) then
    return {1, v}
  end
end
if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then return {2, ''} end
return {0, ''}
"""

# KEYS: value, lease. ARGV: bytes, ttl ms, owner. Stores, then releases the owner's lease.
_STORE = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = string.format('%d', tonumber(t[1]) * 1000000 + tonumber(t[2]))
redis.call('SET', KEYS[1], now .. '\\n' .. ARGV[1], 'PX', ARGV[2])
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


def cache_key(account: str, url: str, what: str) -> str:
    """The key of a request's answer: account, URL and format (``what``), hashed."""
    text = "\n".join((account, url, what)).encode()
    return hashlib.sha256(text).hexdigest()


class ResultCache(Protocol):
    """Where ``max_age=`` answers are kept (see the module docstring)."""

    async def get_or_fetch(self, key: str, *, max_age: float, fetch: Fetch) -> bytes:
        """The answer of ``key`` received within ``max_age`` seconds, or ``fetch()``'s."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class _Flights:
    """One flight per key in this process: concurrent callers share the first one's answer."""

    def __init__(self) -> None:
        self._flights: dict[str, asyncio.Future[bytes]] = {}

    async def run(self, key: str, lookup: Callable[[], Awaitable[bytes]]) -> bytes:
        flight = self._flights.get(key)
        if flight is not None:
            return await asyncio.shield(flight)
        flight = asyncio.get_running_loop().create_future()
        self._flights[key] = flight
        try:
            value = await lookup()
        except BaseException:
            # Followers retry on their own: an error (or a cancelled leader) is not shared.
            flight.set_exception(_Retry())
            flight.exception()  # consumed: no "never retrieved" warning
            raise
        else:
            flight.set_result(value)
            return value
        finally:
            del self._flights[key]


class _Retry(Exception):
    """The flight a caller joined failed; it looks up again itself."""


async def _shared(flights: _Flights, key: str, lookup: Callable[[], Awaitable[bytes]]) -> bytes:
    while True:
        try:
            return await flights.run(key, lookup)
        except _Retry:
            continue


class _Closable:
    async def aclose(self) -> None:
        """Release connections (only those this object opened)."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class MemoryResultCache(_Closable):
    """Answers kept in this process (the default for ``max_age=`` without a shared store)."""

    def __init__(self, *, clock: Clock | None = None, max_entries: int = 256) -> None:
        self._clock: Clock = clock or SystemClock()
        self._values: dict[str, tuple[float, bytes]] = {}
        self._flights = _Flights()
        self._max_entries = max_entries

    async def get_or_fetch(self, key: str, *, max_age: float, fetch: Fetch) -> bytes:
        async def lookup() -> bytes:
            found = self._values.get(key)
            if found is not None and self._clock.time() - found[0] <= max_age:
                return found[1]
            value = await fetch()
            if len(self._values) >= self._max_entries:
                self._values.pop(next(iter(self._values)))
            self._values[key] = (self._clock.time(), value)
            return value

        return await _shared(self._flights, key, lookup)

    async def aclose(self) -> None:
        self._values.clear()


class RedisResultCache(_Closable):
    """Answers shared by every replica through Redis (see the module docstring).

    ``url`` is a redis-py URL (never shown with its password), or pass a ``client``.
    ``lease`` bounds how long a dead replica's lease holds the others back (seconds);
    ``wait_step`` is how often a waiter looks again.

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
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        if (url is None) == (client is None):
            raise ConfigurationError("give exactly one of url= and client=")
        if not (lease > 0 and math.isfinite(lease)) or not (0 < wait_step <= lease):
            raise ConfigurationError("lease and wait_step must be positive, wait_step <= lease")
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
        self._step = wait_step
        self._sleep = sleep
        self._owner = uuid.uuid4().hex
        self._flights = _Flights()
        self._lookup: Any = self._redis.register_script(_LOOKUP)
        self._store: Any = self._redis.register_script(_STORE)
        self._release: Any = self._redis.register_script(_RELEASE)
        #: Answers fetched directly because Redis failed (for tests and monitoring).
        self.degraded = 0

    def __repr__(self) -> str:
        return f"RedisResultCache(key_prefix={self._prefix!r})"

    async def aclose(self) -> None:
        if self._owns:
            await self._redis.aclose()

    async def get_or_fetch(self, key: str, *, max_age: float, fetch: Fetch) -> bytes:
        return await _shared(self._flights, key, lambda: self._get(key, max_age, fetch))

    async def _get(self, key: str, max_age: float, fetch: Fetch) -> bytes:
        keys = [f"{self._prefix}{{{key}}}:value", f"{self._prefix}{{{key}}}:lease"]
        age_us = int(max_age * 1_000_000)
        while True:
            try:
                found, value = await self._lookup(
                    keys=keys, args=[age_us, self._owner, self._lease_ms]
                )
            except Exception as exc:
                return await self._direct(exc, fetch)
            if int(found) == 1:
                return bytes(value).split(b"\n", 1)[1]
            if int(found) == 2:
                return await self._fetch_and_store(keys, max_age, fetch)
            await self._sleep(self._step)

    async def _fetch_and_store(self, keys: list[str], max_age: float, fetch: Fetch) -> bytes:
        try:
            value = await fetch()
        except BaseException:
            with anyio.CancelScope(shield=True):
                try:
                    await self._release(keys=keys[1:], args=[self._owner])
                except Exception as exc:
                    log.warning("result cache: cannot release a lease: %s", type(exc).__name__)
            raise
        ttl_ms = max(1, int(max_age * 1000))
        try:
            await self._store(keys=keys, args=[value, ttl_ms, self._owner])
        except Exception as exc:
            self.degraded += 1
            log.warning("result cache: cannot store an answer in Redis: %s", type(exc).__name__)
        return value

    async def _direct(self, exc: Exception, fetch: Fetch) -> bytes:
        self.degraded += 1
        log.warning("result cache: Redis failed (%s); fetching directly", type(exc).__name__)
        return await fetch()

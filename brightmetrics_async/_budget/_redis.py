"""A budget in Redis, shared by processes on several machines.

Theory of operation
-------------------
Per account, two keys share one hash tag (so a Redis Cluster keeps them on one slot)::

    <prefix>{<account>}:log     sorted set: member "<µs>-<uuid>", score = µs of the grant
    <prefix>{<account>}:block   string: µs until which a server 429 blocks the account

The check-and-spend is ONE Lua script, so it is atomic on the server (no
read-then-write race between clients): drop scores <= now - period
(ZREMRANGEBYSCORE), check the block, compare ZCARD with the cap, ZADD now with a
unique member, PEXPIRE the log so idle accounts vanish. It mirrors
:func:`._ledger.decide`; the shared conformance tests hold the two together.

Time comes from the Redis server's ``TIME`` inside the script, so the clocks of the
client machines never matter (they may disagree by seconds). When the caller passes an
explicit ``clock=``, the script takes the time from an argument instead: tests use this
to move through days at once. Timestamps are integer microseconds, formatted with
``%d`` in Lua because Lua's default number format (``%.14g``) would round them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import urllib.parse
import uuid
from collections.abc import Awaitable, Iterator
from typing import TYPE_CHECKING, Any

from .._clock import Clock
from .._errors import BudgetStoreError, ConfigurationError, RequestTimeout, TransportError
from ._base import Budget
from ._ledger import (
    FUTURE_SKEW_US,
    MAX_US,
    Decision,
    StoreState,
    check_live,
    check_time_us,
    to_us,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

__all__ = ["RedisBudget", "redact_url", "redis_errors"]

# Shared prologue: the time, from ARGV[1] when given, else from the server.
_NOW = """
if redis.replicate_commands then redis.replicate_commands() end
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[1])
end
local function fmt(n) return string.format('%d', n) end
"""

# KEYS: log, block. ARGV: now|'', period µs, cap, unique id, max µs, future skew µs.
# Returns {granted 0|1, now, spent, next_free, blocked_until|''}, or {-1, now, reason} when
# a value is corrupt (checked before anything is pruned or spent: nothing changes then).
_ACQUIRE = (
    _NOW
    + """
local period = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
local maxus = tonumber(ARGV[5])
local skew = tonumber(ARGV[6])
local block = 0
local raw = redis.call('GET', KEYS[2])
if raw then
  block = tonumber(raw)
  if block == nil or block ~= block or block < 0 or block > maxus
     or block ~= math.floor(block) then
    return {-1, fmt(now), 'the block key holds a value that is not a time'}
  end
end
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then
  local newest = tonumber(last[2])
  if newest == nil or newest ~= newest or newest > now + skew then
    return {-1, fmt(now), 'a spent entry lies in the future or is not a time'}
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', fmt(now - period))
local n = redis.call('ZCARD', KEYS[1])
local blocked = block > now
if n < cap and not blocked then
  redis.call('ZADD', KEYS[1], fmt(now), fmt(now) .. '-' .. ARGV[4])
  redis.call('PEXPIRE', KEYS[1], fmt(math.floor(period / 1000) + 60000))
  return {1, fmt(now), n + 1, fmt(now), ''}
end
local free = now
if n >= cap then
  local row = redis.call('ZRANGE', KEYS[1], n - cap, n - cap, 'WITHSCORES')
  free = tonumber(row[2]) + period
end
if blocked then
  if block > free then free = block end
  return {0, fmt(now), n, fmt(free), fmt(block)}
end
return {0, fmt(now), n, fmt(free), ''}
"""
)

# KEYS: log, block. ARGV: now|'', period µs. Returns {now, block|'', scores...}.
_READ = (
    _NOW
    + """
local scores = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. fmt(now - tonumber(ARGV[2])), '+inf')
local block = redis.call('GET', KEYS[2]) or ''
local out = {fmt(now), block}
for i, member in ipairs(scores) do out[i + 2] = member end
return out
"""
)

# KEYS: block. ARGV: now|'', until µs. Never shortens an existing block.
_BLOCK = (
    _NOW
    + """
local target = tonumber(ARGV[2])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current == nil or current ~= current then return 0 end
if target > current and target > now then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', fmt(math.floor((target - now) / 1000) + 60000))
end
return 1
"""
)


@contextlib.contextmanager
def redis_errors(where: str) -> Iterator[None]:
    """Turn redis-py's errors into ours, naming ``where`` (a store and its redacted URL):
    a timeout is :class:`RequestTimeout`, anything else :class:`TransportError`."""
    from redis import exceptions as redis_exceptions

    # redis-py's messages name host and port, never the password.
    try:
        yield
    except redis_exceptions.TimeoutError as exc:
        raise RequestTimeout(f"{where}: timed out") from exc
    except (redis_exceptions.RedisError, OSError) as exc:
        raise TransportError(f"{where}: {type(exc).__name__}: {exc}") from exc


def redact_url(url: str) -> str:
    """Return ``url`` with any password (userinfo or ``?password=``) replaced by ``***``."""
    try:
        parts = urllib.parse.urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, host = netloc.rpartition("@")
            user, sep, _password = userinfo.partition(":")
            netloc = f"{user}{':***' if sep else ''}@{host}"
        query = urllib.parse.urlencode(
            [
                (key, "***" if key.lower() == "password" else value)
                for key, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
            ],
            safe="*",
        )
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc, query=query))
    except ValueError:
        return "<unparsable redis URL>"


class RedisBudget(Budget):
    """A sliding-window budget in Redis, for processes on several machines (see :class:`Budget`).

    ``url`` is a redis-py URL (``redis://[[user]:password@]host:port/db``, ``rediss://``,
    ``unix://``); it is never shown with its password. Keys start with ``key_prefix``.
    Without ``clock=`` the time is the Redis server's; with one, the clock's time is
    used (meant for tests and single-host setups).

    Raises:
        ConfigurationError: invalid ``limit``, ``period``, ``reserve`` or ``max_wait``;
            the ``redis`` package is not installed.
        TransportError: (on use) Redis is unreachable or failed; RequestTimeout on a
            socket timeout.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        key_prefix: str = "brightmetrics:budget:",
        limit: int = 150,
        period: float = 86400.0,
        reserve: int = 0,
        max_wait: float | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(
            limit=limit, period=period, reserve=reserve, max_wait=max_wait, clock=clock
        )
        # ``redis`` is an optional dependency (the ``redis`` extra): imported on first use,
        # so importing the package never needs it; checked here so a missing install
        # surfaces where the budget is configured.
        if importlib.util.find_spec("redis") is None:
            raise ConfigurationError(
                "RedisBudget needs the redis package: pip install 'brightmetrics-async[redis]'"
            )
        self._url = url
        self._key_prefix = key_prefix
        self._server_time = clock is None
        self._client: Redis | None = None
        self._scripts: dict[str, AsyncScript] = {}

    @property
    def url(self) -> str:
        """The Redis URL with its password redacted."""
        return redact_url(self._url)

    @property
    def store_name(self) -> str:
        """The redacted URL and key prefix (errors name them)."""
        return f"redis {self.url} keys {self._key_prefix}*"

    def __repr__(self) -> str:
        return (
            f"RedisBudget(url={self.url!r}, key_prefix={self._key_prefix!r}, {self._repr_fields()})"
        )

    def _keys(self, account: str) -> list[str]:
        base = f"{self._key_prefix}{{{account}}}"
        return [f"{base}:log", f"{base}:block"]

    def _now_arg(self) -> str:
        return "" if self._server_time else str(to_us(self._clock.time()))

    def _redis(self) -> Redis:
        if self._client is None:
            from redis.asyncio import Redis

            # Created on first use, inside the event loop that will use it.
            self._client = Redis.from_url(self._url)
            self._scripts = {}
        return self._client

    def _translate_errors(self) -> contextlib.AbstractContextManager[None]:
        return redis_errors(f"redis budget at {self.url}")

    async def _call(self, name: str, lua: str, keys: list[str], args: list[str]) -> Any:
        with self._translate_errors():
            client = self._redis()
            script = self._scripts.get(name)
            if script is None:
                # EVALSHA, falling back to loading the script after a SCRIPT FLUSH.
                script = self._scripts[name] = client.register_script(lua)
            result: Awaitable[Any] = script(keys=keys, args=args)
            return await result

    async def _attempt(self, account: str, cap: int) -> Decision:
        answer = await self._call(
            "acquire",
            _ACQUIRE,
            self._keys(account),
            [
                self._now_arg(),
                str(self._period_us),
                str(cap),
                uuid.uuid4().hex,
                str(MAX_US),
                str(FUTURE_SKEW_US),
            ],
        )
        if answer[0] == -1:
            reason = answer[2].decode() if isinstance(answer[2], bytes) else str(answer[2])
            raise BudgetStoreError(
                f"budget store {self.store_name}: account {account!r}: {reason}; refusing to "
                "use it (nothing was reset: fix or delete the keys, or reset the account)",
                store=self.store_name,
            )
        granted, now, spent, free, block = answer
        return Decision(
            granted=bool(granted),
            now_us=int(now),
            spent=int(spent),
            next_free_us=int(free),
            blocked_until_us=int(block) if block else None,
        )

    async def _read(self, account: str) -> StoreState:
        now, block, *members = await self._call(
            "read", _READ, self._keys(account), [self._now_arg(), str(self._period_us)]
        )
        store = self.store_name
        # Members are "<µs>-<uuid>": the exact integer, where a score would be a double.
        now_us = check_time_us(_int(now), store=store, what="the server time")
        values = check_live(
            (_int(m.split(b"-", 1)[0]) for m in members), now_us=now_us, store=store
        )
        until = check_time_us(_int(block), store=store, what="the block key") if block else None
        return StoreState(now_us, values, until)

    async def _reset(self, account: str) -> None:
        with self._translate_errors():
            # One DEL of both keys: atomic.
            await self._redis().delete(*self._keys(account))

    async def _block(self, account: str, until_us: int) -> None:
        done = await self._call(
            "block", _BLOCK, self._keys(account)[1:], [self._now_arg(), str(until_us)]
        )
        if done == 0:
            raise BudgetStoreError(
                f"budget store {self.store_name}: account {account!r}: the block key holds a "
                "value that is not a time; refusing to use it (nothing was reset)",
                store=self.store_name,
            )

    async def aclose(self) -> None:
        """Close the connection pool (the budget reconnects if used again)."""
        client, self._client = self._client, None
        self._scripts = {}
        if client is not None:
            await client.aclose()


def _int(value: object) -> object:
    """``value`` (bytes or int from Redis) as an int, or unchanged when it is not one, for
    the corruption checks to name."""
    if isinstance(value, int):
        return value
    try:
        text = value.decode() if isinstance(value, bytes) else str(value)
        return int(text)
    except (ValueError, UnicodeDecodeError):
        return value

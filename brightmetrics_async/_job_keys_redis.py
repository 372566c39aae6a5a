"""Job keys in Redis (see ``_job_keys`` for the theory of operation).

A record is one JSON string per key, under a hash tag of the scope (account and service), so a
Redis Cluster keeps a scope on one slot; an index set lists a scope's keys for ``live()``. The
claim is one Lua script: the atomic equivalent of "SET NX unless a live or fresh record is
there". Records expire after 2 hours (a job's status URL lives one).
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

import attrs

from ._errors import ConfigurationError
from ._job_keys import JobKeys, JobRecord

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisJobKeys"]

# KEYS: record, index. ARGV: key, request, owner, now, stale_after, record json.
# Returns '' when claimed, else the record found.
_CLAIM = """
local found = redis.call('GET', KEYS[1])
if found then
  local r = cjson.decode(found)
  local now = tonumber(ARGV[4])
  if r.token and r.token ~= cjson.null then
    if r.expires_at ~= cjson.null and r.expires_at > now then return found end
  elseif r.claimed_at > now - tonumber(ARGV[5]) then
    return found
  end
end
redis.call('SET', KEYS[1], ARGV[6], 'EX', 7200)
redis.call('SADD', KEYS[2], ARGV[1])
return ''
"""
# KEYS: record. ARGV: owner, new json. Replaces the record if still the owner's.
_REPLACE = """
local found = redis.call('GET', KEYS[1])
if not found or cjson.decode(found).owner ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', 7200)
return 1
"""
# KEYS: record, index. ARGV: key, owner or ''.
_RELEASE = """
local found = redis.call('GET', KEYS[1])
if found and (ARGV[2] == '' or cjson.decode(found).owner == ARGV[2]) then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[2], ARGV[1])
end
return 1
"""


def _json(record: JobRecord) -> str:
    return json.dumps(attrs.asdict(record), sort_keys=True)


def _parse(text: bytes | str) -> JobRecord:
    data = json.loads(text)
    return JobRecord(
        key=str(data["key"]),
        request=str(data["request"]),
        owner=str(data["owner"]),
        claimed_at=float(data["claimed_at"]),
        token=data.get("token"),
        expires_at=data.get("expires_at"),
    )


class RedisJobKeys(JobKeys):
    """Job keys in Redis, shared by processes on several machines (records live 2 hours).

    ``url`` is a redis-py URL, or pass a ``client``. Raises :class:`ConfigurationError` when the
    ``redis`` package is missing, :class:`TransportError`-like redis errors on use.
    """

    def __init__(
        self, url: str | None = None, *, client: Redis | None = None, key_prefix: str = "bm:jobs:"
    ) -> None:
        if (url is None) == (client is None):
            raise ConfigurationError("give exactly one of url= and client=")
        self._owns = client is None
        if client is None:
            try:
                from redis.asyncio import Redis
            except ImportError as exc:
                raise ConfigurationError("RedisJobKeys needs the redis extra") from exc
            assert url is not None
            client = Redis.from_url(url, socket_timeout=5.0, socket_connect_timeout=5.0)
        self._redis: Redis = client
        self._prefix = key_prefix
        self._claim: Any = client.register_script(_CLAIM)
        self._replace: Any = client.register_script(_REPLACE)
        self._release: Any = client.register_script(_RELEASE)

    def __repr__(self) -> str:
        return f"RedisJobKeys(key_prefix={self._prefix!r})"

    async def aclose(self) -> None:
        if self._owns:
            await self._redis.aclose()

    def _keys(self, scope: str, key: str) -> list[str]:
        tag = hashlib.sha256(scope.encode()).hexdigest()[:24]
        digest = hashlib.sha256(key.encode()).hexdigest()
        return [f"{self._prefix}{{{tag}}}:job:{digest}", f"{self._prefix}{{{tag}}}:index"]

    async def claim(
        self, scope: str, key: str, *, request: str, owner: str, now: float, stale_after: float
    ) -> JobRecord | None:
        mine = JobRecord(key=key, request=request, owner=owner, claimed_at=now)
        found = await self._claim(
            keys=self._keys(scope, key), args=[key, request, owner, now, stale_after, _json(mine)]
        )
        return _parse(found) if found else None

    async def record(
        self, scope: str, key: str, *, owner: str, token: str, expires_at: float
    ) -> None:
        keys = self._keys(scope, key)
        found = await self._redis.get(keys[0])
        if not found:
            return
        record = attrs.evolve(_parse(found), token=token, expires_at=expires_at)
        await self._replace(keys=keys[:1], args=[owner, _json(record)])

    async def release(self, scope: str, key: str, *, owner: str | None = None) -> None:
        await self._release(keys=self._keys(scope, key), args=[key, owner or ""])

    async def live(self, scope: str, *, now: float) -> list[JobRecord]:
        index = self._keys(scope, "")[1]
        out: list[JobRecord] = []
        for member in await self._redis.smembers(index):
            key = member.decode() if isinstance(member, bytes) else str(member)
            found = await self._redis.get(self._keys(scope, key)[0])
            if not found:
                await self._redis.srem(index, member)
                continue
            record = _parse(found)
            if record.token is not None and (record.expires_at or 0) > now:
                out.append(record)
        return sorted(out, key=lambda r: (r.claimed_at, r.key))

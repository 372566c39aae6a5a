"""The knowledge store in Redis: shared by the processes of several machines.

Keys (one hash tag per scope, so a Redis Cluster keeps a scope on one slot)::

    <prefix>{<scope digest>}:doc:<key>      string: "<saved_at>\\n" + the document's bytes
    <prefix>{<scope digest>}:series:<key>   list of numbers, trimmed to the last ``keep``

Entries expire after ``ttl`` seconds of not being written (30 days by default), so knowledge of
a service nobody uses any more goes away by itself. The connection conventions are the
budget's (:class:`~.._budget.RedisBudget`): a redis-py URL never shown with its password,
created lazily in the event loop that uses it, errors mapped to :class:`TransportError`.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
from typing import TYPE_CHECKING

from .._budget._redis import redact_url, redis_errors
from .._errors import ConfigurationError
from ._base import Entry, KnowledgeStore

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisKnowledge"]


class RedisKnowledge(KnowledgeStore):
    """Knowledge in Redis (see the module docstring); ``url`` as for :class:`RedisBudget`.

    Raises :class:`ConfigurationError` when the ``redis`` package is missing;
    :class:`TransportError` on use when Redis fails (a session then works without it).
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        key_prefix: str = "brightmetrics:knowledge:",
        ttl: float = 30 * 86400.0,
    ) -> None:
        if importlib.util.find_spec("redis") is None:
            raise ConfigurationError(
                "RedisKnowledge needs the redis package: pip install 'brightmetrics-async[redis]'"
            )
        if not ttl > 0:
            raise ConfigurationError(f"ttl must be > 0 seconds, got {ttl!r}")
        self._url = url
        self._prefix = key_prefix
        self._ttl_ms = int(ttl * 1000)
        self._client: Redis | None = None

    @property
    def url(self) -> str:
        """The Redis URL with its password redacted."""
        return redact_url(self._url)

    def __repr__(self) -> str:
        return f"RedisKnowledge(url={self.url!r}, key_prefix={self._prefix!r})"

    def _key(self, scope: str, kind: str, key: str) -> str:
        tag = hashlib.sha256(scope.encode()).hexdigest()[:24]
        return f"{self._prefix}{{{tag}}}:{kind}:{key}"

    def _redis(self) -> Redis:
        if self._client is None:
            from redis.asyncio import Redis

            self._client = Redis.from_url(self._url)
        return self._client

    def _translate_errors(self) -> contextlib.AbstractContextManager[None]:
        return redis_errors(f"redis knowledge at {self.url}")

    async def get(self, scope: str, key: str) -> Entry | None:
        with self._translate_errors():
            raw = await self._redis().get(self._key(scope, "doc", key))
        if not isinstance(raw, bytes):
            return None
        stamp, sep, value = raw.partition(b"\n")
        try:
            saved_at = float(stamp)
        except ValueError:
            return None
        return Entry(value, saved_at) if sep else None

    async def put(self, scope: str, key: str, value: bytes, *, saved_at: float) -> None:
        with self._translate_errors():
            await self._redis().set(
                self._key(scope, "doc", key),
                repr(saved_at).encode() + b"\n" + value,
                px=self._ttl_ms,
            )

    async def delete(self, scope: str, key: str) -> None:
        with self._translate_errors():
            await self._redis().delete(self._key(scope, "doc", key))

    async def append(self, scope: str, key: str, value: float, *, keep: int) -> None:
        name = self._key(scope, "series", key)
        with self._translate_errors():
            async with self._redis().pipeline(transaction=True) as pipe:
                pipe.rpush(name, repr(float(value)))
                pipe.ltrim(name, -keep, -1)
                pipe.pexpire(name, self._ttl_ms)
                await pipe.execute()

    async def series(self, scope: str, key: str) -> list[float]:
        with self._translate_errors():
            raw = await self._redis().lrange(self._key(scope, "series", key), 0, -1)
        out: list[float] = []
        for item in raw:
            try:
                out.append(float(item))
            except (TypeError, ValueError):
                continue  # a foreign or corrupt member: ignored
        return out

    async def clear(self, scope: str) -> None:
        pattern = self._key(scope, "*", "*").replace("}:*:*", "}:*")
        with self._translate_errors():
            client = self._redis()
            keys = [k async for k in client.scan_iter(match=pattern)]
            if keys:
                await client.delete(*keys)

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

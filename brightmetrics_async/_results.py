"""The optional result cache: ``max_age=`` on ``rows``/``pages``/``download``/``export``.

For services that show the same report again and again: a response received less than
``max_age`` seconds ago is served again without spending a request. Off by default (nothing
is kept unless a call passes ``max_age``). Values are the response bodies as bytes, keyed by
a digest of the scope (account and service), the URL and the headers that select the
representation, so a shared backend (Redis, for several processes) can implement
:class:`ResultCache` with the same two calls. :class:`MemoryResultCache` keeps them in this
process, least recently used first out past ``max_bytes``.
"""

from __future__ import annotations

import abc
import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping

from ._errors import ConfigurationError

__all__ = ["MemoryResultCache", "ResultCache", "result_key", "shared_results"]


def result_key(scope: str, url: str, headers: Mapping[str, str]) -> str:
    """The cache key of a response: scope, URL and headers (never a credential)."""
    wanted = sorted((k.lower(), v) for k, v in headers.items() if k.lower() != "authorization")
    document = json.dumps([scope, url, wanted])
    return hashlib.sha256(document.encode()).hexdigest()


class ResultCache(abc.ABC):
    """Where responses are kept for ``max_age=`` (see the module docstring)."""

    @abc.abstractmethod
    async def get(self, key: str, *, max_age: float, now: float) -> bytes | None:
        """The body saved under ``key`` at most ``max_age`` seconds before ``now``, or None."""

    @abc.abstractmethod
    async def put(self, key: str, body: bytes, *, now: float) -> None:
        """Keep ``body`` under ``key``, received at ``now``."""


class MemoryResultCache(ResultCache):
    """Responses in this process's memory, at most ``max_bytes`` in all (LRU).

    Raises :class:`ConfigurationError` for ``max_bytes < 0``.
    """

    def __init__(self, *, max_bytes: int = 64 * 1024 * 1024) -> None:
        if max_bytes < 0:
            raise ConfigurationError("max_bytes must be >= 0")
        self._max = max_bytes
        self._size = 0
        self._items: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def __repr__(self) -> str:
        return f"<MemoryResultCache entries={len(self._items)} bytes={self._size}>"

    async def get(self, key: str, *, max_age: float, now: float) -> bytes | None:
        item = self._items.get(key)
        if item is None or not 0 <= now - item[0] <= max_age:
            return None
        self._items.move_to_end(key)
        return item[1]

    async def put(self, key: str, body: bytes, *, now: float) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self._size -= len(old[1])
        if len(body) > self._max:
            return
        self._items[key] = (now, body)
        self._size += len(body)
        while self._size > self._max:
            _, (_, dropped) = self._items.popitem(last=False)
            self._size -= len(dropped)


_SHARED = MemoryResultCache()


def shared_results() -> MemoryResultCache:
    """The process-wide memory cache sessions use by default."""
    return _SHARED

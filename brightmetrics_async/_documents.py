"""The documents a session fetches once and keeps: service document, filter schemas, columns.

One lock per document, so concurrent pulls of one report fetch its schema once. A later
persistent store (learned knowledge) plugs in here: :meth:`Documents.get` and
:meth:`Documents.put` are the only ways in and out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio

__all__ = ["Documents"]


class Documents:
    """Parsed documents by key, each loaded at most once at a time."""

    def __init__(self) -> None:
        self._docs: dict[str, Any] = {}
        self._locks: dict[str, anyio.Lock] = {}

    def get(self, key: str) -> Any | None:
        """The document ``key`` if known, else None."""
        return self._docs.get(key)

    def put(self, key: str, document: Any) -> None:
        """Keep ``document`` under ``key``."""
        self._docs[key] = document

    def keys(self) -> list[str]:
        """The keys of the documents held."""
        return list(self._docs)

    async def load(self, key: str, flow: Any, run: Callable[[Any], Awaitable[Any]]) -> Any:
        """The document ``key``: known, or the value of ``run(flow)`` (then kept)."""
        if key in self._docs:
            flow.close()
            return self._docs[key]
        lock = self._locks.setdefault(key, anyio.Lock())
        async with lock:
            if key in self._docs:
                flow.close()
            else:
                self._docs[key] = await run(flow)
        return self._docs[key]

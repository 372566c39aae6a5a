"""The documents a session fetches once and keeps: service document, filter schemas, columns.

One lock per document, so concurrent pulls of one report fetch its schema once. With a
knowledge store (#12, ``learner``) a document is first looked up there (fresh and parsing),
and a fetched one is saved there for the next sessions and processes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio

if TYPE_CHECKING:
    from ._knowledge._learner import Learner

__all__ = ["Documents"]


class Documents:
    """Parsed documents by key, each loaded at most once at a time."""

    def __init__(self, learner: Learner | None = None) -> None:
        self._docs: dict[str, Any] = {}
        self._locks: dict[str, anyio.Lock] = {}
        self.learner = learner

    def get(self, key: str) -> Any | None:
        """The document ``key`` if known, else None."""
        return self._docs.get(key)

    def put(self, key: str, document: Any) -> None:
        """Keep ``document`` under ``key``."""
        self._docs[key] = document

    def drop(self, key: str) -> None:
        """Forget ``key`` (fetched again on next use)."""
        self._docs.pop(key, None)

    def clear(self) -> None:
        """Forget every document."""
        self._docs.clear()

    def keys(self) -> list[str]:
        """The keys of the documents held."""
        return list(self._docs)

    async def load(
        self,
        key: str,
        flow: Any,
        run: Callable[[Any], Awaitable[Any]],
        parse: Callable[[bytes], Any] | None = None,
    ) -> Any:
        """The document ``key``: known, stored, or ``parse(run(flow))`` (then kept)."""
        if key in self._docs:
            flow.close()
            return self._docs[key]
        lock = self._locks.setdefault(key, anyio.Lock())
        async with lock:
            if key in self._docs:
                flow.close()
            elif parse is None:
                self._docs[key] = await run(flow)
            elif self.learner is None:
                self._docs[key] = parse(await run(flow))
            else:
                try:
                    self._docs[key] = await self.learner.load(key, lambda: run(flow), parse)
                finally:
                    flow.close()
        return self._docs[key]

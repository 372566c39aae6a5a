"""A knowledge store in this process's memory: for tests and for ``cache=MemoryKnowledge()``."""

from __future__ import annotations

from collections import deque

from ._base import Entry, KnowledgeStore

__all__ = ["MemoryKnowledge"]


class MemoryKnowledge(KnowledgeStore):
    """Knowledge kept in memory: shared by the sessions given this object, lost at exit."""

    def __init__(self) -> None:
        self._docs: dict[tuple[str, str], Entry] = {}
        self._series: dict[tuple[str, str], deque[float]] = {}

    def __repr__(self) -> str:
        return f"<MemoryKnowledge documents={len(self._docs)} series={len(self._series)}>"

    async def get(self, scope: str, key: str) -> Entry | None:
        return self._docs.get((scope, key))

    async def put(self, scope: str, key: str, value: bytes, *, saved_at: float) -> None:
        self._docs[(scope, key)] = Entry(bytes(value), saved_at)

    async def delete(self, scope: str, key: str) -> None:
        self._docs.pop((scope, key), None)

    async def append(self, scope: str, key: str, value: float, *, keep: int) -> None:
        series = self._series.get((scope, key))
        if series is None or series.maxlen != keep:
            series = self._series[(scope, key)] = deque(series or (), maxlen=keep)
        series.append(value)

    async def series(self, scope: str, key: str) -> list[float]:
        return list(self._series.get((scope, key), ()))

    async def clear(self, scope: str) -> None:
        for table in (self._docs, self._series):
            for k in [k for k in table if k[0] == scope]:
                del table[k]

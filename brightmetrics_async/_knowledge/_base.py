"""The knowledge store's contract: documents with a save time, and short series of numbers.

Theory of operation
-------------------
A store holds, per *scope* (an account and a service URL, so two services or two accounts
never see each other's knowledge), two kinds of entries:

* **documents**: opaque bytes saved with the time they were saved (``Entry``); the
  :class:`~._facade.Knowledge` facade decides whether they are fresh enough;
* **series**: the last ``keep`` numbers recorded under a key (job durations, page counts),
  oldest first.

Every backend (memory, SQLite, Redis) implements these five primitives and passes the same
conformance tests. A store is a cache: nothing in it is trusted blindly - the facade parses and
checks what it reads, and drops what does not parse. The stores never raise on a miss.
"""

from __future__ import annotations

import abc

import attrs

__all__ = ["Entry", "KnowledgeStore"]


@attrs.frozen
class Entry:
    """A stored document: its bytes and when it was saved (Unix time)."""

    value: bytes
    saved_at: float


class KnowledgeStore(abc.ABC):
    """Where a session keeps what it learned (see :class:`~._facade.Knowledge`).

    Raises :class:`TransportError` when the backend fails; the facade turns that into a miss.
    """

    @abc.abstractmethod
    async def get(self, scope: str, key: str) -> Entry | None:
        """The document saved under ``key``, or None."""

    @abc.abstractmethod
    async def put(self, scope: str, key: str, value: bytes, *, saved_at: float) -> None:
        """Save (replace) a document."""

    @abc.abstractmethod
    async def delete(self, scope: str, key: str) -> None:
        """Forget a document (no error when absent)."""

    @abc.abstractmethod
    async def append(self, scope: str, key: str, value: float, *, keep: int) -> None:
        """Add ``value`` to the series ``key``, keeping only its last ``keep`` numbers."""

    @abc.abstractmethod
    async def series(self, scope: str, key: str) -> list[float]:
        """The numbers of the series ``key``, oldest first (empty when unknown)."""

    async def clear(self, scope: str) -> None:  # noqa: B027 - optional for backends
        """Forget everything of ``scope`` (documents and series)."""

    async def aclose(self) -> None:  # noqa: B027 - optional for backends
        """Release connections (the store reopens them if used again)."""

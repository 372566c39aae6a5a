"""``Knowledge``: what a session reads and records in its store, never trusting it blindly.

A facade over a :class:`~._base.KnowledgeStore`, bound to one scope (the account and the
service URL) and to the session's clock. It decides freshness (a document older than
``max_age``, saved in the future, or saved before :meth:`refresh` is stale) and turns every
store failure into a miss: knowledge saves requests, its absence never fails a session. What
comes out of a store is checked by the caller's parser; a document that does not parse is
dropped (:meth:`drop`) and fetched again.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable
from typing import TypeVar

from .._clock import Clock
from .._errors import BrightmetricsError, ConfigurationError
from ._base import KnowledgeStore
from ._shape import safe_key

__all__ = ["DEFAULT_MAX_AGE", "Knowledge"]

log = logging.getLogger("brightmetrics_async")
_T = TypeVar("_T")

#: How long a cached service document or ``$metadata`` is used before it is fetched again.
DEFAULT_MAX_AGE = 86400.0
#: Learned numbers kept per key (durations, page counts).
KEEP = 10
# A document "saved" this far in the future comes from a wrong clock: not trusted.
_SKEW = 300.0


class Knowledge:
    """A session's view of its knowledge store (``store=None``: knows nothing, records nothing).

    Raises :class:`ConfigurationError` for a negative or non-finite ``max_age``.
    """

    def __init__(
        self,
        store: KnowledgeStore | None,
        *,
        scope: str,
        clock: Clock,
        max_age: float = DEFAULT_MAX_AGE,
    ) -> None:
        if not 0 <= max_age < math.inf:
            raise ConfigurationError("cache max_age must be finite and >= 0 seconds")
        self.store = store
        self.scope = scope
        self._clock = clock
        self.max_age = max_age
        self._not_before = -math.inf

    @property
    def enabled(self) -> bool:
        """True when there is a store."""
        return self.store is not None

    def refresh(self) -> None:
        """Treat every document saved until now as stale (this session fetches them again)."""
        self._not_before = self._clock.time()

    async def _safe(self, call: Awaitable[_T], miss: _T) -> _T:
        try:
            return await call
        except BrightmetricsError as exc:
            log.debug("knowledge store: %s (ignored)", exc.message)
            return miss

    async def document(self, key: str) -> bytes | None:
        """The fresh document saved under ``key``, or None."""
        if self.store is None:
            return None
        entry = await self._safe(self.store.get(self.scope, key), None)
        if entry is None:
            return None
        now = self._clock.time()
        if not (self._not_before <= entry.saved_at <= now + _SKEW):
            return None
        if now - entry.saved_at > self.max_age:
            return None
        return entry.value

    async def save(self, key: str, body: bytes) -> None:
        """Remember a document just received."""
        if self.store is not None:
            await self._safe(
                self.store.put(self.scope, key, body, saved_at=self._clock.time()), None
            )

    async def drop(self, key: str) -> None:
        """Forget a document (it failed to parse, or the server contradicted it)."""
        if self.store is not None:
            await self._safe(self.store.delete(self.scope, key), None)

    async def numbers(self, kind: str, *parts: str) -> list[float]:
        """The learned numbers of ``kind`` (``job`` or ``pages``) under ``parts``; finite, >= 0."""
        if self.store is None:
            return []
        values = await self._safe(self.store.series(self.scope, safe_key(kind, *parts)), [])
        return [v for v in values if 0 <= v < math.inf]

    async def learn(self, kind: str, *parts: str, value: float) -> None:
        """Record one number of ``kind`` under ``parts`` (non-finite or negative: ignored)."""
        if self.store is not None and 0 <= value < math.inf:
            key = safe_key(kind, *parts)
            await self._safe(self.store.append(self.scope, key, value, keep=KEEP), None)

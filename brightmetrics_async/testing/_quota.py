"""The vendor's API limit: N requests per rolling period per company account.

Theory of operation
-------------------
Each account has a sliding-window log: the times of its admitted requests within the last
``period`` seconds (at most ``limit`` entries, so 150 floats per account). A request is admitted
when, after dropping entries older than ``period``, fewer than ``limit`` remain; then its time is
appended. A refused request is not logged (it did no work), and its ``Retry-After`` is the time
until the oldest entry leaves the window. This bounds every rolling window exactly, unlike a
token bucket. ``reset`` empties an account's log, like the web UI's reset button.
``limit=None`` admits everything but still counts.
"""

from __future__ import annotations

import math
from collections import deque

import attrs

__all__ = ["Quota", "QuotaStatus"]


@attrs.frozen
class QuotaStatus:
    """An account's quota at ``at``: requests ``used`` in the window, and what is left.

    ``remaining`` and ``next_slot_at`` are None when there is no limit; ``next_slot_at`` is the
    time a slot frees up when none is left, else ``at``.
    """

    account: str
    used: int
    limit: int | None
    remaining: int | None
    next_slot_at: float | None
    at: float


class Quota:
    """Per-account sliding-window logs; see the module docstring."""

    def __init__(self, *, limit: int | None, period: float) -> None:
        self.limit = limit
        self.period = period
        self._logs: dict[str, deque[float]] = {}

    def admit(self, account: str, now: float) -> float | None:
        """Record a request and return None, or refuse it and return seconds to wait."""
        log = self._window(account, now)
        if self.limit is not None and len(log) >= self.limit:
            return max(0.0, log[0] + self.period - now)
        log.append(now)
        return None

    @staticmethod
    def retry_after_header(seconds: float) -> str:
        """Whole seconds for a ``Retry-After`` header, rounded up, at least 1."""
        return str(max(1, math.ceil(seconds)))

    def reset(self, account: str) -> None:
        """Forget every request of ``account`` (the web UI's reset button)."""
        self._logs.pop(account, None)

    def status(self, account: str, now: float) -> QuotaStatus:
        """A snapshot of ``account``'s quota at ``now``."""
        log = self._window(account, now)
        if self.limit is None:
            return QuotaStatus(account, len(log), None, None, None, now)
        remaining = max(0, self.limit - len(log))
        next_slot = now if remaining else log[0] + self.period
        return QuotaStatus(account, len(log), self.limit, remaining, next_slot, now)

    def counts(self, now: float) -> dict[str, int]:
        """Requests in the current window, per account that made any."""
        return {account: len(self._window(account, now)) for account in list(self._logs)}

    def _window(self, account: str, now: float) -> deque[float]:
        log = self._logs.setdefault(account, deque())
        while log and log[0] <= now - self.period:
            log.popleft()
        return log

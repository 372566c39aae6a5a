"""Retry decisions, pure: which failures are transient, and how long to wait before the next try.

Every retry spends one of the account's 150 daily requests, so the defaults are small: at most
3 tries in all and at most 60 s spent waiting. Exponential backoff with full jitter applies only
to our own guesses; when the server says ``Retry-After`` that wait is used as given, never
jittered (jitter on top of a server-mandated wait only makes the client late or early).
Authentication, not-found and filter errors are never retried.
"""

from __future__ import annotations

import random

import attrs

from ._errors import ApiError, BrightmetricsError, RequestTimeout, TransportError

__all__ = ["RetryPolicy", "is_transient_status"]

_TRANSIENT = frozenset({408, 429, 500, 502, 503, 504})


def is_transient_status(status: int) -> bool:
    """408, 429 and the 5xx statuses a proxy or an overloaded server answers."""
    return status in _TRANSIENT


@attrs.frozen
class RetryPolicy:
    """How transient failures are retried.

    ``attempts`` counts every try including the first (1 = never retry); ``total`` bounds the
    time spent waiting between tries; ``max_retry_after`` is the longest server ``Retry-After``
    honoured by waiting (a longer one is raised to the caller).
    """

    attempts: int = attrs.field(default=3, validator=attrs.validators.ge(1))
    backoff: float = attrs.field(default=1.0, validator=attrs.validators.ge(0))
    backoff_max: float = attrs.field(default=20.0, validator=attrs.validators.ge(0))
    total: float = attrs.field(default=60.0, validator=attrs.validators.ge(0))
    jitter: bool = True
    max_retry_after: float = attrs.field(default=60.0, validator=attrs.validators.ge(0))

    @classmethod
    def never(cls) -> RetryPolicy:
        """One try only."""
        return cls(attempts=1)

    def should_retry(self, error: BrightmetricsError, *, idempotent: bool) -> bool:
        """Whether ``error`` is worth another try of a request of this kind.

        A request that is not idempotent (a job submission) is retried only when the server
        cannot have acted on it: a refused connection, 408, 429 or 503.
        """
        if isinstance(error, ApiError):
            if not is_transient_status(error.status):
                return False
            return idempotent or error.status in (408, 429, 503)
        if isinstance(error, RequestTimeout):
            return idempotent
        if isinstance(error, TransportError):
            return idempotent or error.before_send
        return False

    def delay(
        self,
        attempt: int,
        *,
        retry_after: float | None = None,
        rng: random.Random | None = None,
    ) -> float:
        """Seconds to wait before try number ``attempt + 1`` (``attempt`` counts from 1)."""
        if retry_after is not None:
            return retry_after
        ceiling = min(self.backoff_max, self.backoff * 2.0 ** (attempt - 1))
        if not self.jitter:
            return ceiling
        draw: float = (rng or random).uniform(0, ceiling)
        return draw

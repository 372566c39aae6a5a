"""When to poll an asynchronous export: the policy, the learned durations, the cost.

Every poll spends one of the company account's 150 requests a day, so the default
policy is frugal. Times are float seconds; poll times are planned from the last answer
(from the 202 for the first poll) by :meth:`PollPolicy.plan`, the one function both the
:class:`~brightmetrics_async._polling.JobPoller` and :meth:`PollPolicy.schedule` use, so
predicted and real poll counts agree exactly.

Rules, in order:

* the floor: never earlier than ``max(Retry-After, min_interval)`` after the last answer
  (the last Retry-After the server sent; the policy's default if it never sent one).
  No jitter is added on top of a server's Retry-After;
* backoff: poll *n* (0-based) waits ``min(cap, retry_after * growth**n)``;
* learning: when the report's typical duration ``E`` is known (:class:`JobHistory`),
  the first poll waits ``first_poll_fraction * E`` (uncapped: skipping the known
  waiting time is the point) and poll *n >= 1* waits
  ``min(cap, max(retry_after, (1 - first_poll_fraction) * E) * growth**(n - 1))``:
  the second poll lands at the expected finish (if ``cap`` allows), later ones back off;
* aiming: once ``stable_after`` durations are known and *stable* (their spread, max - min,
  is at most ``stable_spread`` of their median), the first poll waits ``A``, the
  ``aim_quantile`` of the learned durations (the slowest recent run by default), so it
  lands just after the job is done: one poll per job, the physical floor. A job slower
  than all recent ones costs a second poll, backed off as above. A recorded duration is the
  time of the poll that saw 200, so aiming at the slowest run does not drift upwards: it
  records the aim itself unless the job ran longer;
* the deadline: a poll planned past it is pulled in to the deadline, unless the floor
  forbids it; a plan still past the deadline means "expired, do not poll".
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Sequence
from typing import NamedTuple

import attrs

from ._errors import ConfigurationError

__all__ = ["JOB_LIFETIME", "CostRow", "JobHistory", "PollPolicy", "cost_table"]

#: Seconds a status URL stays valid after submission (vendor spec: "1 hour").
JOB_LIFETIME = 3600.0
#: Floor on the server's Retry-After as the base of the backoff: ``Retry-After: 0.001``
#: would otherwise take 18 doublings to reach the cap (30 polls for an hour's job, not 20).
MIN_RETRY_AFTER = 1.0


@attrs.frozen
class PollPolicy:
    """How long to wait between polls of an export job; the default is frugal.

    ``growth``/``cap``: backoff factor and ceiling (seconds) of the interval (a server
    Retry-After above ``cap`` still wins); ``min_interval``: hard floor between polls;
    ``default_retry_after``: used when the server sends none, garbage or a past date;
    ``learn``/``first_poll_fraction``: aim the first poll at that fraction of the
    report's typical duration; ``expiry_margin``: send no poll later than this many
    seconds before the status URL expires; ``max_polls``: give up (expired) after this
    many polls, None for no limit other than the deadline. ``aim_quantile``,
    ``stable_after``, ``stable_spread``: once ``stable_after`` learned durations vary by
    at most ``stable_spread`` (of their median), the first poll aims at their
    ``aim_quantile`` (1.0: the slowest; lower polls earlier and costs more polls).

    Raises :class:`ConfigurationError` for out-of-range knobs.
    """

    growth: float = 2.0
    cap: float = 300.0
    min_interval: float = 2.0
    default_retry_after: float = 5.0
    learn: bool = True
    first_poll_fraction: float = 0.9
    expiry_margin: float = 15.0
    max_polls: int | None = None
    aim_quantile: float = 1.0
    stable_after: int = 3
    stable_spread: float = 0.5

    def __attrs_post_init__(self) -> None:
        checks = {
            "1 <= growth < inf": 1 <= self.growth < math.inf,
            "cap > 0": self.cap > 0,
            "0 <= min_interval < inf": 0 <= self.min_interval < math.inf,
            "0 < default_retry_after < inf": 0 < self.default_retry_after < math.inf,
            "0 < first_poll_fraction <= 2": 0 < self.first_poll_fraction <= 2,
            "0 <= expiry_margin < 3600": 0 <= self.expiry_margin < JOB_LIFETIME,
            "max_polls >= 1": self.max_polls is None or self.max_polls >= 1,
            "0 <= aim_quantile <= 1": 0 <= self.aim_quantile <= 1,
            "stable_after >= 1": self.stable_after >= 1,
            "0 <= stable_spread < inf": 0 <= self.stable_spread < math.inf,
        }
        for rule, ok in checks.items():
            if not ok:
                raise ConfigurationError(f"PollPolicy needs {rule}")

    @classmethod
    def frugal(cls) -> PollPolicy:
        """The default: backoff x2 from Retry-After up to 5 min, learned first poll."""
        return cls()

    @classmethod
    def naive(cls) -> PollPolicy:
        """Poll every Retry-After seconds, as most clients do (costly; for comparison)."""
        return cls(growth=1.0, cap=math.inf, learn=False)

    @classmethod
    def eager(cls) -> PollPolicy:
        """Lower latency for more requests: backoff x1.5 capped at one minute."""
        return cls(growth=1.5, cap=60.0, first_poll_fraction=0.8)

    def retry_after_or_default(self, retry_after: float | None) -> float:
        """The server's Retry-After if usable (finite and > 0), else ``default_retry_after``;
        never below :data:`MIN_RETRY_AFTER` (the base of the backoff)."""
        if retry_after is None or not 0 < retry_after < math.inf:
            return self.default_retry_after
        return max(retry_after, MIN_RETRY_AFTER)  # hook #14: Retry-After floor

    def aim(self, durations: Sequence[float]) -> float | None:
        """Where the first poll aims for a report with these learned durations, or None.

        None until ``stable_after`` durations are known and they are stable (see the
        module docstring), or when ``learn`` is off.
        """
        ordered = sorted(d for d in durations if 0 < d < math.inf)
        if not self.learn or len(ordered) < self.stable_after:
            return None
        median = ordered[(len(ordered) - 1) // 2]
        if ordered[-1] - ordered[0] > self.stable_spread * median:
            return None
        return ordered[math.ceil(self.aim_quantile * (len(ordered) - 1))]

    def delay(
        self,
        polls: int,
        *,
        retry_after: float | None,
        expected: float | None,
        aim: float | None = None,
    ) -> float:
        """Seconds from the last answer (from the 202 if ``polls == 0``) to the next poll.

        ``polls`` counts the polls answered so far; ``expected`` is the job's learned
        duration and ``aim`` the first poll's target (:meth:`aim`), both ignored unless
        ``learn``. Never below ``max(retry_after, min_interval)``.
        """
        ra = self.retry_after_or_default(retry_after)
        floor = max(ra, self.min_interval)
        if self.learn and expected is not None and 0 < expected < math.inf:
            if polls == 0:
                if aim is not None and 0 < aim < math.inf:
                    return max(floor, aim)
                return max(floor, self.first_poll_fraction * expected)
            step, exponent = max(ra, (1 - self.first_poll_fraction) * expected), polls - 1
        else:
            step, exponent = ra, polls
        try:
            backoff = step * self.growth**exponent
        except OverflowError:
            backoff = math.inf
        return max(floor, min(self.cap, backoff))

    def plan(
        self,
        polls: int,
        *,
        base: float,
        retry_after: float | None,
        expected: float | None,
        deadline: float,
        aim: float | None = None,
    ) -> float:
        """Unix time of the next poll, given the time ``base`` of the last answer.

        The backoff is pulled in to ``deadline`` when it would overshoot it, but never
        before the floor; a result past ``deadline`` means no poll may be sent.
        """
        floor = max(self.retry_after_or_default(retry_after), self.min_interval)
        planned = base + self.delay(polls, retry_after=retry_after, expected=expected, aim=aim)
        if planned > deadline:
            planned = max(base + floor, deadline)
        return planned

    def schedule(
        self,
        duration: float,
        *,
        retry_after: float = 5.0,
        expected: float | None = None,
        aim: float | None = None,
    ) -> tuple[float, ...]:
        """Poll times (seconds after the 202) for a job that takes ``duration`` seconds.

        The server is assumed to send ``retry_after`` every time and the result is ready
        from ``duration`` on; ``expected`` is the learned duration (only used with
        ``learn``) and ``aim`` the first poll's target (:meth:`aim`). The last time is the
        poll that sees 200, or the last one before the
        job's expiry (or ``max_polls``).
        """
        deadline = JOB_LIFETIME - self.expiry_margin
        times: list[float] = []
        base = 0.0
        while self.max_polls is None or len(times) < self.max_polls:
            at = self.plan(
                len(times),
                base=base,
                retry_after=retry_after,
                expected=expected,
                deadline=deadline,
                aim=aim,
            )
            if at > deadline:
                break
            times.append(at)
            if at >= duration:
                break
            base = at
        return tuple(times)

    def predict_polls(
        self,
        duration: float,
        *,
        retry_after: float = 5.0,
        expected: float | None = None,
        aim: float | None = None,
    ) -> int:
        """How many polls (requests) a job of ``duration`` seconds costs under this policy.

        The poll that sees 200 counts; see :meth:`schedule` for the assumptions.
        """
        return len(self.schedule(duration, retry_after=retry_after, expected=expected, aim=aim))


class CostRow(NamedTuple):
    """One line of :func:`cost_table`: a duration and the polls it costs.

    ``polls``: nothing learned; ``learned_polls``: the duration learned (fewer runs than
    ``stable_after``); ``stable_polls``: learned and stable (the first poll aims at it);
    ``naive_polls``: a poll every Retry-After.
    """

    duration: float
    polls: int
    naive_polls: int
    learned_polls: int = 0
    stable_polls: int = 0


def cost_table(
    policy: PollPolicy,
    durations: tuple[float, ...] = (10, 60, 300, 1800),
    retry_after: float = 5,
) -> list[CostRow]:
    """Polls per job duration under ``policy`` (nothing learned, learned, learned and
    stable) and under naive polling."""
    naive = PollPolicy.naive()
    return [
        CostRow(
            float(d),
            policy.predict_polls(d, retry_after=retry_after),
            naive.predict_polls(d, retry_after=retry_after),
            policy.predict_polls(d, retry_after=retry_after, expected=d),
            policy.predict_polls(
                d, retry_after=retry_after, expected=d, aim=policy.aim([d] * policy.stable_after)
            ),
        )
        for d in durations
    ]


class JobHistory:
    """An in-memory record of how long recent jobs took, per report key.

    Keeps the last ``size`` durations of at most ``max_keys`` keys (the key recorded
    least recently is dropped first). :meth:`expected` is their ``quantile`` (default
    the lower median, robust to one slow run). A recorded duration is the time of the
    poll that saw 200, an overestimate by at most one interval; first polls at
    ``first_poll_fraction < 1`` of it pull the estimate back down over time.

    Raises :class:`ConfigurationError` for out-of-range arguments.
    """

    def __init__(self, *, size: int = 10, quantile: float = 0.5, max_keys: int = 256) -> None:
        if size < 1 or max_keys < 1 or not 0 <= quantile <= 1:
            raise ConfigurationError(
                "JobHistory needs size >= 1, max_keys >= 1, 0 <= quantile <= 1"
            )
        self._size, self._quantile, self._max_keys = size, quantile, max_keys
        self._durations: OrderedDict[str, deque[float]] = OrderedDict()

    def __repr__(self) -> str:
        return f"<JobHistory keys={len(self._durations)} size={self._size}>"

    def record(self, key: str, duration: float) -> None:
        """Remember one finished job's duration; non-finite or negative values are ignored."""
        if not 0 <= duration < math.inf:
            return
        durations = self._durations.pop(key, None) or deque(maxlen=self._size)
        durations.append(duration)
        self._durations[key] = durations
        while len(self._durations) > self._max_keys:
            self._durations.popitem(last=False)

    def seed(self, key: str, durations: Sequence[float]) -> None:
        """Put ``durations`` learned elsewhere (a knowledge store) before those recorded here."""
        own = self._durations.pop(key, None) or deque(maxlen=self._size)
        merged: deque[float] = deque(maxlen=self._size)
        merged.extend(d for d in durations if 0 <= d < math.inf)
        merged.extend(own)
        self._durations[key] = merged
        while len(self._durations) > self._max_keys:
            self._durations.popitem(last=False)

    def durations(self, key: str) -> tuple[float, ...]:
        """The remembered durations for ``key``, oldest first."""
        return tuple(self._durations.get(key, ()))

    def expected(self, key: str) -> float | None:
        """The typical duration of a ``key`` job, or None when none was recorded."""
        ordered = sorted(self._durations.get(key, ()))
        if not ordered:
            return None
        return ordered[math.floor(self._quantile * (len(ordered) - 1))]

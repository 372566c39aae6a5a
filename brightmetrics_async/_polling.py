"""The job state machine of an asynchronous export (sans-I/O).

Theory of operation
-------------------
A ``Prefer: respond-async`` request is answered 202 with a status URL (``Location``
header and/or ``statusUrl`` in the body) and a ``Retry-After``; :func:`interpret_submit`
turns that answer into :class:`Accepted`, or :class:`Immediate` when the server ignored
the preference and sent the result at once. A :class:`JobPoller` then drives the wait.
It performs no I/O and never sleeps; the async layer loops::

    action = poller.next_action(now)       # Wait(until) | Poll(url) | Expired(reason)
    Wait -> sleep until `until`, ask again
    Poll -> GET url, then outcome = poller.on_response(status, headers, body, now=...)
    Expired -> raise JobExpired: no request is spent

States (:class:`JobState`): PENDING until a poll answers 200 (DONE), 404/410 or the
deadline passes (EXPIRED), or a non-transient error status or unsafe link (FAILED).
Terminal states are final: asking a finished poller for its next action, or reporting
a response for which no :class:`Poll` was issued, raises :class:`JobError` rather than
looping.

Invariants: the first poll waits (never at once); no poll comes earlier than
``max(Retry-After, min_interval)`` after the previous answer, the last Retry-After seen
being the floor; polls back off as :class:`PollPolicy` plans; no poll is sent after the
deadline (the status URL's 1-hour life minus a margin, or the caller's earlier one);
``polls`` counts every answered poll, i.e. requests spent. A transient error (408, 429,
5xx) is an outcome, not a state: the job stays PENDING and the caller may poll again.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import attrs

from ._errors import JobError, UnexpectedResponse, UnsafeLink
from ._poll_policy import JOB_LIFETIME, JobHistory, PollPolicy
from ._protocol import error_for_status, require_same_origin
from ._retry import is_transient_status
from ._retry_after import parse_retry_after

__all__ = [
    "Accepted",
    "Done",
    "Expired",
    "ExpiryReason",
    "Failed",
    "Immediate",
    "JobPoller",
    "JobState",
    "Pending",
    "Poll",
    "Wait",
    "interpret_submit",
]

ExpiryReason = Literal["lifetime", "deadline", "max_polls", "gone"]
# A 202 body is a few hundred bytes; do not parse a large body looking for statusUrl.
_MAX_JSON_BODY = 64 * 1024


class JobState(enum.Enum):
    """Where a :class:`JobPoller` is."""

    PENDING = "pending"
    DONE = "done"
    EXPIRED = "expired"
    FAILED = "failed"


@attrs.frozen
class Wait:
    """Action: sleep until Unix time ``until``, then ask again."""

    until: float


@attrs.frozen
class Poll:
    """Action: GET ``url`` now, and report the answer to :meth:`JobPoller.on_response`."""

    url: str


@attrs.frozen
class Expired:
    """Action or outcome: stop waiting and raise :class:`JobExpired`.

    ``reason``: ``"lifetime"`` (the next poll would fall past the status URL's life),
    ``"deadline"`` (the caller's), ``"max_polls"`` (the policy's limit) or ``"gone"``
    (the server answered 404/410). ``polls`` counts the requests spent.
    """

    reason: ExpiryReason
    polls: int


@attrs.frozen
class Done:
    """Outcome: the poll answered 200, its body is the export result."""

    status_url: str
    duration: float
    polls: int


@attrs.frozen
class Pending:
    """Outcome: still running (202); the next poll is due at ``next_poll_at``."""

    status_url: str
    retry_after: float
    next_poll_at: float


@attrs.frozen
class Failed:
    """Outcome: the poll answered an error status.

    When ``transient`` (408, 429, 5xx) the poller stays PENDING and plans the next poll
    after ``retry_after`` (or its backoff); otherwise it is FAILED. ``headers`` and
    ``body`` let the caller build the matching :class:`ApiError`.
    """

    status: int
    transient: bool
    retry_after: float | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict, eq=False, repr=False)
    body: bytes | None = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen
class Accepted:
    """The export was accepted: poll ``status_url``, not before ``retry_after`` seconds."""

    status_url: str
    retry_after: float | None
    accepted_at: float


@attrs.frozen
class Immediate:
    """The server ignored ``respond-async``: the response body is already the result."""


def interpret_submit(
    status: int,
    headers: Mapping[str, str],
    body: bytes | None,
    *,
    request_url: str,
    now: float,
) -> Accepted | Immediate:
    """Interpret the answer to a ``Prefer: respond-async`` request.

    The status URL is ``Location`` (resolved against ``request_url``) or else the body's
    ``statusUrl``; ``retry_after`` is None when the header is missing or unusable.

    Raises :class:`UnexpectedResponse` for a 202 without a status URL or for a status
    other than 200/202, :class:`UnsafeLink` for a status URL on another origin, and the
    :class:`ApiError` of :func:`error_for_status` for an error status.
    """
    if status == 200:
        return Immediate()
    retry_after = _retry_after(headers, now)
    error = error_for_status(
        status, headers, body or b"", retry_after=retry_after, what="export request"
    )
    if error is not None:
        raise error
    if status != 202:
        raise UnexpectedResponse(f"export request: HTTP {status}, expected 202 Accepted or 200")
    url = _status_url(headers, body, base=request_url)
    if url is None:
        raise UnexpectedResponse("export request: 202 without a Location header or statusUrl")
    return Accepted(status_url=url, retry_after=retry_after, accepted_at=now)


class JobPoller:
    """The poll state machine of one export job (see the module docstring).

    ``submitted_at``: when the 202 arrived (Unix time); ``expires_at``: when the status
    URL dies, by default one hour later; ``retry_after``: the server's last value in
    seconds (None: the policy's default); ``polls`` and ``last_response_at``: progress
    so far, when resuming; ``deadline``: the caller's overall deadline, if earlier.
    With ``policy.learn``, ``history.expected(history_key)`` is read once, here, and the
    duration is recorded there when the job is done.
    """

    def __init__(
        self,
        status_url: str,
        *,
        submitted_at: float,
        expires_at: float | None = None,
        policy: PollPolicy | None = None,
        history: JobHistory | None = None,
        history_key: str | None = None,
        retry_after: float | None = None,
        polls: int = 0,
        last_response_at: float | None = None,
        deadline: float | None = None,
    ) -> None:
        self._policy = policy if policy is not None else PollPolicy()
        self._url = status_url
        self._submitted_at = submitted_at
        self._expires_at = submitted_at + JOB_LIFETIME if expires_at is None else expires_at
        self._history, self._key = history, history_key
        self._retry_after = retry_after if retry_after and 0 < retry_after < math.inf else None
        self._polls, self._last = polls, last_response_at
        end_of_life = self._expires_at - self._policy.expiry_margin
        self._deadline = end_of_life if deadline is None else min(deadline, end_of_life)
        self._deadline_reason: ExpiryReason = (
            "deadline" if self._deadline < end_of_life else "lifetime"
        )
        self._expected: float | None = None
        self._aim: float | None = None
        if self._policy.learn and history is not None and history_key is not None:
            self._expected = history.expected(history_key)
            self._aim = self._policy.aim(history.durations(history_key))  # #12: aim when stable
        self._state = JobState.PENDING
        self._awaiting = False
        self._next_poll_at = self._plan()

    @property
    def state(self) -> JobState:
        """Where the machine is."""
        return self._state

    @property
    def status_url(self) -> str:
        """Where to poll; follows a changed ``Location``/``statusUrl``."""
        return self._url

    @property
    def polls(self) -> int:
        """Polls answered so far: the requests this job spent after submission."""
        return self._polls

    @property
    def retry_after(self) -> float | None:
        """The last usable Retry-After the server sent, in seconds."""
        return self._retry_after

    @property
    def submitted_at(self) -> float:
        """When the 202 arrived."""
        return self._submitted_at

    @property
    def expires_at(self) -> float:
        """When the status URL stops being valid."""
        return self._expires_at

    @property
    def deadline(self) -> float:
        """No poll is sent after this time."""
        return self._deadline

    @property
    def next_poll_at(self) -> float:
        """When the next poll is due (past :attr:`deadline`: there will be none)."""
        return self._next_poll_at

    @property
    def last_response_at(self) -> float | None:
        """When the last poll was answered, None before the first."""
        return self._last

    @property
    def history_key(self) -> str | None:
        """The key this job's duration is learned under."""
        return self._key

    def __repr__(self) -> str:
        return (
            f"<JobPoller {self._state.name} polls={self._polls} "
            f"next_poll_at={self._next_poll_at:.1f} deadline={self._deadline:.1f}>"
        )

    def next_action(self, now: float) -> Wait | Poll | Expired:
        """What to do at Unix time ``now``: wait, poll, or give up without a request.

        While a poll is outstanding the same :class:`Poll` is returned again.
        Raises :class:`JobError` if the poller is no longer PENDING.
        """
        self._require_pending("next_action")
        if self._awaiting:
            return Poll(self._url)
        limit = self._policy.max_polls
        if limit is not None and self._polls >= limit:
            return self._expire("max_polls")
        if self._next_poll_at > self._deadline or now > self._deadline:
            return self._expire(self._deadline_reason)
        if now < self._next_poll_at:
            return Wait(self._next_poll_at)
        self._awaiting = True
        return Poll(self._url)

    def on_response(
        self,
        status: int,
        headers: Mapping[str, str],
        body: bytes | None,
        *,
        now: float,
    ) -> Done | Pending | Expired | Failed:
        """Take the answer to the poll :meth:`next_action` asked for.

        ``body`` may be None (a 200 whose result is streamed elsewhere). Raises
        :class:`JobError` when no poll is outstanding, and :class:`UnsafeLink` (the job
        is then FAILED) when a new status URL points to another origin.
        """
        self._require_pending("on_response")
        if not self._awaiting:
            raise JobError("on_response without a Poll from next_action")
        self._awaiting = False
        self._polls += 1
        self._last = now
        if status == 200:
            self._state = JobState.DONE
            duration = now - self._submitted_at
            if self._history is not None and self._key is not None:
                self._history.record(self._key, duration)
            return Done(status_url=self._url, duration=duration, polls=self._polls)
        if status in (404, 410):
            return self._expire("gone")
        retry_after = _retry_after(headers, now)
        if status != 202 and not is_transient_status(status):
            self._state = JobState.FAILED
            return Failed(status, False, retry_after, dict(headers), body)
        if retry_after is not None and retry_after > 0:
            # 0 (or a date in the past: clock skew) says nothing usable; keep the last value.
            self._retry_after = retry_after
        if status == 202:
            try:
                self._url = _status_url(headers, body, base=self._url) or self._url
            except UnsafeLink:
                self._state = JobState.FAILED
                raise
        self._next_poll_at = self._plan()
        if status != 202:
            return Failed(status, True, retry_after, dict(headers), body)
        effective = self._policy.retry_after_or_default(self._retry_after)
        return Pending(self._url, retry_after=effective, next_poll_at=self._next_poll_at)

    def on_failure(self, *, sent: bool, now: float) -> None:
        """The poll :meth:`next_action` asked for failed without an answer (a reset, a
        timeout). ``sent``: it may have reached the server, so it counts as a poll and the
        next one is planned per the backoff; otherwise the poll is simply still due.
        """
        self._require_pending("on_failure")
        if not self._awaiting:
            raise JobError("on_failure without a Poll from next_action")
        self._awaiting = False
        if sent:
            self._polls += 1
            self._last = now
            self._next_poll_at = self._plan()

    def _plan(self) -> float:
        return self._policy.plan(
            self._polls,
            base=self._submitted_at if self._last is None else self._last,
            retry_after=self._retry_after,
            expected=self._expected,
            deadline=self._deadline,
            aim=self._aim,
        )

    def _require_pending(self, what: str) -> None:
        if self._state is not JobState.PENDING:
            raise JobError(f"{what} on a job poller that is {self._state.value}")

    def _expire(self, reason: ExpiryReason) -> Expired:
        self._state = JobState.EXPIRED
        return Expired(reason=reason, polls=self._polls)


def _retry_after(headers: Mapping[str, str], now: float) -> float | None:
    return parse_retry_after(_header(headers, "Retry-After"), now=now)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive lookup for plain dicts as well as CIMultiDict."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)


def _status_url(headers: Mapping[str, str], body: bytes | None, *, base: str) -> str | None:
    """``Location`` (preferred) or the body's ``statusUrl``, resolved against ``base``.

    None when neither is there; raises :class:`UnsafeLink` for another origin. An
    absolute URL is kept verbatim (it is the server's opaque link).
    """
    link = (_header(headers, "Location") or "").strip() or _body_status_url(body)
    if not link:
        return None
    if link.startswith(("http://", "https://")):
        absolute = link  # the common case, without parsing: the check below parses if needed
    else:
        try:
            absolute = link if urlsplit(link).scheme else urljoin(base, link)
        except ValueError:
            raise UnsafeLink("the status URL is malformed; it was not followed") from None
    return require_same_origin(absolute, base, what="the status URL")


def _body_status_url(body: bytes | None) -> str | None:
    if not body or len(body) > _MAX_JSON_BODY:
        return None
    try:
        document: Any = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    value = document.get("statusUrl") if isinstance(document, dict) else None
    return value.strip() if isinstance(value, str) and value.strip() else None

"""The flows of an asynchronous export: submit, poll once, wait for the result.

A poll is sent once, never retried by the fetch flow: whatever answers it (202, 200, 404,
a 503, a 429, a reset) is a poll the server saw, and goes to the :class:`JobPoller`, which
counts it and plans the next one after the answer's ``Retry-After`` (or its backoff). The wait
loop decides whether a failed poll is worth another (the :class:`RetryPolicy`'s tries for
consecutive failures); if it gives up, the plan stays, so the next ``result()`` still waits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from ._bodies import read_status, stream_typed
from ._errors import (
    ApiError,
    BrightmetricsError,
    JobError,
    JobExpired,
    TransportError,
    UnexpectedResponse,
)
from ._fetch import (
    Consume,
    Flow,
    Head,
    Now,
    Policy,
    Sink,
    Sleep,
    fetch,
    rate_limit,
    read_error,
)
from ._fetch import send_following_redirects as send
from ._formats import Format
from ._polling import (
    Accepted,
    Expired,
    Failed,
    Immediate,
    JobPoller,
    JobState,
    Poll,
    Wait,
    interpret_submit,
)
from ._protocol import error_for_status
from ._request import Request, Requests

__all__ = ["expired_text", "poll_once", "submit", "wait"]

T = TypeVar("T")


def expired_text(action: Expired) -> str:
    """What a :class:`JobExpired` says for each reason."""
    return {
        "lifetime": "the job's status URL is past its 1-hour life; no request was sent",
        "deadline": "the wait deadline passed before the job finished",
        "max_polls": "the poll limit was reached before the job finished",
        "gone": "the server no longer knows the job (404/410)",
    }.get(action.reason, f"the job expired ({action.reason})")


def submit(
    policy: Policy, request: Request, fmt: Format, spool: Sink
) -> Flow[Accepted | Immediate]:
    """Send a ``Prefer: respond-async`` request; a 200 (the preference ignored) is streamed
    to ``spool`` (within ``Limits.export``) and gives :class:`Immediate`. A 202 body past
    ``Limits.status`` is refused."""

    def answer(head: Head) -> Flow[Accepted | Immediate]:
        body = None
        if head.status == 202:
            body = yield from read_status(policy.limits)
        outcome = interpret_submit(
            head.status, head.headers, body, request_url=request.url, now=head.received_at
        )
        if isinstance(outcome, Immediate):
            yield from stream_typed(spool, fmt, limits=policy.limits)(head)
        return outcome

    return (yield from fetch(policy, request, answer, ok=(200, 202)))


def poll(
    policy: Policy, requests: Requests, poller: JobPoller, fmt: Format, consume: Consume[T]
) -> Flow[tuple[bool, T | None]]:
    """Send the poll the poller asked for; ``(True, value)`` when it carried the result."""
    request = requests.poll(poller.status_url, fmt)
    answered: list[Head] = []
    try:
        head = yield from send(policy, request, answered)
    except BrightmetricsError as error:
        # Reached the server (a reset after sending, a refused redirect): a poll all the same.
        reached = bool(answered) or (isinstance(error, TransportError) and not error.before_send)
        now: float = yield Now()
        poller.on_failure(sent=reached, now=now)
        raise
    if head.status == 200:
        try:
            value = yield from consume(head)
        finally:  # the server saw the poll and the job is done, read or not
            poller.on_response(200, head.headers, None, now=head.received_at)
        return True, value
    try:
        if head.status == 202:
            body: bytes = yield from read_status(policy.limits)
        else:  # an error (or 404/410): its body explains it, read up to Limits.error
            body = yield from read_error(policy.limits)
    except TransportError:
        body = b""
    except UnexpectedResponse:  # past Limits.status: refused, but the server saw the poll
        poller.on_failure(sent=True, now=head.received_at)
        raise
    outcome = poller.on_response(head.status, head.headers, body, now=head.received_at)
    if isinstance(outcome, Expired):
        raise JobExpired(expired_text(outcome))
    if isinstance(outcome, Failed):
        failure = error_for_status(
            outcome.status, head.headers, body, retry_after=outcome.retry_after, what="status poll"
        )
        if failure is None:
            raise JobError(f"status poll: HTTP {outcome.status}")
        if outcome.status == 429:
            yield from rate_limit(policy, head, failure, outcome.retry_after)
        raise failure
    return False, None


def poll_once(
    policy: Policy, requests: Requests, poller: JobPoller, fmt: Format, spool: Sink
) -> Flow[bool]:
    """One poll if one is due now (never early); True when the result was spooled."""
    now: float = yield Now()
    action = poller.next_action(now)
    if isinstance(action, Expired):
        raise JobExpired(expired_text(action))
    if isinstance(action, Poll):
        consume = stream_typed(spool, fmt, limits=policy.limits)
        done, _ = yield from poll(policy, requests, poller, fmt, consume)
        return done
    return False


def wait(
    policy: Policy,
    requests: Requests,
    poller: JobPoller,
    fmt: Format,
    consume: Consume[T],
    on_poll: Callable[[], None] | None = None,
) -> Flow[T]:
    """Wait for the job (sleeping until each planned poll) and return ``consume``'s value."""
    retry = policy.retry
    failures = 0
    while True:
        now: float = yield Now()
        if poller.state is JobState.DONE:
            # The status URL serves the result for its whole hour: fetch it again.
            if now >= poller.expires_at:
                raise JobExpired("the job's result is past its 1-hour life")
            request = requests.result(poller.status_url, fmt)
            return (yield from fetch(policy, request, _again(consume), ok=(200, 202, 404, 410)))
        if poller.state is not JobState.PENDING:
            raise JobError(f"the job is {poller.state.value}; its result is gone")
        action = poller.next_action(now)
        if isinstance(action, Wait):
            seconds = action.until - now
            del action  # a sleeping job's frame holds no more than it needs (#11)
            yield Sleep(seconds)
            continue
        if isinstance(action, Expired):
            raise JobExpired(expired_text(action))
        try:
            done, value = yield from poll(policy, requests, poller, fmt, consume)
        except BrightmetricsError as error:
            failures += 1
            if not _worth_another(policy, error, failures):
                raise
            if poller.state is JobState.PENDING and poller.next_poll_at <= now:
                # Never sent (refused connection): the poll is still due; back off.
                yield Sleep(retry.delay(failures))
            continue  # the poller planned the next poll after the answer's Retry-After
        finally:
            if on_poll is not None:
                on_poll()
        if done:
            return value  # type: ignore[return-value]
        failures = 0


def _worth_another(policy: Policy, error: BrightmetricsError, failures: int) -> bool:
    retry = policy.retry
    if not retry.should_retry(error, idempotent=True) or failures >= retry.attempts:
        return False
    retry_after = error.retry_after if isinstance(error, ApiError) else None
    return retry_after is None or retry_after <= retry.max_retry_after


def _again(consume: Consume[T]) -> Consume[T]:
    def answer(head: Head) -> Flow[T]:
        if head.status != 200:
            raise JobExpired(f"the finished job's status URL answered HTTP {head.status}")
        return (yield from consume(head))

    return answer

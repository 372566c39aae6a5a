"""Resume tokens for asynchronous exports: versioned JSON, never pickle.

A token lets another process (or a later run) carry on waiting for an export without
submitting it again: it holds the status URL, what was asked for, the job's timing and
how many polls it already cost. It holds no credentials and no request headers: the
resuming session supplies its own. The format is compact JSON with sorted keys and a
``"v": 1`` version field, ASCII only, so it can travel through environment variables,
files or a shell. Unpickling untrusted data executes code (azure-core,
CVE-2026-21226); parsing JSON does not.

Decoding is strict: malformed JSON, an unknown version, a missing or wrongly typed
field, or a job past its expiry all raise :class:`InvalidToken` locally, before any
request is spent. A token is checked, not trusted: the job's deadline is
``submitted_at`` + 1 hour whatever ``expires_at`` says, a ``submitted_at``
more than :data:`MAX_SKEW` seconds in the future is refused, and so is a status URL off
the service's origin and status path (:class:`InvalidTokenLink`). Unknown extra keys are
ignored, so a later minor version can add optional fields without breaking older readers.
"""

from __future__ import annotations

import json
import math
from typing import Any

import attrs

from ._errors import ConfigurationError, InvalidToken, InvalidTokenLink, UnsafeLink
from ._links import checked_url
from ._poll_policy import JOB_LIFETIME, JobHistory, PollPolicy
from ._polling import JobPoller
from ._protocol import origin_of

__all__ = [
    "MAX_SKEW",
    "TOKEN_VERSION",
    "check_status_url",
    "JobToken",
    "decode_token",
    "encode_token",
    "resume_poller",
    "token_for",
]

#: The token format version written by :func:`encode_token`.
TOKEN_VERSION = 1
# Real tokens are a few hundred bytes; refuse to parse megabytes of attacker input.
_MAX_TOKEN_LENGTH = 16 * 1024
# Far more than an hour of polling can spend; bounds what a forged token can claim.
_MAX_POLLS = 1_000_000
#: Seconds a token's times may lie in the future (clocks of two machines disagree a little).
MAX_SKEW = 60.0


@attrs.frozen(kw_only=True)
class JobToken:
    """What is needed to resume waiting for an export job.

    ``report`` is the report GUID or name, ``format`` the requested format (e.g.
    ``"csv;formatted"``), times are Unix seconds, ``retry_after`` the server's last
    Retry-After (None if never sent), ``polls`` the polls already spent,
    ``history_key`` the key its duration is learned under, ``last_poll_at`` when the
    last poll was answered.

    Raises :class:`InvalidToken` for inconsistent values (a non-http(s) status URL,
    non-finite times, an expiry before the submission, negative polls).
    """

    version: int = TOKEN_VERSION
    status_url: str
    report: str
    format: str
    submitted_at: float
    expires_at: float
    retry_after: float | None = None
    polls: int = 0
    history_key: str | None = None
    last_poll_at: float | None = None

    def __attrs_post_init__(self) -> None:
        if self.version != TOKEN_VERSION:
            raise InvalidToken(f"unsupported resume token version {self.version!r}")
        try:
            origin_of(self.status_url)
        except ConfigurationError:
            raise InvalidTokenLink("resume token: the status URL is not an http(s) URL") from None
        times = [self.submitted_at, self.expires_at]
        times += [t for t in (self.retry_after, self.last_poll_at) if t is not None]
        if not all(math.isfinite(t) for t in times):
            raise InvalidToken("resume token: times must be finite")
        if self.expires_at <= self.submitted_at or not 0 <= self.polls <= _MAX_POLLS:
            raise InvalidToken("resume token: inconsistent expiry or poll count")
        if self.retry_after is not None and self.retry_after < 0:
            raise InvalidToken("resume token: negative retry_after")
        if not self.report:
            raise InvalidToken("resume token: empty report")


def encode_token(token: JobToken) -> str:
    """The token as compact, ASCII, key-sorted JSON with ``"v": 1``."""
    document = {
        "v": token.version,
        "status_url": token.status_url,
        "report": token.report,
        "format": token.format,
        "submitted_at": token.submitted_at,
        "expires_at": token.expires_at,
        "retry_after": token.retry_after,
        "polls": token.polls,
        "history_key": token.history_key,
        "last_poll_at": token.last_poll_at,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False)


def decode_token(text: str, *, now: float, base_url: str | None = None) -> JobToken:
    """Parse a token made by :func:`encode_token`, refusing it if expired at ``now``.

    ``expires_at`` is cut to ``submitted_at`` + 1 hour. With ``base_url``, the status URL
    must lie on the service's status path (:func:`check_status_url`).

    Raises :class:`InvalidToken` for anything but a well-formed version-1 token of a
    job whose status URL is still valid (``now < expires_at``), submitted no later than
    ``now`` + :data:`MAX_SKEW`; :class:`InvalidTokenLink` for a status URL elsewhere.
    """
    if not isinstance(text, str) or len(text) > _MAX_TOKEN_LENGTH:
        raise InvalidToken("resume token: not a string of a sensible length")
    try:
        document: Any = json.loads(
            text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys
        )
    except (ValueError, RecursionError):  # JSONDecodeError is a ValueError
        raise InvalidToken("resume token: not valid JSON") from None
    if not isinstance(document, dict):
        raise InvalidToken("resume token: not a JSON object")
    version = document.get("v")
    if type(version) is not int or version != TOKEN_VERSION:
        raise InvalidToken(f"resume token: unsupported version {version!r}")
    token = JobToken(
        version=version,
        status_url=_field(document, "status_url", str),
        report=_field(document, "report", str),
        format=_field(document, "format", str),
        submitted_at=_number(document, "submitted_at"),
        expires_at=_number(document, "expires_at"),
        retry_after=_number(document, "retry_after", optional=True),
        polls=_field(document, "polls", int),
        history_key=_field(document, "history_key", str, optional=True),
        last_poll_at=_number(document, "last_poll_at", optional=True),
    )
    return checked_token(token, now=now, base_url=base_url)


def checked_token(token: JobToken, *, now: float, base_url: str | None = None) -> JobToken:
    """``token`` with its deadline cut to ``submitted_at`` + 1 hour, after the checks of
    :func:`decode_token` (times in the future, expiry, the status URL).

    Raises :class:`InvalidToken` / :class:`InvalidTokenLink`.
    """
    if token.submitted_at > now + MAX_SKEW:
        raise InvalidToken("resume token: submitted in the future (edited, or a skewed clock)")
    # A last poll in the future only delays the next poll past the deadline: JobExpired,
    # no request. It is not refused.
    deadline = token.submitted_at + JOB_LIFETIME
    if token.expires_at > deadline:  # the service keeps a status URL for one hour, no more
        token = attrs.evolve(token, expires_at=deadline)
    if not now < token.expires_at:
        raise InvalidToken("resume token: the job's status URL has expired")
    if base_url is not None:
        check_status_url(token.status_url, base_url, what="the resume token's status URL")
    return token


def check_status_url(url: str, base_url: str, *, what: str) -> None:
    """Refuse a stored status URL that is not ``<base_url>/status/<something>``.

    Raises :class:`InvalidTokenLink` (an :class:`InvalidToken` and an :class:`UnsafeLink`)
    for another origin, a path outside the status path, dot segments, or a malformed URL.
    """
    try:
        target = checked_url(url, base_url, what=what)
    except UnsafeLink as exc:
        raise InvalidTokenLink(exc.message) from None
    prefix = base_url.split("://", 1)[-1].partition("/")[2].rstrip("/")
    prefix = "/" + prefix + "/status/" if prefix else "/status/"
    raw, decoded = target.raw_path, target.path
    segments = set(raw.split("/")) | set(decoded.split("/"))
    dots = {".", ".."} & segments or "%2e" in raw.lower()
    if dots or not (raw.startswith(prefix) and decoded.startswith(prefix)) or raw == prefix:
        raise InvalidTokenLink(f"{what} is not on the service's status path; not followed")


def token_for(poller: JobPoller, *, report: str, format: str) -> JobToken:  # noqa: A002
    """A token describing ``poller``'s job now, to resume it later.

    Raises :class:`InvalidToken` if the poller's values cannot make a valid token.
    """
    return JobToken(
        status_url=poller.status_url,
        report=report,
        format=format,
        submitted_at=poller.submitted_at,
        expires_at=poller.expires_at,
        retry_after=poller.retry_after,
        polls=poller.polls,
        history_key=poller.history_key,
        last_poll_at=poller.last_response_at,
    )


def resume_poller(
    token: JobToken,
    *,
    policy: PollPolicy | None = None,
    history: JobHistory | None = None,
    deadline: float | None = None,
) -> JobPoller:
    """A :class:`JobPoller` that carries on where the token's job left off.

    The next poll still honours the last Retry-After, counted from ``last_poll_at``,
    and the backoff continues from the polls already spent.
    """
    return JobPoller(
        token.status_url,
        submitted_at=token.submitted_at,
        expires_at=token.expires_at,
        policy=policy,
        history=history,
        history_key=token.history_key,
        retry_after=token.retry_after,
        polls=token.polls,
        last_response_at=token.last_poll_at,
        deadline=deadline,
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        raise ValueError("duplicate key")
    return document


def _field(document: dict[str, Any], name: str, kind: type[Any], *, optional: bool = False) -> Any:
    value: Any = document.get(name)
    if value is None and optional:
        return None
    # type() rather than isinstance(): JSON true/false are bools, and bool is an int.
    if type(value) is not kind:
        raise InvalidToken(f"resume token: {name!r} is missing or not a {kind.__name__}")
    return value


def _number(document: dict[str, Any], name: str, *, optional: bool = False) -> Any:
    value: Any = document.get(name)
    if value is None and optional:
        return None
    if type(value) not in (int, float):
        raise InvalidToken(f"resume token: {name!r} is missing or not a number")
    try:
        return float(value)
    except OverflowError:
        raise InvalidToken(f"resume token: {name!r} is out of range") from None

"""The one error tree of brightmetrics-async.

Every exception the library raises on purpose derives from :class:`BrightmetricsError`;
no aiohttp, sqlite3 or redis exception reaches a caller::

    BrightmetricsError
     ├── ConfigurationError (ValueError)       bad input, caught before any request
     │    ├── FilterError                      a $filter that breaks a vendor rule
     │    ├── UnknownTimezone                  a zone with no Windows name
     │    └── InvalidToken                     a resume token that cannot be used
     │         └── InvalidTokenLink (UnsafeLink) its status URL is off the service's status path
     ├── ApiError                              the server answered with an error status
     │    ├── AuthenticationError              401 / 403
     │    ├── NotFound                         404
     │    └── RateLimited                      429 from the server
     ├── TransportError (OSError)              connection failures, resets
     │    └── RequestTimeout (TimeoutError)    connect / read / total timeout
     ├── UnexpectedResponse                    a 2xx that is not what the protocol promises
     │    └── UnsafeLink                       a next link / status URL on another origin
     ├── BudgetExhausted                       no request token free within max_wait
     ├── BudgetStoreError                      the budget store holds corrupt values, or its
     │                                         file was replaced or deleted
     └── JobError                              an asynchronous export failed
          └── JobExpired (TimeoutError)        past its 1-hour life, or 404/410 on poll

This module is a leaf: it imports nothing from the package. Messages never contain
credentials; callers must not put secrets into them.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "ApiError",
    "AuthenticationError",
    "BrightmetricsError",
    "BudgetExhausted",
    "BudgetStoreError",
    "ConfigurationError",
    "FilterError",
    "InvalidToken",
    "InvalidTokenLink",
    "JobError",
    "JobExpired",
    "NotFound",
    "RateLimited",
    "RequestTimeout",
    "TransportError",
    "UnexpectedResponse",
    "UnknownTimezone",
    "UnsafeLink",
]


class BrightmetricsError(Exception):
    """Base class of every error raised by brightmetrics-async.

    ``token`` is the resume token of the asynchronous job that was being waited on
    when the error happened, if any: hand it to ``Session.resume`` to carry on.
    """

    token: str | None = None

    def __init__(self, message: str, *, token: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if token is not None:
            self.token = token

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class ConfigurationError(BrightmetricsError, ValueError):
    """Invalid input detected locally; no request was sent."""


class FilterError(ConfigurationError):
    """A ``$filter`` breaks one of the vendor's rules.

    ``rule`` names the rule (e.g. ``"unknown-property"``, ``"operator-type"``,
    ``"duplicate-property"``, ``"agent-proxy"``, ``"only-and"``, ``"syntax"``);
    ``property`` is the offending property name when there is one.
    """

    def __init__(
        self,
        message: str,
        *,
        rule: str,
        property: str | None = None,  # noqa: A002 - the vendor's word
    ) -> None:
        super().__init__(message)
        self.rule = rule
        self.property = property


class UnknownTimezone(ConfigurationError):
    """The time zone has no Windows name the service understands."""


class InvalidToken(ConfigurationError):
    """A resume token is malformed, of an unknown version, or expired."""


class ApiError(BrightmetricsError):
    """The service answered with an error status.

    Carries ``status``, the OData error ``code`` and ``error_message`` when the body
    had one, ``retry_after`` (seconds) when the server sent it, and the response
    ``headers`` (credentials are never part of response headers).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str | None = None,
        error_message: str | None = None,
        retry_after: float | None = None,
        headers: Mapping[str, str] | None = None,
        token: str | None = None,
    ) -> None:
        super().__init__(message, token=token)
        self.status = status
        self.code = code
        self.error_message = error_message
        self.retry_after = retry_after
        self.headers: Mapping[str, str] = dict(headers or {})


class AuthenticationError(ApiError):
    """401 or 403: the credentials were refused or lack permission."""


class NotFound(ApiError):
    """404: no such report, or no such status URL."""


class RateLimited(ApiError):
    """429: the company account's quota is spent (``retry_after`` says for how long)."""


class TransportError(BrightmetricsError, OSError):
    """The request could not be completed: connection refused, reset, TLS failure.

    ``before_send`` is True when the failure happened before the request reached the server
    (it could not connect), so even a non-idempotent request is safe to repeat.
    """

    def __init__(
        self, message: str, *, before_send: bool = False, token: str | None = None
    ) -> None:
        super().__init__(message, token=token)
        self.before_send = before_send


class RequestTimeout(TransportError, TimeoutError):
    """A connect, read or total timeout expired."""


class UnexpectedResponse(BrightmetricsError):
    """A response that breaks the protocol: malformed JSON, a missing ``value``,
    a wrong Content-Type, a truncated body, a repeated next link."""


class UnsafeLink(UnexpectedResponse):
    """The server pointed to another origin (or plain HTTP); it was not followed,
    and no credential was sent there."""


class InvalidTokenLink(InvalidToken, UnsafeLink):
    """A resume token's (or journal entry's) status URL is not on the service's origin
    and status path (``<base_url>/status/...``): an :class:`InvalidToken` and an
    :class:`UnsafeLink` at once. Nothing was sent."""


class BudgetExhausted(BrightmetricsError):
    """No request token is free within ``max_wait``.

    ``next_free_at`` is the Unix time at which the next token frees up (or the
    server's block ends); ``remaining`` is what is left now (usually 0).
    """

    def __init__(
        self,
        message: str,
        *,
        next_free_at: float | None,
        remaining: int = 0,
        token: str | None = None,
    ) -> None:
        super().__init__(message, token=token)
        self.next_free_at = next_free_at
        self.remaining = remaining


class BudgetStoreError(BrightmetricsError):
    """The budget store cannot be trusted: out-of-range, non-numeric or future-dated
    entries, or a SQLite file replaced or deleted while in use. ``store`` names it (a
    path or a redacted URL). Nothing is reset: fix or remove the store, then retry."""

    def __init__(self, message: str, *, store: str, token: str | None = None) -> None:
        super().__init__(message, token=token)
        self.store = store


class JobError(BrightmetricsError):
    """An asynchronous export did not produce its result."""


class JobExpired(JobError, TimeoutError):
    """The job's status URL is past its 1-hour life (checked locally), or the
    server said it is gone (404/410)."""

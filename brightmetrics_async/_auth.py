"""The vendor's three ways to sign in, and where credentials come from.

* ``BasicAuth(user, password=...)``: Basic with the SHA-256/base64 hash of the password (the
  vendor's recommended form; the plaintext never leaves the process), or with ``*pass<password>``
  only when ``send_plaintext=True`` is asked for explicitly.
* ``BasicAuth(user, password_hash=...)``: Basic with a hash computed elsewhere.
* ``ApiKey(key)``: ``Authorization: Bearer <key>``; ``ApiKey(key, basic=True)``: Basic with the
  special user ``apikey`` (for tools without Bearer support, such as Power BI).

No object here ever shows a secret in ``repr`` or ``str``.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping

from ._errors import ConfigurationError

__all__ = ["ApiKey", "Auth", "BasicAuth", "auth_from_env", "hash_password"]


def hash_password(password: str) -> str:
    """Return the vendor's password hash: base64 of the SHA-256 of the UTF-8 password.

    ``hash_password("password") == "XohImNooBHFR0OVvjcYpJ3NgPQ1qq73WKhHvch0VQtg="``.
    """
    return base64.b64encode(hashlib.sha256(password.encode("utf-8")).digest()).decode("ascii")


def _refuse_control(value: object, what: str, *, ascii_only: bool = False) -> None:
    """Refuse a credential part that is not a str, or holds CR, LF, NUL or another control
    character (it would split or break the header, or be sent for a certain 401).

    Raises ``TypeError`` / :class:`ConfigurationError`; the message never holds the value.
    """
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value):
        raise ConfigurationError(f"{what} contains a control character (CR, LF, NUL, ...)")
    if ascii_only and not value.isascii():
        raise ConfigurationError(f"{what} contains non-ASCII characters")


def _basic(user: str, secret: str) -> str:
    raw = f"{user}:{secret}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def _fingerprint(secret: str) -> str:
    # A short one-way fingerprint: stable enough to tell two keys apart in budget account
    # names, useless for recovering the key.
    return hashlib.sha256(b"brightmetrics-account:" + secret.encode()).hexdigest()[:12]


class BasicAuth:
    """Basic authentication with the user's e-mail address.

    Give exactly one of ``password`` (hashed locally before sending) or ``password_hash``.
    ``send_plaintext=True`` sends ``*pass<password>`` instead of the hash, as the vendor
    allows; it needs ``password``.

    Raises :class:`ConfigurationError` for a missing user, an ambiguous secret, or a user or
    secret holding CR, LF, NUL or another control character (the message names no secret);
    ``TypeError`` for parts that are not strings.
    """

    __slots__ = ("_header", "user")

    def __init__(
        self,
        user: str,
        password: str | None = None,
        *,
        password_hash: str | None = None,
        send_plaintext: bool = False,
    ) -> None:
        _refuse_control(user, "BasicAuth: the user name")
        for part, text in (("password", password), ("password_hash", password_hash)):
            if text is not None:
                _refuse_control(text, f"BasicAuth: the {part}")
        if not user or ":" in user:
            raise ConfigurationError("BasicAuth needs a user name (the e-mail address) without ':'")
        if (password is None) == (password_hash is None):
            raise ConfigurationError("BasicAuth takes exactly one of password= or password_hash=")
        if send_plaintext:
            if password is None:
                raise ConfigurationError("send_plaintext=True needs password=, not password_hash=")
            secret = "*pass" + password
        else:
            secret = password_hash if password_hash is not None else hash_password(password or "")
        if not secret:
            raise ConfigurationError("BasicAuth: the password must not be empty")
        self.user = user
        self._header = _basic(user, secret)

    def header(self) -> str:
        """The value of the ``Authorization`` header."""
        return self._header

    @property
    def identity(self) -> str:
        """A non-secret name for the credential (the user), used for budget account names."""
        return self.user

    def __repr__(self) -> str:
        return f"BasicAuth(user={self.user!r}, password=<hidden>)"


class ApiKey:
    """An API key from the My Account page: Bearer by default, Basic ``apikey:<key>`` with
    ``basic=True``.

    Raises :class:`ConfigurationError` for an empty key, or one holding a control character or
    non-ASCII text (the message names no secret); ``TypeError`` for a key that is not a str.
    """

    __slots__ = ("_header", "_identity", "basic")

    def __init__(self, key: str, *, basic: bool = False) -> None:
        _refuse_control(key.strip() if isinstance(key, str) else key, "ApiKey", ascii_only=True)
        key = key.strip()
        if not key:
            raise ConfigurationError("ApiKey needs a non-empty key")
        self.basic = basic
        self._header = _basic("apikey", key) if basic else f"Bearer {key}"
        self._identity = "key-" + _fingerprint(key)

    def header(self) -> str:
        """The value of the ``Authorization`` header."""
        return self._header

    @property
    def identity(self) -> str:
        """A non-secret fingerprint of the key, used for budget account names."""
        return self._identity

    def __repr__(self) -> str:
        return f"ApiKey(key=<hidden>, basic={self.basic!r})"


Auth = BasicAuth | ApiKey


def auth_from_env(environ: Mapping[str, str] | None = None) -> Auth | None:
    """Credentials from ``BRIGHTMETRICS_API_KEY``, or ``BRIGHTMETRICS_USER`` with
    ``BRIGHTMETRICS_PASSWORD`` / ``BRIGHTMETRICS_PASSWORD_HASH``; None when none are set.

    Raises :class:`ConfigurationError` for a user without a password.
    """
    env = os.environ if environ is None else environ
    key = env.get("BRIGHTMETRICS_API_KEY")
    if key:
        return ApiKey(key)
    user = env.get("BRIGHTMETRICS_USER")
    if not user:
        return None
    password = env.get("BRIGHTMETRICS_PASSWORD")
    password_hash = env.get("BRIGHTMETRICS_PASSWORD_HASH")
    if password_hash:
        return BasicAuth(user, password_hash=password_hash)
    if password:
        return BasicAuth(user, password)
    raise ConfigurationError(
        "BRIGHTMETRICS_USER is set but neither BRIGHTMETRICS_PASSWORD nor "
        "BRIGHTMETRICS_PASSWORD_HASH is"
    )

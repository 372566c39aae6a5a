"""Company accounts, users and API keys, and the vendor's two authentication schemes.

Theory of operation
-------------------
An :class:`Accounts` registry holds company accounts; each account has users (an e-mail and the
stored SHA-256/base64 hash of a password) and API keys (each owned by one user). The request
quota belongs to the company account, so every credential resolves to a :class:`Principal`
naming the account. Registration only ever adds; lookups are by lower-cased e-mail and by key.

Accepted ``Authorization`` forms, as the vendor documents them:

* ``Basic base64(email:<sha256-base64 of password>)``
* ``Basic base64(email:*pass<plaintext password>)``
* ``Basic base64(apikey:<key>)``
* ``Bearer <key>``

Anything else authenticates nobody (the app answers 401).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

import attrs

__all__ = [
    "DEMO_ACCOUNT",
    "DEMO_ACCOUNT_NAME",
    "DEMO_API_KEY",
    "DEMO_PASSWORD",
    "DEMO_PASSWORD_HASH",
    "DEMO_USER",
    "OTHER_ACCOUNT",
    "OTHER_ACCOUNT_NAME",
    "OTHER_API_KEY",
    "OTHER_PASSWORD",
    "OTHER_USER",
    "SECOND_API_KEY",
    "SECOND_PASSWORD",
    "SECOND_USER",
    "Account",
    "Accounts",
    "Principal",
    "hash_password",
]


def hash_password(password: str) -> str:
    """The vendor's password hash: base64 of the SHA-256 of the UTF-8 password."""
    return base64.b64encode(hashlib.sha256(password.encode("utf-8")).digest()).decode("ascii")


DEMO_ACCOUNT = "acme"
DEMO_ACCOUNT_NAME = "Acme Contact Center"
DEMO_USER = "demo@example.com"
DEMO_PASSWORD = "password"  # noqa: S105 - the vendor's documented example credentials
DEMO_PASSWORD_HASH = hash_password(DEMO_PASSWORD)
DEMO_API_KEY = "4df21f67c293413fa988d8f1535cd12f"
# A second user of the same company: its requests spend the same quota.
SECOND_USER = "analyst@example.com"
SECOND_PASSWORD = "abcd1234"  # noqa: S105
SECOND_API_KEY = "0a6a3e1c55d84b9b9f6f0d2b7c1e4a90"
# Another company: it must never see Acme's reports or spend Acme's quota.
OTHER_ACCOUNT = "globex"
OTHER_ACCOUNT_NAME = "Globex Support"
OTHER_USER = "ops@globex.example"
OTHER_PASSWORD = "globex-secret"  # noqa: S105
OTHER_API_KEY = "9c1d0e7b2f3a4c5d8e9f0a1b2c3d4e5f"


@attrs.frozen
class Account:
    """A company account: the unit that owns reports and the request quota."""

    id: str
    name: str


@attrs.frozen
class Principal:
    """Who made a request: the company account, the user's e-mail and the scheme used.

    ``method`` is one of ``"basic-hash"``, ``"basic-pass"``, ``"basic-apikey"``, ``"bearer"``.
    """

    account: Account
    user: str
    method: str


@attrs.define
class _User:
    email: str
    password_hash: str
    account_id: str


class Accounts:
    """A registry of accounts, users and API keys; see the module docstring."""

    def __init__(self) -> None:
        self._accounts: dict[str, Account] = {}
        self._users: dict[str, _User] = {}
        self._keys: dict[str, str] = {}  # key -> lower-cased e-mail

    @classmethod
    def demo(cls) -> Accounts:
        """The default registry: Acme (two users) and Globex (one user), with the DEMO_* data."""
        accounts = cls()
        accounts.add_account(DEMO_ACCOUNT, DEMO_ACCOUNT_NAME)
        accounts.add_user(DEMO_ACCOUNT, DEMO_USER, DEMO_PASSWORD, api_key=DEMO_API_KEY)
        accounts.add_user(DEMO_ACCOUNT, SECOND_USER, SECOND_PASSWORD, api_key=SECOND_API_KEY)
        accounts.add_account(OTHER_ACCOUNT, OTHER_ACCOUNT_NAME)
        accounts.add_user(OTHER_ACCOUNT, OTHER_USER, OTHER_PASSWORD, api_key=OTHER_API_KEY)
        return accounts

    def add_account(self, account_id: str, name: str) -> Account:
        """Register a company account.

        Raises ValueError if the id is taken.
        """
        if account_id in self._accounts:
            raise ValueError(f"account {account_id!r} already exists")
        account = Account(account_id, name)
        self._accounts[account_id] = account
        return account

    def add_user(
        self, account_id: str, email: str, password: str, *, api_key: str | None = None
    ) -> None:
        """Register a user of ``account_id`` (only the password's hash is kept).

        Raises KeyError for an unknown account, ValueError for a taken e-mail or key.
        """
        if account_id not in self._accounts:
            raise KeyError(account_id)
        if email.lower() in self._users:
            raise ValueError(f"user {email!r} already exists")
        self._users[email.lower()] = _User(email, hash_password(password), account_id)
        if api_key is not None:
            self.add_api_key(email, api_key)

    def add_api_key(self, email: str, key: str) -> None:
        """Give the user ``email`` another API key.

        Raises KeyError for an unknown user, ValueError for a taken key.
        """
        if email.lower() not in self._users:
            raise KeyError(email)
        if key in self._keys:
            raise ValueError("API key already in use")
        self._keys[key] = email.lower()

    def get(self, account_id: str) -> Account:
        """The account with this id.

        Raises KeyError if there is none.
        """
        return self._accounts[account_id]

    @property
    def all(self) -> tuple[Account, ...]:
        """Every registered account, in registration order."""
        return tuple(self._accounts.values())

    def authenticate(self, authorization: str | None) -> Principal | None:
        """The principal an ``Authorization`` header value proves, or None."""
        if not authorization:
            return None
        scheme, _, credentials = authorization.strip().partition(" ")
        credentials = credentials.strip()
        if scheme.lower() == "bearer":
            return self._by_key(credentials, "bearer")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, sep, secret = decoded.partition(":")
        if not sep:
            return None
        if user.lower() == "apikey":
            return self._by_key(secret, "basic-apikey")
        record = self._users.get(user.lower())
        if record is None:
            return None
        if secret.startswith("*pass"):
            given, method = hash_password(secret[len("*pass") :]), "basic-pass"
        else:
            given, method = secret, "basic-hash"
        if not hmac.compare_digest(given.encode(), record.password_hash.encode()):
            return None
        return Principal(self._accounts[record.account_id], record.email, method)

    def _by_key(self, key: str, method: str) -> Principal | None:
        # Compare against every key in constant time per key: a test tool, but no reason to leak.
        owner = next(
            (
                email
                for k, email in self._keys.items()
                if hmac.compare_digest(k.encode(), key.encode())
            ),
            None,
        )
        if owner is None:
            return None
        record = self._users[owner]
        return Principal(self._accounts[record.account_id], record.email, method)

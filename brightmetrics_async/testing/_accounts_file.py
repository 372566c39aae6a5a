"""Company accounts, users and API keys from a TOML file (``brightmetrics emulator --accounts``).

The file lists companies, each with its users; a user has an e-mail, a password and optionally
an API key::

    [[company]]
    id = "acme"
    name = "Acme Contact Center"

    [[company.user]]
    email = "demo@example.com"
    password = "password"
    api_key = "4df21f67c293413fa988d8f1535cd12f"

Every company sees the emulator's default saved reports. These are emulator credentials, so
the listing keeps them in clear to print in the emulator's banner.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import attrs

from ._accounts import (
    DEMO_ACCOUNT,
    DEMO_ACCOUNT_NAME,
    DEMO_API_KEY,
    DEMO_PASSWORD,
    DEMO_USER,
    OTHER_ACCOUNT,
    OTHER_ACCOUNT_NAME,
    OTHER_API_KEY,
    OTHER_PASSWORD,
    OTHER_USER,
    SECOND_API_KEY,
    SECOND_PASSWORD,
    SECOND_USER,
    Accounts,
)

__all__ = ["Credential", "Registry", "demo_registry", "load_accounts"]


@attrs.frozen
class Credential:
    """One user's sign-in data, as written in the file."""

    account: str
    account_name: str
    email: str
    password: str
    api_key: str | None


@attrs.frozen
class Registry:
    """An :class:`Accounts` registry and the credentials it was built from, in file order."""

    accounts: Accounts = attrs.field(eq=False)
    credentials: tuple[Credential, ...]


def demo_registry() -> Registry:
    """The emulator's default accounts (``Accounts.demo()``) with their credentials."""
    return Registry(
        Accounts.demo(),
        (
            Credential(DEMO_ACCOUNT, DEMO_ACCOUNT_NAME, DEMO_USER, DEMO_PASSWORD, DEMO_API_KEY),
            Credential(
                DEMO_ACCOUNT, DEMO_ACCOUNT_NAME, SECOND_USER, SECOND_PASSWORD, SECOND_API_KEY
            ),
            Credential(
                OTHER_ACCOUNT, OTHER_ACCOUNT_NAME, OTHER_USER, OTHER_PASSWORD, OTHER_API_KEY
            ),
        ),
    )


def load_accounts(path: str | Path) -> Registry:
    """Read a TOML accounts file (see the module docstring).

    Raises OSError if it cannot be read, ValueError (naming the file and the entry) if it is
    not TOML or not the expected shape, or repeats an account id, e-mail or API key.
    """
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text") from exc
    companies = doc.get("company")
    if not isinstance(companies, list) or not companies:
        raise ValueError(f"{path}: no [[company]] tables")
    accounts = Accounts()
    credentials = []
    for i, company in enumerate(companies, 1):
        where = f"{path}: company #{i}"
        account_id = _text(company, "id", where)
        name = _text(company, "name", where, default=account_id)
        try:
            accounts.add_account(account_id, name)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        users = company.get("user")
        if not isinstance(users, list) or not users:
            raise ValueError(f"{where} ({account_id}): no [[company.user]] tables")
        for j, user in enumerate(users, 1):
            at = f"{where} ({account_id}), user #{j}"
            email = _text(user, "email", at)
            password = _text(user, "password", at)
            key = _text(user, "api_key", at, default="") or None
            try:
                accounts.add_user(account_id, email, password, api_key=key)
            except ValueError as exc:
                raise ValueError(f"{at}: {exc}") from None
            credentials.append(Credential(account_id, name, email, password, key))
    return Registry(accounts, tuple(credentials))


def _text(table: Any, key: str, where: str, *, default: str | None = None) -> str:
    if not isinstance(table, dict):
        raise ValueError(f"{where}: not a table")
    value = table.get(key, default)
    if value is None:
        raise ValueError(f"{where}: missing {key!r}")
    if not isinstance(value, str) or (not value.strip() and default is None):
        raise ValueError(f"{where}: {key!r} must be a non-empty string")
    return value

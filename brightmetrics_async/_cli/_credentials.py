"""Which credential the CLI signs in with: one precedence rule, in this one place.

Levels, highest first: the command line, the environment (``BRIGHTMETRICS_*``), the config
file. The highest level that names a credential kind (an API key, or a user) wins whole: its
secret comes from the same level, never mixed with another level's (one exception: a password
typed or piped on the command line goes with the user a lower level names). Two kinds at the
same level (say ``--user`` and ``--api-key-stdin``) are an error naming both.

Secrets never travel on the command line (``/proc/<pid>/cmdline`` is readable by every local
user): ``--api-key`` and ``--password`` alone ask on the terminal, ``--api-key-stdin`` and
``--password-stdin`` read one line from standard input, and a value after them is refused
with a message saying how to give it instead.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import attrs
import click

import brightmetrics_async as bm

__all__ = ["ASK", "Credential", "check_config_mode", "choose", "refuse_values"]

#: The value click gives ``--api-key`` / ``--password`` when they are typed alone.
ASK = "\x00ask"

Kind = Literal["api_key", "password", "password_hash"]

_HOW = {
    "api_key": (
        "set BRIGHTMETRICS_API_KEY, put api_key in the config file (mode 600), pipe it with "
        "--api-key-stdin, or give --api-key alone to be asked"
    ),
    "password": (
        "set BRIGHTMETRICS_PASSWORD, pipe it with --password-stdin, or give --password alone "
        "to be asked"
    ),
    "password_hash": (
        "set BRIGHTMETRICS_PASSWORD_HASH or put password_hash in the config file (mode 600)"
    ),
}
_SECRET_KEYS = ("api_key", "password_hash")


@attrs.frozen
class Credential:
    """The chosen credential: an API key, or a user with a password, a hash or nothing yet.

    ``secret is None`` means: ask on the terminal when signing in.
    """

    source: str
    user: str | None = None
    kind: Kind = "api_key"
    secret: str | None = attrs.field(default=None, repr=False)

    def auth(self) -> bm.BasicAuth | bm.ApiKey:
        """The library's credential; asks for a missing secret when stdin is a terminal.

        Raises :class:`ConfigurationError` when a secret is missing and nobody can be asked.
        """
        secret = self.secret
        if secret is None:
            what = "API key" if self.kind == "api_key" else f"Password for {self.user}"
            if not sys.stdin.isatty():
                raise bm.ConfigurationError(
                    f"no {'API key' if self.kind == 'api_key' else 'password'} for the "
                    f"{self.source} credential and no terminal to ask on: "
                    + _HOW["api_key" if self.kind == "api_key" else "password"]
                )
            secret = click.prompt(what, hide_input=True, err=True)
        if self.kind == "api_key":
            return bm.ApiKey(secret)
        assert self.user is not None
        if self.kind == "password_hash":
            return bm.BasicAuth(self.user, password_hash=secret)
        return bm.BasicAuth(self.user, secret)


def refuse_values(params: Mapping[str, Any]) -> None:
    """Refuse a secret typed as an option's value (see the module docstring).

    Raises :class:`ConfigurationError` naming the option and how to give it instead; the
    value itself is never repeated.
    """
    for key, option in (
        ("api_key", "--api-key"),
        ("password", "--password"),
        ("password_hash", "--password-hash"),
    ):
        value = params.get(key)
        if value is not None and value != ASK:
            raise bm.ConfigurationError(
                f"{option} does not take a value: other local users can read a process's "
                f"command line. Instead, {_HOW[key]}"
            )


def _stdin_secret(option: str) -> str:
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise bm.ConfigurationError(f"{option}: nothing on standard input")
    return line


def _level(
    source: str,
    *,
    api_key: tuple[str, str | None] | None,
    user: tuple[str, str | None] | None,
    secret: tuple[Kind, str | None] | None,
) -> Credential | None:
    """The credential of one level (None when it names none); error on two kinds."""
    key_given = api_key is not None and api_key[1] is not None
    user_given = user is not None and user[1] is not None
    if key_given and user_given:
        assert api_key is not None
        assert user is not None
        raise bm.ConfigurationError(
            f"{api_key[0]} and {user[0]} are both given ({source}): "
            "sign in with an API key or a user, not both"
        )
    if key_given:
        assert api_key is not None
        value = None if api_key[1] == ASK else api_key[1]
        return Credential(source, kind="api_key", secret=value)
    if user_given:
        assert user is not None
        kind: Kind = "password"
        value = None
        if secret is not None and secret[1] is not None:
            kind, value = secret[0], (None if secret[1] == ASK else secret[1])
        return Credential(source, user=user[1], kind=kind, secret=value)
    return None


def choose(
    params: Mapping[str, Any], environ: Mapping[str, str], config: Mapping[str, str], where: str
) -> Credential | None:
    """The credential by precedence: command line > environment > config file.

    ``params`` are the parsed options (``api_key``, ``api_key_stdin``, ``user``,
    ``password``, ``password_stdin``); reads standard input for a ``--*-stdin`` option.
    Raises :class:`ConfigurationError` for two kinds at one level, or a value refused.
    """
    refuse_values(params)
    if params.get("api_key_stdin") and params.get("password_stdin"):
        raise bm.ConfigurationError(
            "--api-key-stdin and --password-stdin both want standard input: give one"
        )
    api_key = params.get("api_key")
    api_label = "--api-key"
    if params.get("api_key_stdin"):
        api_key, api_label = _stdin_secret("--api-key-stdin"), "--api-key-stdin"
    password: tuple[Kind, str | None] | None = None
    if params.get("password_stdin"):
        password = ("password", _stdin_secret("--password-stdin"))
    elif params.get("password") is not None:
        password = ("password", params["password"])
    typed = _level(
        "command line",
        api_key=(api_label, api_key),
        user=("--user", params.get("user")),
        secret=password,
    )
    if typed is not None:
        return typed
    lower = _lower(environ, config, where)
    if password is None:
        return lower
    # A password typed (or piped) for the user the environment or config file names.
    if lower is None or lower.user is None:
        raise bm.ConfigurationError(
            "--password / --password-stdin need a user: --user, BRIGHTMETRICS_USER or user "
            "in the config file"
        )
    return attrs.evolve(
        lower,
        source="command line",
        kind="password",
        secret=None if password[1] == ASK else password[1],
    )


def _lower(environ: Mapping[str, str], config: Mapping[str, str], where: str) -> Credential | None:
    """The credential of the environment, else of the config file."""
    env_secret: tuple[Kind, str | None] | None = None
    if environ.get("BRIGHTMETRICS_PASSWORD_HASH"):
        env_secret = ("password_hash", environ["BRIGHTMETRICS_PASSWORD_HASH"])
    elif environ.get("BRIGHTMETRICS_PASSWORD"):
        env_secret = ("password", environ["BRIGHTMETRICS_PASSWORD"])
    from_env = _level(
        "environment",
        api_key=("BRIGHTMETRICS_API_KEY", environ.get("BRIGHTMETRICS_API_KEY") or None),
        user=("BRIGHTMETRICS_USER", environ.get("BRIGHTMETRICS_USER") or None),
        secret=env_secret,
    )
    if from_env is not None:
        return from_env
    return _level(
        f"config file {where}",
        api_key=("api_key", config.get("api_key")),
        user=("user", config.get("user")),
        secret=("password_hash", config["password_hash"]) if config.get("password_hash") else None,
    )


def check_config_mode(path: Path, config: Mapping[str, Any]) -> None:
    """Refuse a config file holding a secret that other users can read or write.

    Raises :class:`ConfigurationError` saying how to fix the mode.
    """
    if os.name != "posix" or not any(config.get(k) for k in _SECRET_KEYS):
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise bm.ConfigurationError(
            f"config file {path} holds a secret but other users can access it "
            f"(mode {mode:04o}): run chmod 600 {path}"
        )

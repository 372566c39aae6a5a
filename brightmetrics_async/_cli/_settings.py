"""Where the CLI's settings come from: options, the environment, then the config file.

Precedence, highest first: a command-line option, its environment variable, the TOML config
file (``--config PATH``, else ``config.toml`` in the user's config directory). Credentials
follow the same order as a whole (see ``_credentials``): the highest level naming one wins,
never mixed with another level's, and secrets are never accepted as option values.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import attrs
import click
import platformdirs

import brightmetrics_async as bm

from ._credentials import ASK, Credential, check_config_mode, choose

__all__ = [
    "CONFIG_KEYS",
    "Settings",
    "connection_options",
    "default_config_path",
    "output_options",
]

F = TypeVar("F", bound=Callable[..., Any])

#: The config file's keys (all strings).
CONFIG_KEYS = frozenset({"url", "user", "password_hash", "api_key", "account", "budget"})


def default_config_path() -> Path:
    """``config.toml`` in the per-user configuration directory of brightmetrics-async."""
    return platformdirs.user_config_path("brightmetrics-async") / "config.toml"


@attrs.frozen
class Settings:
    """Everything a command needs to open a session; secrets never appear in ``repr``."""

    url: str | None = None
    credential: Credential | None = None
    account: str | None = None
    budget: str = "sqlite"
    max_wait: float = 0.0
    json: bool = False
    quiet: bool = False
    verbose: bool = False

    def auth(self) -> bm.BasicAuth | bm.ApiKey:
        """The credential to sign in with (asks for a missing secret on a terminal).

        Raises :class:`ConfigurationError` when none is configured, or a secret is missing
        and there is no terminal to ask on.
        """
        if self.credential is not None:
            return self.credential.auth()
        raise bm.ConfigurationError(
            "no credentials: set BRIGHTMETRICS_API_KEY (or BRIGHTMETRICS_USER with "
            "BRIGHTMETRICS_PASSWORD_HASH), pipe a key with --api-key-stdin, give --api-key "
            f"alone to be asked, or write them to {default_config_path()}"
        )

    def make_budget(self) -> bm.Budget:
        """The budget store named by ``--budget``.

        Raises :class:`ConfigurationError` for an unknown store.
        """
        spec = self.budget.strip()
        if spec == "memory":
            return bm.MemoryBudget(max_wait=self.max_wait)
        if spec == "sqlite":
            return bm.SQLiteBudget(max_wait=self.max_wait)
        if spec.startswith("sqlite:"):
            return bm.SQLiteBudget(Path(spec.removeprefix("sqlite:")), max_wait=self.max_wait)
        if spec.startswith(("redis://", "rediss://", "unix://")):
            return bm.RedisBudget(spec, max_wait=self.max_wait)
        raise bm.ConfigurationError(
            "--budget must be sqlite, sqlite:PATH, memory or a redis:// URL"
        )

    def session(self, **kwargs: Any) -> bm.Session:
        """A :class:`Session` with these settings (no I/O happens here)."""
        return bm.Session(
            self.auth(),
            base_url=self.url,
            account=self.account,
            budget=self.make_budget(),
            max_wait=self.max_wait,
            **kwargs,
        )


def read_config(path: Path, *, explicit: bool) -> dict[str, str]:
    """The config file's keys; ``{}`` when the default file does not exist.

    Raises :class:`ConfigurationError` for a missing explicit file, invalid TOML, an unknown
    key, a non-string value, or a secret in a file other users can access.
    """
    if not path.exists():
        if explicit:
            raise bm.ConfigurationError(f"config file not found: {path}")
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise bm.ConfigurationError(f"cannot read config file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        # The decoder's message names a line and column, never the line's text.
        raise bm.ConfigurationError(f"config file {path} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - CONFIG_KEYS)
    if unknown:
        raise bm.ConfigurationError(
            f"config file {path}: unknown keys {', '.join(unknown)} "
            f"(known: {', '.join(sorted(CONFIG_KEYS))})"
        )
    for key, value in data.items():
        if not isinstance(value, str):
            raise bm.ConfigurationError(f"config file {path}: {key} must be a string")
    check_config_mode(path, data)
    return data


def build_settings(params: dict[str, Any]) -> Settings:
    """Merge options (already merged with the environment by click) with the config file.

    Raises :class:`ConfigurationError` for an unreadable or invalid config file, or a
    credential given wrongly (see ``_credentials``).
    """
    config_opt = params.pop("config", None)
    path = Path(config_opt) if config_opt else default_config_path()
    config = read_config(path, explicit=config_opt is not None)
    params["credential"] = choose(params, os.environ, config, str(path))
    for key in ("url", "account", "budget"):
        if params.get(key) is None and key in config:
            params[key] = config[key]
    if params.get("budget") is None:
        params["budget"] = "sqlite"
    if params.get("max_wait") is None:
        params["max_wait"] = 0.0
    return Settings(**{k: v for k, v in params.items() if k in attrs.fields_dict(Settings)})


def output_options(func: F) -> F:
    """``--json``, ``--quiet``, ``--verbose``."""
    func = click.option(
        "--verbose", "-v", is_flag=True, help="Show tracebacks and debug detail on errors."
    )(func)
    func = click.option(
        "--quiet", "-q", is_flag=True, help="No live display: one plain line per result."
    )(func)
    return click.option("--json", "json_", is_flag=True, help="Print JSON for scripts.")(func)


def connection_options(func: F) -> F:
    """The options every command that talks to the service takes."""
    options = [
        click.option(
            "--url",
            envvar="BRIGHTMETRICS_URL",
            show_envvar=True,
            metavar="URL",
            help="OData service root [default: the vendor's].",
        ),
        click.option(
            "--api-key",
            is_flag=False,
            flag_value=ASK,
            default=None,
            metavar="",
            help="Ask for the API key (a value here is refused) [env: BRIGHTMETRICS_API_KEY].",
        ),
        click.option("--api-key-stdin", is_flag=True, help="Read the API key from standard input."),
        click.option(
            "--user",
            metavar="EMAIL",
            help="Sign in with an e-mail address (Basic) [env: BRIGHTMETRICS_USER].",
        ),
        click.option(
            "--password",
            is_flag=False,
            flag_value=ASK,
            default=None,
            metavar="",
            help="Ask for the password (a value here is refused) [env: BRIGHTMETRICS_PASSWORD].",
        ),
        click.option(
            "--password-stdin", is_flag=True, help="Read the password from standard input."
        ),
        click.option(
            "--password-hash",
            hidden=True,
            help="Refused: set BRIGHTMETRICS_PASSWORD_HASH or password_hash in the config file.",
        ),
        click.option(
            "--config",
            type=click.Path(dir_okay=False),
            metavar="PATH",
            help=f"TOML config file [default: {default_config_path()}].",
        ),
        click.option(
            "--account",
            envvar="BRIGHTMETRICS_ACCOUNT",
            metavar="NAME",
            help="Company account name for the shared budget.",
        ),
        click.option(
            "--budget",
            envvar="BRIGHTMETRICS_BUDGET",
            metavar="STORE",
            help="Budget store: sqlite (default), sqlite:PATH, memory, redis://...",
        ),
        click.option(
            "--max-wait",
            type=click.FloatRange(min=0),
            metavar="SECONDS",
            help="Wait up to this long for a free budget token [default: 0].",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return output_options(func)

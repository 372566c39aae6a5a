"""Where the CLI's settings come from: options, the environment, then the config file.

Precedence, highest first: a command-line option, its environment variable, the TOML config
file (``--config PATH``, else ``config.toml`` in the user's config directory). Credentials
are taken as a whole from one source: any credential given as an option or in the
environment wins over every credential of the config file, so a file's API key never mixes
with a user typed on the command line.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import attrs
import click
import platformdirs

import brightmetrics_async as bm

__all__ = ["Settings", "connection_options", "default_config_path", "output_options"]

F = TypeVar("F", bound=Callable[..., Any])

_CONFIG_KEYS = frozenset({"url", "user", "password_hash", "api_key", "account", "budget"})


def default_config_path() -> Path:
    """``config.toml`` in the per-user configuration directory of brightmetrics-async."""
    return platformdirs.user_config_path("brightmetrics-async") / "config.toml"


@attrs.frozen
class Settings:
    """Everything a command needs to open a session; secrets never appear in ``repr``."""

    url: str | None = None
    api_key: str | None = attrs.field(default=None, repr=False)
    user: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    password_hash: str | None = attrs.field(default=None, repr=False)
    account: str | None = None
    budget: str = "sqlite"
    max_wait: float = 0.0
    json: bool = False
    quiet: bool = False
    verbose: bool = False

    def auth(self) -> bm.BasicAuth | bm.ApiKey:
        """The credential to sign in with.

        Raises :class:`ConfigurationError` when none is configured, or a user has no
        password and there is no terminal to ask on.
        """
        if self.api_key:
            return bm.ApiKey(self.api_key)
        if self.user:
            if self.password_hash:
                return bm.BasicAuth(self.user, password_hash=self.password_hash)
            if self.password:
                return bm.BasicAuth(self.user, self.password)
            if sys.stdin.isatty():
                secret = click.prompt("Password", hide_input=True, err=True)
                return bm.BasicAuth(self.user, secret)
            raise bm.ConfigurationError(
                "--user needs --password-hash, --password (prompts) or BRIGHTMETRICS_PASSWORD"
            )
        raise bm.ConfigurationError(
            "no credentials: pass --api-key, or --user with --password-hash / --password, set "
            "BRIGHTMETRICS_API_KEY or BRIGHTMETRICS_USER, or write them to "
            f"{default_config_path()}"
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


def _read_config(path: Path, *, explicit: bool) -> dict[str, Any]:
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
    unknown = sorted(set(data) - _CONFIG_KEYS)
    if unknown:
        raise bm.ConfigurationError(
            f"config file {path}: unknown keys {', '.join(unknown)} "
            f"(known: {', '.join(sorted(_CONFIG_KEYS))})"
        )
    for key, value in data.items():
        if not isinstance(value, str):
            raise bm.ConfigurationError(f"config file {path}: {key} must be a string")
    return data


def build_settings(params: dict[str, Any]) -> Settings:
    """Merge options (already merged with the environment by click) with the config file.

    Raises :class:`ConfigurationError` for an unreadable or invalid config file.
    """
    config_opt = params.pop("config", None)
    path = Path(config_opt) if config_opt else default_config_path()
    config = _read_config(path, explicit=config_opt is not None)
    creds = ("api_key", "user", "password", "password_hash")
    if not any(params.get(k) for k in creds):
        for key in creds:
            params[key] = config.get(key)
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
            envvar="BRIGHTMETRICS_API_KEY",
            show_envvar=True,
            metavar="KEY",
            help="API key from the My Account page (Bearer).",
        ),
        click.option(
            "--user",
            envvar="BRIGHTMETRICS_USER",
            show_envvar=True,
            metavar="EMAIL",
            help="Sign in with an e-mail address (Basic).",
        ),
        click.option(
            "--password",
            envvar="BRIGHTMETRICS_PASSWORD",
            show_envvar=True,
            prompt=True,
            prompt_required=False,
            hide_input=True,
            default=None,
            help="Prompt for the password (hashed before sending).",
        ),
        click.option(
            "--password-hash",
            envvar="BRIGHTMETRICS_PASSWORD_HASH",
            show_envvar=True,
            metavar="HASH",
            help="base64 SHA-256 of the password, as the vendor documents.",
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

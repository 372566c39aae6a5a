"""From a command's click parameters to a running ``main``: settings, then :func:`run`."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

import brightmetrics_async as bm

from ._run import Ctx, report_error, run
from ._settings import Settings, build_settings

__all__ = ["start"]

_KEYS = (
    "url",
    "api_key",
    "user",
    "api_key_stdin",
    "password",
    "password_stdin",
    "password_hash",
    "config",
    "account",
    "budget",
    "max_wait",
    "quiet",
    "verbose",
)


def start(params: dict[str, Any], main: Callable[[Ctx], Awaitable[int | None]]) -> NoReturn:
    """Build the settings from ``params`` (options + environment + config file) and run."""
    picked = {k: params.get(k) for k in _KEYS}
    picked["json"] = bool(params.get("json_"))
    picked["quiet"] = bool(picked["quiet"])
    picked["verbose"] = bool(picked["verbose"])
    try:
        settings = build_settings(picked)
    except bm.ConfigurationError as error:
        ctx = Ctx(Settings(json=bool(picked["json"])))
        sys.exit(report_error(ctx, error))
    run(settings, main)

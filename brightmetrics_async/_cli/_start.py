"""From a command's click parameters to a running ``main``: settings, then :func:`run`."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

from rich.console import Console

import brightmetrics_async as bm

from ._exit import code
from ._run import Ctx, run
from ._settings import build_settings

__all__ = ["start"]

_KEYS = (
    "url",
    "api_key",
    "user",
    "password",
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
        Console(stderr=True, highlight=False).print(
            f"brightmetrics: usage error: {error.message}", markup=False
        )
        sys.exit(code("usage"))
    run(settings, main)

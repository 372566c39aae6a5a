"""The ``brightmetrics`` command line: a thin shell over the public API.

Every command maps to library calls (``Session``, ``pull_many``, ``estimate_requests``,
budgets, jobs); this package only parses options, shows progress and writes output.

The console script's entry point is :func:`main` here, importable without the ``cli`` extra:
without click it prints one line saying what to install and exits 2.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["cli", "main"]

_MISSING = "brightmetrics: the command line needs its extra: pip install 'brightmetrics-async[cli]'"


def main() -> None:
    """The console script's entry point."""
    try:
        import click  # noqa: F401
        import rich  # noqa: F401
    except ImportError:
        print(_MISSING, file=sys.stderr)
        sys.exit(2)
    from ._main import main as run

    run()


def __getattr__(name: str) -> Any:
    if name == "cli":
        from ._main import cli

        return cli
    raise AttributeError(name)

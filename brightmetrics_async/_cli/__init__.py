"""The ``brightmetrics`` command line: a thin shell over the public API.

Every command maps to library calls (``Session``, ``pull_many``, ``estimate_requests``,
budgets, jobs); this package only parses options, shows progress and writes output.
"""

from __future__ import annotations

from ._main import cli as cli
from ._main import main as main

__all__ = ["cli", "main"]

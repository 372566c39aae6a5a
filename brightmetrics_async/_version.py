"""The package's version, read once from its installed metadata (written nowhere else)."""

from __future__ import annotations

from importlib.metadata import version

__all__ = ["VERSION"]

VERSION = version("brightmetrics-async")

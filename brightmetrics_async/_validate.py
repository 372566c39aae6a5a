"""Argument checks of the public API, made at the call, before any request is spent.

A wrong type is a ``TypeError`` naming the argument and what it should be; a value of the
right type that cannot be used (a directory as an export target, a concurrency of 0) is a
:class:`ConfigurationError`. Nothing here does I/O beyond a ``stat`` of an export target.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ._errors import ConfigurationError

__all__ = [
    "check_bool",
    "check_concurrency",
    "check_export_target",
    "check_items",
    "check_optional_bool",
    "check_page_args",
    "check_pull_args",
    "check_session_args",
    "check_start",
]


def _name(value: object) -> str:
    return type(value).__name__


def check_bool(value: object, *, name: str) -> bool:
    """``value`` if it is a bool; raises ``TypeError`` otherwise (``"yes"``, 1, None)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, not {_name(value)} {value!r}")
    return value


def check_optional_bool(value: object, *, name: str) -> bool | None:
    """``value`` if it is None or a bool; raises ``TypeError`` otherwise."""
    if value is None:
        return None
    return check_bool(value, name=name)


def check_start(start: object) -> str | None:
    """A ``start=`` checkpoint: None or the next link (a str) saved from a page iterator.

    Raises ``TypeError`` for anything else (e.g. a row number).
    """
    if start is None or isinstance(start, str):
        return start
    raise TypeError(
        f"start must be None or a checkpoint URL (str) saved from PageIterator.checkpoint, "
        f"not {_name(start)} {start!r}"
    )


def check_concurrency(concurrency: object) -> int:
    """An int >= 1; raises ``TypeError`` for a non-int (``"8"``, None, 8.0, True),
    :class:`ConfigurationError` for a value below 1."""
    if isinstance(concurrency, bool) or not isinstance(concurrency, int):
        raise TypeError(
            f"concurrency must be an int >= 1, not {_name(concurrency)} {concurrency!r}"
        )
    if concurrency < 1:
        raise ConfigurationError(f"concurrency must be at least 1, got {concurrency}")
    return concurrency


def check_items(items: object) -> Sequence[object]:
    """A sequence of items to pull (a list or tuple, not a string, not None).

    Raises ``TypeError`` otherwise.
    """
    if isinstance(items, str | bytes) or not isinstance(items, Sequence):
        raise TypeError(
            f"items must be a list of reports or PullItem objects, not {_name(items)} {items!r}"
        )
    return items


def check_export_target(path: object) -> Path:
    """The path of an export: path-like, and not a directory.

    Raises ``TypeError`` for a non-path, :class:`ConfigurationError` for an existing
    directory (checked before any request, so none is spent on an export that cannot land).
    """
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a str or os.PathLike, not {_name(path)} {path!r}")
    target = Path(path)
    if not str(path) or target.is_dir():
        raise ConfigurationError(f"cannot export to {str(target)!r}: it is a directory")
    return target


def check_page_args(*, start: object, typed: object, check: object) -> None:
    """The argument checks of ``Session.pages`` / ``Session.rows``; raises ``TypeError``."""
    check_start(start)
    check_bool(typed, name="typed")
    check_optional_bool(check, name="check")


def check_pull_args(items: object, concurrency: object) -> int:
    """The argument checks of ``Session.pull_many``; returns the concurrency.

    Raises ``TypeError`` / :class:`ConfigurationError` (see :func:`check_items` and
    :func:`check_concurrency`).
    """
    check_items(items)
    return check_concurrency(concurrency)


def check_session_args(*, limits: object, use_reserve: object) -> None:
    """The checks of ``Session(limits=, use_reserve=)``; raises ``TypeError``."""
    from ._limits import Limits

    if limits is not None and not isinstance(limits, Limits):
        raise TypeError(f"limits must be a Limits object or None, not {_name(limits)}")
    check_bool(use_reserve, name="use_reserve")

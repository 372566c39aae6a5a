"""The CLI's exit codes: one table, one function from an exception to its code and message.

Each failure class of the library's error tree gets its own code, so scripts can tell an
expired job from a wrong password without parsing messages. Messages are the library's own
(which never contain credentials), prefixed with the class name in words.
"""

from __future__ import annotations

import attrs
import click

import brightmetrics_async as bm

from ._ratelimit import explain_429

__all__ = ["EXIT_CODES", "Declined", "ExitCode", "classify", "epilog"]


class Declined(Exception):
    """A confirmation was refused, or was needed with no terminal to ask on."""


@attrs.frozen
class ExitCode:
    """One row of the table: the code, a short name, and the exceptions it covers."""

    code: int
    name: str
    meaning: str
    errors: tuple[type[BaseException], ...] = ()


# Order matters: the first row whose classes match wins, so subclasses come before bases.
EXIT_CODES: tuple[ExitCode, ...] = (
    ExitCode(0, "ok", "success"),
    ExitCode(1, "internal", "an unexpected error (a bug: please report it with --verbose)"),
    ExitCode(
        5, "filter", "the filter breaks a vendor rule (nothing was requested)", (bm.FilterError,)
    ),
    ExitCode(
        7,
        "job",
        "an async job expired, failed, or its resume token is unusable",
        (bm.JobError, bm.InvalidToken),
    ),
    ExitCode(
        2,
        "usage",
        "bad arguments or configuration (nothing was requested)",
        (bm.ConfigurationError, click.ClickException),
    ),
    ExitCode(3, "auth", "the credentials were refused (401/403)", (bm.AuthenticationError,)),
    ExitCode(4, "not-found", "no such report, or no such job (404)", (bm.NotFound,)),
    ExitCode(
        6,
        "budget",
        "the request budget is spent or would not cover the work (or 429)",
        (bm.BudgetExhausted, bm.RateLimited),
    ),
    ExitCode(8, "network", "the service could not be reached, or timed out", (bm.TransportError,)),
    ExitCode(
        9,
        "api",
        "the service answered with another error or broke the protocol",
        (bm.ApiError, bm.UnexpectedResponse, bm.BrightmetricsError),
    ),
    ExitCode(10, "file", "an output file could not be written", (OSError,)),
    ExitCode(12, "partial", "sync: the budget covered part of the range; run again to continue"),
    ExitCode(
        11,
        "declined",
        "a confirmation was refused, or needed without a terminal (pass --yes)",
        (Declined,),
    ),
    ExitCode(
        130,
        "interrupted",
        "stopped by Ctrl-C (rerun a pull to continue; job resume tokens printed)",
        (KeyboardInterrupt,),
    ),
)

_BY_NAME = {row.name: row for row in EXIT_CODES}


def code(name: str) -> int:
    """The exit code named ``name`` in the table (KeyError for an unknown name)."""
    return _BY_NAME[name].code


def classify(error: BaseException) -> ExitCode:
    """The table row for ``error`` (``internal`` when no row matches)."""
    for row in EXIT_CODES:
        if row.errors and isinstance(error, row.errors):
            return row
    return _BY_NAME["internal"]


def message(error: BaseException) -> str:
    """A short, credential-free message for ``error``."""
    if isinstance(error, bm.BrightmetricsError):
        text = explain_429(error) or error.message
    elif isinstance(error, click.ClickException):
        text = error.format_message()
    elif isinstance(error, OSError) and error.filename is not None:
        text = f"{error.strerror or error}: {error.filename}"
    else:
        text = str(error) or type(error).__name__
    return text


def epilog() -> str:
    """The exit-code table as help text."""
    lines = ["\b", "Exit codes:"]
    lines += [
        f"  {row.code:>3}  {row.name:<12} {row.meaning}"
        for row in sorted(EXIT_CODES, key=lambda r: r.code)
    ]
    return "\n".join(lines)

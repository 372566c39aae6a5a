"""Running a command: the event loop, the consoles, errors to exit codes, Ctrl-C.

Theory of operation
-------------------
Each command builds an async ``main(ctx)`` and hands it to :func:`run`. ``run`` starts the
event loop with ``anyio.run``; on Ctrl-C asyncio cancels the main task (every task group
below it unwinds, and the library's atomic files delete their temporary files), then
``anyio.run`` raises ``KeyboardInterrupt``. By then the loop is gone, but :class:`Ctx` still
holds the jobs the command started: their resume tokens are computed locally (no request)
and printed, and the process exits 130. Any other error is classified by the exit-code table
and reported in one line (the traceback too with ``--verbose``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shlex
import sys
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NoReturn

import anyio
import click
from rich.console import Console

import brightmetrics_async as bm

from ._exit import Declined, classify, message
from ._settings import Settings

__all__ = ["Ctx", "confirm", "iso", "make_console", "report_error", "run"]

#: A width no line reaches: off a terminal nothing is cut or wrapped.
_UNLIMITED = 1_000_000


def make_console(*, stderr: bool = False) -> Console:
    """A console for stdout or stderr: the terminal's width on one, unlimited off one."""
    console = Console(stderr=stderr, highlight=False, soft_wrap=True)
    if not console.is_terminal:
        console = Console(stderr=stderr, highlight=False, soft_wrap=True, width=_UNLIMITED)
    return console


class Ctx:
    """What a running command shares with the runner: settings, consoles, open jobs."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.out = make_console()
        self.err = make_console(stderr=True)
        # label, job, target path: tokens of unfinished ones are printed on Ctrl-C.
        self.jobs: list[tuple[str, bm.Job, Path | None]] = []
        # False when resume commands would be useless (the demo's emulator stops with it).
        self.resumable = True
        # Set by a journaled pull: on Ctrl-C, rerunning the same command continues.
        self.journaled = False

    @property
    def live(self) -> bool:
        """True when a live progress display fits: a terminal, not --quiet, not --json."""
        s = self.settings
        return self.out.is_terminal and not s.quiet and not s.json

    def print_json(self, data: Any) -> None:
        """Write ``data`` as JSON to stdout (no markup, no wrapping)."""
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
        sys.stdout.flush()

    def line(self, text: str) -> None:
        """One plain line on stdout (flushed: pipes see progress as it happens)."""
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def track(self, label: str, job: bm.Job, path: Path | None) -> None:
        """Remember a started job so Ctrl-C can print its resume token."""
        if self.resumable:
            self.jobs.append((label, job, path))

    def unfinished(self) -> list[tuple[str, str, Path | None]]:
        """(label, token, path) of every tracked job that has not delivered its result."""
        out = []
        for label, job, path in self.jobs:
            if job.done or job.status_url is None:
                continue
            try:
                out.append((label, job.token(), path))
            except bm.BrightmetricsError:
                continue
        return out


def confirm(question: str, *, yes: bool) -> None:
    """Go on when ``yes``, or when the user answers yes on a terminal.

    Raises :class:`Declined` (exit 11) on "no", or when there is no terminal to ask on.
    """
    if yes:
        return
    if not sys.stdin.isatty():
        raise Declined(f"{question} needs a confirmation and there is no terminal: pass --yes")
    if not click.confirm(question, err=True):
        raise Declined("not confirmed; nothing was changed")


def iso(at: float | None) -> str | None:
    """A Unix time as ISO 8601 in UTC (``None`` stays ``None``)."""
    if at is None:
        return None
    return dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="seconds")


def _leaf(error: BaseException) -> BaseException:
    # Task groups wrap errors; the first failure inside is the one the user should see.
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error


def report_error(ctx: Ctx, error: BaseException) -> int:
    """Print ``error`` in one line (and its traceback with --verbose); return its exit code."""
    error = _leaf(error)
    row = classify(error)
    if ctx.settings.verbose:
        ctx.err.print("".join(traceback.format_exception(error)), markup=False)
    label = "error" if row.name == "internal" else f"{row.name} error"
    text = message(error)
    ctx.err.print(f"brightmetrics: {label}: {text}", markup=False)
    token = getattr(error, "token", None)
    # A job the server no longer knows (404) or past its hour cannot be resumed.
    if isinstance(error, bm.NotFound | bm.JobExpired) or not ctx.resumable:
        token = None
    if token:
        ctx.err.print(
            f"resume with: brightmetrics job resume {shlex.quote(token)} -o PATH", markup=False
        )
    if ctx.settings.json:
        ctx.print_json(
            {"error": {"code": row.name, "message": text, "exit_code": row.code, "token": token}}
        )
    return row.code


def _print_interrupted(ctx: Ctx) -> None:
    pending = ctx.unfinished()
    if ctx.journaled:
        ctx.err.print(
            "brightmetrics: interrupted; no target file was left half-written (a JSON pull "
            "keeps a hidden .part file to continue from).",
            markup=False,
        )
        ctx.err.print("Run the same command again to continue where it stopped.", markup=False)
    else:
        ctx.err.print("brightmetrics: interrupted; no partial files were left.", markup=False)
    for label, token, path in pending:
        target = shlex.quote(str(path)) if path is not None else "PATH"
        ctx.err.print(f"unfinished job {label}: resume with", markup=False)
        ctx.err.print(f"  brightmetrics job resume {shlex.quote(token)} -o {target}", markup=False)
    if ctx.settings.json:
        ctx.print_json(
            {
                "interrupted": True,
                "exit_code": 130,
                "continue_with_same_command": ctx.journaled,
                "unfinished": [
                    {"item": label, "token": token, "path": str(path) if path else None}
                    for label, token, path in pending
                ],
            }
        )


def run(settings: Settings, main: Callable[[Ctx], Awaitable[int | None]]) -> NoReturn:
    """Run ``main(ctx)`` and exit with its code, the error's code, or 130 on Ctrl-C."""
    ctx = Ctx(settings)
    if settings.verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logger = logging.getLogger("brightmetrics_async")
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)

    async def entry() -> int | None:
        return await main(ctx)

    try:
        code = anyio.run(entry)
    except KeyboardInterrupt:
        _print_interrupted(ctx)
        sys.exit(130)
    except Exception as error:
        sys.exit(report_error(ctx, error))
    sys.exit(code or 0)

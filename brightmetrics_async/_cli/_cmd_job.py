"""``job list``, ``job status`` and ``job resume``: asynchronous exports after a restart.

A job is picked up from its resume token, given as the argument, as ``@FILE`` (the token in
a file) or ``-`` (the token on standard input). ``job list`` reads the pull journal: the jobs
``pull`` started on this machine for this service that are still within their hour.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import click

import brightmetrics_async as bm

from ._display import human_bytes, plural
from ._files import write_json_rows, write_parquet
from ._pulling import when
from ._ratelimit import duration
from ._run import Ctx, iso
from ._settings import connection_options
from ._start import start

__all__ = ["job"]

_ARG_HELP = "TOKEN is the resume token itself, @FILE (read from a file) or - (standard input)."


def read_token(arg: str) -> str:
    """The token an argument names: itself, ``@FILE``'s content, or standard input's.

    Raises :class:`ConfigurationError` for an unreadable file or empty input.
    """
    if arg == "-":
        text = sys.stdin.read()
        where = "standard input"
    elif arg.startswith("@"):
        try:
            text = Path(arg[1:]).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise bm.ConfigurationError(f"cannot read the token file {arg[1:]}: {exc}") from None
        where = arg[1:]
    else:
        return arg
    text = text.strip()
    if not text:
        raise bm.ConfigurationError(f"no resume token in {where}")
    return text


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


async def open_job(s: bm.Session, token: str) -> bm.Job:
    """The job of ``token`` in ``s``; a token of another service is :class:`InvalidToken`."""
    try:
        status_url = json.loads(token).get("status_url")
    except (ValueError, AttributeError):
        status_url = None
    if isinstance(status_url, str) and _origin(status_url) != _origin(s.base_url):
        scheme, host = _origin(status_url)
        raise bm.InvalidToken(
            f"this resume token is for a job on {scheme}://{host}, not {s.base_url}: "
            "pass that service's --url and credentials"
        )
    return await s.resume(token)


async def _journal_labels() -> dict[str, str]:
    """Status URL -> the label ``pull`` journaled for it (no request)."""
    out: dict[str, str] = {}
    async with bm.Journal() as journal:
        for entry in await journal.entries():
            if entry.token:
                try:
                    url = json.loads(entry.token).get("status_url")
                except ValueError:
                    continue
                if isinstance(url, str):
                    out[url] = entry.label
    return out


def _title(label: str) -> str:
    # Journal labels are "Title [format, async]".
    return label.rsplit(" [", 1)[0]


def _job_json(j: bm.Job, title: str | None = None) -> dict[str, Any]:
    return {
        "report": j.report,
        "title": title,
        "format": j.format.value,
        "state": j.state.name.lower(),
        "submitted_at": iso(j.submitted_at),
        "expires_at": iso(j.expires_at),
        "polls": j.polls,
        "next_poll_at": iso(j.next_poll_at),
        "retry_after": j.retry_after,
    }


def _next_poll(at: float | None) -> str:
    if at is None:
        return "-"
    wait = at - time.time()
    if wait <= 0:
        return "now"
    return f"{when(at)} (in {duration(wait)})"


@click.group()
def job() -> None:
    """List, check and pick up asynchronous exports (after Ctrl-C or a restart)."""


@job.command("list")
@connection_options
def job_list(**kwargs: Any) -> None:
    """List unfinished jobs of pulls (no request).

    Reads the pull journal: the jobs 'pull' started on this machine for this service that
    are still within their hour, with report, format, age and time left.
    """

    async def main(ctx: Ctx) -> int:
        rows = []
        now = time.time()
        async with ctx.settings.session() as s, bm.Journal() as journal:
            for entry in await journal.entries():
                if entry.state != "submitted" or not entry.token:
                    continue
                try:
                    j = await open_job(s, entry.token)
                except bm.InvalidToken:  # past its hour, or another service's
                    continue
                rows.append((entry, j))
        if ctx.settings.json:
            ctx.print_json(
                [
                    {
                        **_job_json(j, _title(e.label)),
                        "path": e.path,
                        "age_seconds": round(now - j.submitted_at),
                        "seconds_left": int((j.expires_at or now) - now),
                        "token": e.token,
                    }
                    for e, j in rows
                ]
            )
            return 0
        if not rows:
            ctx.out.print("No unfinished jobs.", markup=False)
            return 0
        ctx.out.print(f"{plural(len(rows), 'unfinished job')}:", markup=False)
        for e, j in rows:
            ctx.out.print(
                f"  {_title(e.label)} [{j.format.value}]  started {duration(now - j.submitted_at)}"
                f" ago, {duration(int((j.expires_at or now) - now))} left  -> {e.path or '-'}",
                markup=False,
            )
        ctx.out.print(
            "Run the same pull again to continue them, or 'brightmetrics job list --json' for "
            "their tokens.",
            markup=False,
        )
        return 0

    start(kwargs, main)


@job.command("status", epilog=_ARG_HELP)
@click.argument("token")
@click.option("--no-poll", is_flag=True, help="Only show what the token says (no request).")
@connection_options
def job_status(token: str, no_poll: bool, **kwargs: Any) -> None:
    """Show a job's state; polls once if a poll is due (1 request).

    The report's title comes from the pull journal, else (when polling) from the service
    document (1 more request).
    """

    async def main(ctx: Ctx) -> int:
        text = read_token(token)
        labels = await _journal_labels()
        async with ctx.settings.session() as s:
            j = await open_job(s, text)
            title = _title(labels[j.status_url]) if j.status_url in labels else None
            title = None if title == j.report else title  # a GUID-only pull's label
            if not no_poll:
                await j.status()
                if title is None:  # not a job of a pull here: the service document names it
                    found = [r for r in await s.reports() if r.url == j.report]
                    title = found[0].title if found else None
        info = _job_json(j, title)
        if ctx.settings.json:
            ctx.print_json(info)
            return 0
        out = ctx.out
        name = f"{title} ({j.report})" if title else j.report
        out.print(f"Report:     {name} [{j.format.value}]", markup=False)
        out.print(
            f"State:      {info['state']}"
            + (" (fetch it with: brightmetrics job resume TOKEN -o PATH)" if j.done else ""),
            markup=False,
        )
        out.print(f"Submitted:  {when(j.submitted_at)}", markup=False)
        out.print(f"Expires:    {when(j.expires_at)}", markup=False)
        out.print(f"Polls:      {j.polls}", markup=False)
        if not j.done:
            out.print(f"Next poll:  {_next_poll(j.next_poll_at)}", markup=False)
        return 0

    start(kwargs, main)


@job.command("resume", epilog=_ARG_HELP)
@click.argument("token")
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(dir_okay=False),
    help="Where to write the result (.json: rows; .parquet: typed rows).",
)
@connection_options
def job_resume(token: str, output: str, **kwargs: Any) -> None:
    """Wait for a job and write its result to a file, atomically."""
    path = Path(output)

    async def main(ctx: Ctx) -> int:
        text = read_token(token)
        async with ctx.settings.session() as s:
            j = await open_job(s, text)
            ctx.track(f"{j.report} [{j.format.value}]", j, path)
            if not ctx.settings.json and not ctx.settings.quiet:
                ctx.err.print(
                    f"Waiting for {j.report} ({j.format.value}); next poll: "
                    f"{_next_poll(j.next_poll_at)}",
                    markup=False,
                )
            suffix = path.suffix.lower()
            rows: int | None = None
            if j.format is bm.Format.JSON and suffix in (".json", ".parquet"):
                result = await j.result()
                rows = len(result)
                if suffix == ".parquet":
                    write_parquet(result, await s.columns(j.report), path)
                else:
                    write_json_rows(result, path)
            else:
                await j.export(path)
            sent = s.requests_sent
        size = (await anyio.Path(path).stat()).st_size
        if ctx.settings.json:
            ctx.print_json(
                {**_job_json(j), "path": str(path), "bytes": size, "rows": rows, "requests": sent}
            )
        else:
            extra = f", {plural(rows, 'row')}" if rows is not None else ""
            ctx.out.print(
                f"Wrote {path} ({human_bytes(size)}{extra}) after {plural(j.polls, 'poll')}.",
                markup=False,
            )
        return 0

    start(kwargs, main)

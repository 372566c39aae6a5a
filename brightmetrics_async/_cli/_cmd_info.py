"""Commands that describe: ``reports``, ``filters``, ``budget``, ``budget reset``, ``job``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import click
from rich.table import Table

import brightmetrics_async as bm

from ._files import write_json_rows, write_parquet
from ._pulling import when
from ._run import Ctx
from ._settings import connection_options
from ._start import start

__all__ = ["budget", "filters", "job", "operators", "reports"]

_AGENT = "Agent_Name"


def operators(edm: str) -> list[str]:
    """The vendor's operators for a property type: text eq/in/ne; dates, numbers gt..le/ne."""
    if edm in bm.TEXT_TYPES:
        return ["eq", "in", "ne"]
    if edm in bm.ORDERED_TYPES:
        return ["gt", "ge", "lt", "le", "ne"]
    return ["ne"]


@click.command()
@connection_options
def reports(**kwargs: Any) -> None:
    """List the saved reports: title, GUID and kind (1 request)."""

    async def main(ctx: Ctx) -> int:
        async with ctx.settings.session() as s:
            found = await s.reports()
        if ctx.settings.json:
            ctx.print_json(
                [{"title": r.title, "guid": r.url, "kind": r.kind, "name": r.name} for r in found]
            )
            return 0
        table = Table(title=f"{len(found)} saved reports")
        table.add_column("Title")
        table.add_column("GUID", no_wrap=True, min_width=36)
        table.add_column("Kind", no_wrap=True)
        for r in found:
            table.add_row(r.title, r.url, r.kind)
        ctx.out.print(table)
        return 0

    start(kwargs, main)


@click.command()
@click.argument("report")
@connection_options
def filters(report: str, **kwargs: Any) -> None:
    """Show REPORT's filter properties, their types and allowed operators.

    REPORT is a title, an entity-set name or a GUID. Costs the report's $metadata (and
    the service document when REPORT is a title).
    """

    async def main(ctx: Ctx) -> int:
        async with ctx.settings.session() as s:
            rep = await s.report(report)
            schema = await s.filters(rep)
        rows = [{"name": k, "type": v, "operators": operators(v)} for k, v in schema.items()]
        agents = [k for k in schema if k == _AGENT or k.startswith(_AGENT + "_by_")]
        notes = []
        if len(agents) > 1:
            notes.append(
                f"{', '.join(agents)} are one Agent Name filter by different proxies: "
                "use at most one of them in a filter"
            )
        notes.append(
            "combine conditions with 'and'; a property at most once, except a ge/gt and le/lt pair"
        )
        if ctx.settings.json:
            ctx.print_json(
                {"report": rep.title or rep.url, "guid": rep.url, "filters": rows, "notes": notes}
            )
            return 0
        table = Table("Property", "Type", "Operators", title=f"Filters of {rep.title or rep.url}")
        for row in rows:
            table.add_row(str(row["name"]), str(row["type"]), " ".join(row["operators"]))
        ctx.out.print(table)
        for note in notes:
            ctx.out.print(f"Note: {note}", markup=False)
        return 0

    start(kwargs, main)


# -- budget ---------------------------------------------------------------------------------


def _account(ctx: Ctx) -> tuple[bm.Budget, str]:
    settings = ctx.settings
    budget = settings.make_budget()
    if settings.account:
        return budget, settings.account
    # The session only names the account (host, port, credential identity): no I/O.
    return budget, settings.session().account


def _per_hour(spent: tuple[float, ...], now: float) -> list[int]:
    hours = [0] * 24
    for at in spent:
        age = now - at
        if 0 <= age < 86400:
            hours[23 - int(age // 3600)] += 1
    return hours


def _bars(hours: list[int]) -> str:
    blocks = " ▁▂▃▄▅▆▇█"
    peak = max(hours) or 1
    return "".join(blocks[0 if n == 0 else max(1, round(n / peak * 8))] for n in hours)


@click.group(invoke_without_command=True)
@connection_options
@click.pass_context
def budget(click_ctx: click.Context, /, **kwargs: Any) -> None:
    """Show the request budget: remaining, next free time, spending per hour (no request).

    The budget is this machine's record of the company account's 150 requests per 24 h.
    """
    if click_ctx.invoked_subcommand is not None:
        click_ctx.obj = kwargs
        return

    async def main(ctx: Ctx) -> int:
        store, account = _account(ctx)
        async with store:
            snap = await store.snapshot(account)
        hours = _per_hour(snap.spent_times, snap.at)
        if ctx.settings.json:
            ctx.print_json(
                {
                    "account": snap.account,
                    "limit": snap.limit,
                    "spent": snap.spent,
                    "remaining": snap.remaining,
                    "reserve": snap.reserve,
                    "next_free_at": snap.next_free_at,
                    "blocked_until": snap.blocked_until,
                    "at": snap.at,
                    "spent_per_hour": hours,
                }
            )
            return 0
        out = ctx.out
        out.print(f"Account:    {snap.account}", markup=False)
        out.print(f"Remaining:  {snap.remaining} of {snap.limit} (spent {snap.spent} in 24 h)")
        if snap.next_free_at is not None:
            wait = max(0.0, snap.next_free_at - time.time())
            out.print(f"Next free:  {when(snap.next_free_at)} (in {wait / 3600:.1f} h)")
        if snap.blocked_until is not None and snap.blocked_until > snap.at:
            out.print(f"Blocked:    until {when(snap.blocked_until)} (the server said 429)")
        out.print(f"Per hour:   -24h |{_bars(hours)}| now   (peak {max(hours)}/h)")
        return 0

    start(kwargs, main)


@budget.command("reset")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@connection_options
@click.pass_obj
def budget_reset(parent: dict[str, Any] | None, /, yes: bool, **kwargs: Any) -> None:
    """Forget this machine's record of spent requests (no request is sent).

    Use it after pressing the reset button under My Account; it does not reset the server.
    """
    merged = {k: v for k, v in (parent or {}).items() if v}
    merged.update({k: v for k, v in kwargs.items() if v or k not in merged})
    if not yes and not click.confirm("Forget every request spent in the last 24 h?", err=True):
        raise click.Abort

    async def main(ctx: Ctx) -> int:
        store, account = _account(ctx)
        async with store:
            await store.reset(account)
            snap = await store.snapshot(account)
        if ctx.settings.json:
            ctx.print_json({"account": account, "remaining": snap.remaining, "reset": True})
        else:
            ctx.out.print(
                f"Budget of {account} reset: {snap.remaining} requests left.", markup=False
            )
        return 0

    start(merged, main)


# -- jobs ------------------------------------------------------------------------------------


@click.group()
def job() -> None:
    """Pick up an asynchronous export after a restart, from its resume token."""


def _job_json(j: bm.Job) -> dict[str, Any]:
    return {
        "report": j.report,
        "format": j.format.value,
        "state": j.state.name.lower(),
        "submitted_at": j.submitted_at,
        "expires_at": j.expires_at,
        "polls": j.polls,
        "next_poll_at": j.next_poll_at,
        "retry_after": j.retry_after,
    }


@job.command("status")
@click.argument("token")
@click.option("--no-poll", is_flag=True, help="Only show what the token says (no request).")
@connection_options
def job_status(token: str, no_poll: bool, **kwargs: Any) -> None:
    """Show a job's state; polls once if a poll is due (1 request)."""

    async def main(ctx: Ctx) -> int:
        async with ctx.settings.session() as s:
            j = await s.resume(token)
            if not no_poll:
                await j.status()
        info = _job_json(j)
        if ctx.settings.json:
            ctx.print_json(info)
            return 0
        out = ctx.out
        out.print(f"Report:     {j.report} ({j.format.value})", markup=False)
        out.print(
            f"State:      {info['state']}"
            + (" (fetch it with: brightmetrics job resume TOKEN -o PATH)" if j.done else "")
        )
        out.print(f"Submitted:  {when(j.submitted_at)}")
        out.print(f"Expires:    {when(j.expires_at)}")
        out.print(f"Polls:      {j.polls}")
        if j.next_poll_at is not None:
            out.print(f"Next poll:  {when(j.next_poll_at)}")
        return 0

    start(kwargs, main)


@job.command("resume")
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
        from ._display import human_bytes

        async with ctx.settings.session() as s:
            j = await s.resume(token)
            ctx.track(f"{j.report} [{j.format.value}]", j, path)
            if not ctx.settings.json and not ctx.settings.quiet:
                ctx.err.print(
                    f"Waiting for {j.report} ({j.format.value}); next poll at "
                    f"{when(j.next_poll_at)}",
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
            extra = f", {rows} rows" if rows is not None else ""
            ctx.out.print(
                f"Wrote {path} ({human_bytes(size)}{extra}) after {j.polls} polls.", markup=False
            )
        return 0

    start(kwargs, main)

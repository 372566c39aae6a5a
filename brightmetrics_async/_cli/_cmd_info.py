"""Commands that describe: ``reports``, ``filters``, ``budget``, ``budget reset``."""

from __future__ import annotations

import time
from typing import Any

import click
from rich.table import Table

import brightmetrics_async as bm

from ._lookup import resolve
from ._pulling import when
from ._ratelimit import duration, local_when
from ._run import Ctx, confirm, iso
from ._settings import connection_options
from ._start import start

__all__ = ["budget", "filters", "operators", "reports"]

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
            rep = await s.report(await resolve(s, report))
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
                    "next_free_at": iso(snap.next_free_at),
                    "blocked_until": iso(snap.blocked_until),
                    "at": iso(snap.at),
                    "spent_per_hour": hours,
                }
            )
            return 0
        out = ctx.out
        out.print(f"Account:    {snap.account}", markup=False)
        out.print(f"Remaining:  {snap.remaining} of {snap.limit} (spent {snap.spent} in 24 h)")
        if snap.next_free_at is not None:
            wait = max(0.0, snap.next_free_at - time.time())
            out.print(f"Next free:  {when(snap.next_free_at)} (in {duration(wait)})")
        if snap.blocked_until is not None and snap.blocked_until > snap.at:
            out.print(
                f"Blocked:    until {local_when(snap.blocked_until)}, in "
                f"{duration(snap.blocked_until - snap.at)} (the server said 429: press the reset "
                "button under My Account in the web app, then 'brightmetrics budget reset')",
                markup=False,
            )
        out.print(f"Per hour:   -24h |{_bars(hours)}| now   (peak {max(hours)}/h)")
        return 0

    start(kwargs, main)


@budget.command("reset")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@connection_options
@click.pass_obj
def budget_reset(parent: dict[str, Any] | None, /, yes: bool, **kwargs: Any) -> None:
    """Forget this machine's record of spent requests (no request is sent).

    Use it after pressing the reset button under My Account; it does not reset the server.
    Asks first; without a terminal it needs --yes (else exit 11).
    """
    merged = {k: v for k, v in (parent or {}).items() if v}
    merged.update({k: v for k, v in kwargs.items() if v or k not in merged})

    async def main(ctx: Ctx) -> int:
        confirm("Forget every request spent in the last 24 h?", yes=yes)
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

"""``demo``: a bulk pull against the local emulator, end to end."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
from rich.table import Table

import brightmetrics_async as bm

from ._display import human_bytes
from ._files import parquet_available
from ._pulling import Outcome, check_budget, dry_run, pull_targets, validate
from ._run import Ctx
from ._settings import output_options
from ._start import start
from ._targets import Target, file_name

__all__ = ["demo"]

#: A filter and a zone the demo applies to one report each, to show both at work.
_DEMO_FILTER = ("Agent Detail", "Media_Type eq 'Voice'")
_DEMO_ZONE = ("Search by CallerID", "Eastern Standard Time")


def demo_targets(reports: list[bm.Report], out: Path, *, with_parquet: bool) -> list[Target]:
    """The demo's plan: every report as JSON rows, CSV, formatted CSV, landscape PDF, XLSX
    and parquet; JSON of every other report and every PDF as asynchronous jobs."""
    targets = []
    for i, rep in enumerate(reports):
        formats = [
            ("json", i % 2 == 1),
            ("csv", False),
            ("csv;formatted", False),
            ("pdf;landscape", True),
            ("xlsx", False),
        ]
        if with_parquet:
            formats.append(("parquet", False))
        for fmt, use_async in formats:
            flt = _DEMO_FILTER[1] if rep.title == _DEMO_FILTER[0] and fmt == "csv" else None
            zone = _DEMO_ZONE[1] if rep.title == _DEMO_ZONE[0] else None
            path = out / file_name(rep, fmt)
            targets.append(Target(rep, fmt, path, flt, zone, use_async))
    return targets


@click.command()
@click.option(
    "-o",
    "--output-dir",
    default="brightmetrics-demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where to write the files.",
)
@click.option(
    "--job-seconds",
    default="2-4",
    show_default=True,
    metavar="S|LOW-HIGH",
    help="How long the emulator's asynchronous exports take.",
)
@click.option(
    "--parallel", default=12, show_default=True, type=click.IntRange(1, 64), help="Items at once."
)
@click.option("--seed", default=0, show_default=True, help="Seed of the generated data.")
@output_options
def demo(output_dir: str, job_seconds: str, parallel: int, seed: int, **kwargs: Any) -> None:
    """Run a realistic bulk pull of every report against a local emulator.

    Starts the emulator in this process, signs in with the demo API key and pulls every
    report in several formats (some as asynchronous jobs) with live progress, within a
    private budget of 150 requests (your real budget is not touched). Then prints what was
    written, the requests spent and the polls per job.
    """
    try:
        low, _, high = job_seconds.partition("-")
        duration: float | tuple[float, float] = (float(low), float(high)) if high else float(low)
    except ValueError:
        raise click.BadParameter("seconds, or LOW-HIGH", param_hint="--job-seconds") from None

    async def main(ctx: Ctx) -> int:
        from brightmetrics_async import testing as t

        ctx.resumable = False  # its emulator stops with it: resume commands would be useless
        out = Path(output_dir)
        config = t.EmulatorConfig(seed=seed, job_seconds=duration, job_retry_after=1.0)
        em = t.Emulator(config)
        started = time.perf_counter()
        async with t.serve(em) as server:
            budget = bm.MemoryBudget(limit=150)
            async with bm.Session(
                bm.ApiKey(t.DEMO_API_KEY),
                base_url=server.url,
                budget=budget,
                max_wait=0,
                cache=bm.MemoryKnowledge(),  # its emulator is new: nothing to remember
            ) as s:
                if not ctx.settings.json:
                    ctx.err.print(f"Emulator at {server.url}; writing to {out}/", markup=False)
                    ctx.err.print(
                        f"Note: the CSV of {_DEMO_FILTER[0]} is filtered to {_DEMO_FILTER[1]} "
                        "and its other files are not, to show a filter at work.",
                        markup=False,
                    )
                reports = await s.reports()
                targets = demo_targets(reports, out, with_parquet=parquet_available())
                high_s = duration[1] if isinstance(duration, tuple) else duration
                # The dry run with what the session knows (the service document just read);
                # where nothing was learned it assumes the emulator's job length, and says
                # what it guessed.
                est = await dry_run(s, targets, job_seconds=high_s, retry_after=1.0)
                await check_budget(ctx, s, est, yes=False)
                await validate(s, targets)
                outcomes = await pull_targets(ctx, s, targets, parallel=parallel, title="demo")
                sent = s.requests_sent
                snap = await s.budget_status()
        took = time.perf_counter() - started
        _summary(
            ctx,
            outcomes,
            sent=sent,
            seen=len(em.requests),
            estimated=est.total,
            guessed=len(est.guesses),
            remaining=snap.remaining,
            took=took,
        )
        return next((o.exit_code for o in outcomes if not o.ok), 0)

    start(kwargs, main)


def _summary(
    ctx: Ctx,
    outcomes: list[Outcome],
    *,
    sent: int,
    seen: int,
    estimated: int,
    guessed: int,
    remaining: int,
    took: float,
) -> None:
    ok = [o for o in outcomes if o.ok]
    polls = {o.target.label: o.polls for o in outcomes if o.use_async}
    if ctx.settings.json:
        ctx.print_json(
            {
                "files": [o.as_json() for o in outcomes],
                "written": len(ok),
                "rows": sum(o.rows or 0 for o in ok),
                "bytes": sum(o.bytes for o in ok),
                "requests": sent,
                "requests_seen_by_emulator": seen,
                "estimated": estimated,
                "estimate_guesses": guessed,
                "remaining": remaining,
                "polls_per_job": polls,
                "elapsed": round(took, 3),
            }
        )
        return
    table = Table("File", "Format", "Filter", "Rows", "Size", "Polls", "Time", title="Demo pull")
    for o in outcomes:
        name = o.path.name if o.path else f"{o.target.path.name} (failed)"
        table.add_row(
            name,
            o.target.format + (" async" if o.use_async else ""),
            o.target.filter or "-",
            "-" if o.rows is None else str(o.rows),
            human_bytes(o.bytes),
            str(o.polls) if o.use_async else "-",
            f"{o.elapsed:.1f} s",
        )
    ctx.out.print(table)
    jobs = list(polls.values())
    ctx.out.print(
        f"{len(ok)} of {len(outcomes)} files written: {sum(o.rows or 0 for o in ok)} rows, "
        f"{human_bytes(sum(o.bytes for o in ok))} in {took:.1f} s.",
        markup=False,
    )
    ctx.out.print(
        f"Requests spent: {sent} (the emulator saw {seen}; estimated {estimated}"
        + (f", with {guessed} page counts or job lengths guessed" if guessed else ", exactly")
        + f"); {remaining} of 150 left.",
        markup=False,
    )
    if jobs:
        ctx.out.print(
            f"Polls per job: {', '.join(map(str, jobs))} (mean {sum(jobs) / len(jobs):.1f}).",
            markup=False,
        )

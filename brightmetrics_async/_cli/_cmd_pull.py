"""Commands that fetch data: ``export`` (one report, one file) and ``pull`` (many)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import attrs
import click

import brightmetrics_async as bm

from ._display import Display, human_bytes, plural
from ._files import parquet_available, stream_parquet
from ._journaling import Earlier, earlier_run, forget
from ._lookup import resolve, resolve_all
from ._pulling import (
    Outcome,
    check_budget,
    estimate_json,
    first_failure,
    pull_targets,
    validate,
)
from ._pulling import (
    dry_run as estimate_learned,
)
from ._run import Ctx
from ._settings import connection_options
from ._since import Period, apply_period, since_options
from ._start import start
from ._targets import (
    FORMAT_CHOICES,
    Target,
    check_unique,
    file_name,
    format_for_path,
    normalize_format,
    read_plan,
)

__all__ = ["export", "pull"]

_FORMAT_HELP = f"One of: {', '.join(FORMAT_CHOICES)}."


def _target_options(func: Any) -> Any:
    func = click.option(
        "--async/--sync",
        "use_async",
        default=None,
        help=(
            "Force an asynchronous export job (polled frugally), or plain requests (pages "
            "for json). [default: each report the way predicted to cost fewer requests from "
            "what earlier runs learned; pages while a json page count is unknown]"
        ),
    )(func)
    func = click.option(
        "--timezone", metavar="TZ", help="Windows or IANA zone name, e.g. 'Eastern Standard Time'."
    )(func)
    return click.option(
        "--filter", "filter_", metavar="EXPR", help="OData $filter, e.g. \"Queue_Name eq 'Sales'\"."
    )(func)


async def _export_parquet(ctx: Ctx, s: bm.Session, target: Target) -> Outcome:
    # Synchronous parquet streams typed pages into row groups as they arrive.
    started = time.perf_counter()
    item = target.pull_item()
    display = Display(ctx, 1, title="export")
    pages = rows = 0
    with display:
        display.on_event(bm.PullEvent("started", 0, item))
        try:
            columns = await s.columns(target.report)

            async def counted() -> Any:
                nonlocal pages, rows
                async with s.pages(
                    target.report, filter=target.filter, timezone=target.timezone, typed=True
                ) as it:
                    async for page in it:
                        pages += 1
                        rows += len(page.rows)
                        display.on_event(bm.PullEvent("page", 0, item, pages=pages, rows=rows))
                        yield page

            path, rows = await stream_parquet(counted(), columns, target.path)
            result = bm.PullResult(
                0,
                item,
                value=path,
                rows=rows,
                pages=pages,
                bytes=path.stat().st_size,
                elapsed=time.perf_counter() - started,
                use_async=False,
            )
        except (bm.BrightmetricsError, OSError) as error:
            elapsed = time.perf_counter() - started
            result = bm.PullResult(
                0, item, error=error, pages=pages, rows=rows, elapsed=elapsed, use_async=False
            )
        outcome = Outcome(target, result)
        display.finished(0, ok=outcome.ok, text=outcome.text())
    return outcome


@click.command()
@click.argument("report")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="The file to write (complete, or not at all).",
)
@click.option(
    "-f",
    "--format",
    "fmt",
    metavar="FORMAT",
    help=f"{_FORMAT_HELP} [default: from the file suffix, else csv]",
)
@_target_options
@since_options
@connection_options
def export(
    report: str,
    output: str,
    fmt: str | None,
    filter_: str | None,
    timezone: str | None,
    use_async: bool | None,
    **kwargs: Any,
) -> None:
    """Export REPORT (title, name or GUID) to one file, atomically.

    Without --async or --sync the way is chosen: a CSV, PDF or XLSX file is one request;
    json pages until its page count is learned, then takes whichever of paging and an
    asynchronous export costs fewer requests; parquet streams typed pages.
    """

    async def main(ctx: Ctx) -> int:
        path = Path(output)
        chosen = format_for_path(path, fmt)
        if chosen == "parquet" and not parquet_available():
            raise bm.ConfigurationError(
                "parquet needs pyarrow: pip install 'brightmetrics-async[parquet]'"
            )
        period = Period.read(kwargs["since"], kwargs["until"], timezone, now=time.time())
        async with ctx.settings.session() as s:
            target = Target(await resolve(s, report), chosen, path, filter_, timezone, use_async)
            (target,) = await apply_period(s, [target], period)
            await validate(s, [target])
            if chosen == "parquet" and use_async is not True:  # streamed from typed pages
                outcome = await _export_parquet(ctx, s, target)
            else:
                (outcome,) = await pull_targets(ctx, s, [target], parallel=1, title="export")
            sent = s.requests_sent
        if outcome.error is not None:
            raise outcome.error  # with --json: one error object on stdout, nothing else
        if ctx.settings.json:
            ctx.print_json({**outcome.as_json(), "requests": sent})
        return 0

    start(kwargs, main)


def _targets_for(
    refs: list[bm.Report | str],
    formats: list[str],
    out: Path,
    filter_: str | None,
    timezone: str | None,
    use_async: bool | None,
) -> list[Target]:
    return check_unique(
        Target(ref, fmt, out / file_name(ref, fmt), filter_, timezone, use_async, journaled=True)
        for ref in refs
        for fmt in formats
    )


async def _resolved(s: bm.Session, targets: list[Target], out: Path) -> list[Target]:
    """Targets with their reports resolved (names matched loosely); a default file name
    follows the report's title once it is known."""
    refs = await resolve_all(s, [t.report for t in targets])
    done = []
    for t, ref in zip(targets, refs, strict=True):
        path = t.path
        if path == out / file_name(t.report, t.format):
            path = out / file_name(ref, t.format)
        done.append(attrs.evolve(t, report=ref, path=path, journaled=True))
    return check_unique(done)


@click.command()
@click.argument("reports", nargs=-1, metavar="[REPORT]...")
@click.option(
    "-o",
    "--output-dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Directory for the files (created if missing).",
)
@click.option("--all", "all_", is_flag=True, help="Every saved report (costs 1 request).")
@click.option(
    "--plan",
    type=click.Path(dir_okay=False),
    metavar="FILE.toml",
    help=(
        "A TOML plan of [[report]] tables: report, format, filter, timezone, async "
        "(true/false; absent: chosen), file."
    ),
)
@click.option(
    "-f",
    "--format",
    "formats",
    multiple=True,
    metavar="FORMAT",
    help=f"Repeat for several. {_FORMAT_HELP} [default: csv]",
)
@_target_options
@since_options
@click.option("--parallel", type=click.IntRange(1, 64), help="Items at once [default: 4].")
@click.option("--yes", "-y", is_flag=True, help="Start even if the estimate exceeds the budget.")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print what the pull would cost (from what earlier runs learned) and stop.",
)
@click.option(
    "--fresh", is_flag=True, help="Start over: forget what an interrupted run of it left."
)
@connection_options
def pull(
    reports: tuple[str, ...],
    output_dir: str,
    all_: bool,
    plan: str | None,
    formats: tuple[str, ...],
    filter_: str | None,
    timezone: str | None,
    use_async: bool | None,
    parallel: int | None,
    yes: bool,
    dry_run: bool,
    fresh: bool,
    **kwargs: Any,
) -> None:
    """Pull many reports at once into a directory.

    Choose the reports with --all, with REPORT arguments, or with --plan. Each report takes
    the way predicted to cost fewer requests from what earlier runs learned (json pages
    while its page count is unknown, then may take an asynchronous export; other formats
    are one request each), unless --async or --sync (or a plan's async = true/false) forces
    it. Before starting, prints what the pull will cost in requests, counting each report
    the way it will run, and what is left of the budget, and refuses (exit 6) when it does
    not fit, unless --yes.

    A pull is journaled: after Ctrl-C or a crash, run the same command again and it
    continues (written files are skipped, jobs resumed, JSON continues from its last page).
    Once every item succeeded the journal forgets them; --fresh forgets them first.
    """
    chosen = sum([bool(reports), all_, plan is not None])
    if chosen != 1:
        raise click.UsageError("give exactly one of --all, REPORT arguments or --plan")
    if plan is not None and (formats or filter_ or timezone or use_async is not None):
        raise click.UsageError("--plan sets format, filter, timezone and async per report")

    async def main(ctx: Ctx) -> int:
        out = Path(output_dir)
        fmts = [normalize_format(f) for f in formats] or ["csv"]
        width = parallel
        period = Period.read(kwargs["since"], kwargs["until"], timezone, now=time.time())
        async with ctx.settings.session() as s, bm.Journal() as journal:
            if plan is not None:
                targets, plan_parallel = read_plan(Path(plan), out)
                width = width or plan_parallel
            elif all_:
                refs: list[bm.Report | str] = list(await s.reports())
                targets = _targets_for(refs, fmts, out, filter_, timezone, use_async)
            else:
                targets = _targets_for(list(reports), fmts, out, filter_, timezone, use_async)
            targets = await apply_period(s, targets, period)
            if any(t.format == "parquet" for t in targets) and not parquet_available():
                raise bm.ConfigurationError("parquet needs pyarrow")
            targets = [attrs.evolve(t, journaled=True) for t in targets]
            # #12: the dry run with the knowledge store, each target the way it will run
            est = await estimate_learned(s, targets, journal=None if fresh else journal)
            if dry_run:
                snap = await s.budget_status()
                if ctx.settings.json:
                    result = {"estimate": estimate_json(est), "remaining": snap.remaining}
                    ctx.print_json(result)
                else:
                    await check_budget(ctx, s, est, yes=True, dry=True)
                return 0
            await check_budget(ctx, s, est, yes=yes)
            targets = await _resolved(s, targets, out)
            await validate(s, targets)
            earlier = Earlier()
            if fresh:
                await forget(journal, targets)
            else:
                earlier = await earlier_run(journal, targets)
                if earlier and not ctx.settings.json:
                    ctx.err.print(earlier.text(), markup=False)
            ctx.journaled = True
            started = time.perf_counter()
            outcomes = await pull_targets(ctx, s, targets, parallel=width or 4, journal=journal)
            took = time.perf_counter() - started
            if all(o.ok for o in outcomes):
                await forget(journal, targets)
            sent = s.requests_sent
            snap = await s.budget_status()
        ok = [o for o in outcomes if o.ok]
        if ctx.settings.json:
            ctx.print_json(
                {
                    "items": [o.as_json() for o in outcomes],
                    "estimate": estimate_json(est),
                    "earlier_run": attrs.asdict(earlier),
                    "requests": sent,
                    "remaining": snap.remaining,
                    "elapsed": round(took, 3),
                }
            )
        else:
            total = sum(o.bytes for o in ok)
            ctx.err.print(
                f"{len(ok)} of {len(outcomes)} files written ({human_bytes(total)}) in "
                f"{took:.1f} s; {plural(sent, 'request')} spent (estimated {est.total}); "
                f"{snap.remaining} left.",
                markup=False,
            )
            if len(ok) < len(outcomes):
                ctx.err.print(
                    "Run the same command again to retry the failed items (written files are "
                    "kept), or add --fresh to start over.",
                    markup=False,
                )
        return first_failure(outcomes)

    start(kwargs, main)

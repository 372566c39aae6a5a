"""``brightmetrics sync``: reports into a warehouse (a DuckDB file by default), incrementally.

A thin shell over :mod:`brightmetrics_async.dlt`: read and check every option, open the
destination, finish a load a killed run left behind, plan against the budget (metadata
requests only), then run the dlt pipeline and print per table the rows loaded, the new
watermark and the requests spent. A run the budget cut short exits with its own code.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

import anyio
import click
import platformdirs

import brightmetrics_async as bm

from ._display import Display
from ._exit import code
from ._run import Ctx
from ._settings import connection_options
from ._start import start

__all__ = ["PARTIAL", "sync"]

#: The exit code of a run the budget cut short (a prefix was loaded; run again to continue).
PARTIAL = code("partial")
_DEFAULT_FILE = "brightmetrics.duckdb"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _pipelines_dir() -> Path:
    env = os.environ.get("BRIGHTMETRICS_PIPELINES_DIR")
    return Path(env) if env else platformdirs.user_state_path("brightmetrics-async") / "pipelines"


def _destination(to: str) -> tuple[Any, str]:
    """The dlt destination for ``--to`` and a stable text naming it (for the pipeline name)."""
    import dlt

    if _NAME.match(to) and not to.endswith("duckdb"):
        from dlt.common.destination import Destination

        try:
            Destination.from_reference(to)
        except Exception as exc:
            raise bm.ConfigurationError(
                f"--to {to!r} is neither a file nor a dlt destination"
            ) from exc
        return to, to
    path = Path(to).expanduser().resolve()
    if path.is_dir():
        raise bm.ConfigurationError(f"--to {to!r} is a directory, not a DuckDB file")
    import duckdb

    try:
        duckdb.connect(str(path)).close()
    except (duckdb.Error, OSError) as exc:
        raise bm.ConfigurationError(f"cannot open the DuckDB file {to!r}: {exc}") from None
    return dlt.destinations.duckdb(str(path)), str(path)


def _open_pipeline(to: str, dataset: str) -> Any:
    import dlt

    destination, name = _destination(to)
    digest = hashlib.sha256(f"{name}|{dataset}".encode()).hexdigest()[:12]
    pipeline = dlt.pipeline(
        pipeline_name=f"brightmetrics_{digest}",
        destination=destination,
        dataset_name=dataset,
        pipelines_dir=str(_pipelines_dir()),
    )
    try:
        pipeline.sync_destination()  # the state (watermarks) lives with the data
        if pipeline.has_pending_data:  # a run killed after extracting: load that first
            pipeline.normalize()
            pipeline.load()
    except Exception as exc:
        if isinstance(exc, bm.BrightmetricsError):
            raise
        raise bm.ConfigurationError(f"cannot open the destination {to!r}: {exc}") from None
    return pipeline


def _plan_json(plan: Any) -> list[dict[str, Any]]:
    return [
        {
            "table": t.table,
            "report": t.spec.report.title,
            "incremental": t.incremental,
            "from": t.start.isoformat() if t.start else None,
            "to": t.end.isoformat() if t.end else None,
            "requests": t.requests,
            "complete": t.complete,
        }
        for t in plan.tables
    ]


@click.command()
@click.argument("reports", nargs=-1, metavar="[REPORT]...")
@click.option("--all", "all_", is_flag=True, help="Every saved report.")
@click.option(
    "--to",
    "to",
    default=_DEFAULT_FILE,
    show_default=True,
    metavar="PATH_OR_DESTINATION",
    help="A DuckDB file, or a dlt destination name (postgres, bigquery...) configured for dlt.",
)
@click.option("--dataset", default="reports", show_default=True, help="Dataset (schema).")
@click.option("--since", metavar="WHEN", help="Where a table with no watermark starts (30d...).")
@click.option("--until", metavar="WHEN", help="Load up to this point [default: now].")
@click.option("--overlap", default="1h", show_default=True, metavar="DURATION")
@click.option("--timezone", metavar="TZ", help="Zone for --since dates [default: UTC].")
@click.option(
    "--reserve",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="Requests kept unspent.",
)
@click.option("--restart", is_flag=True, help="Reload every table from --since.")
@click.option("--dry-run", is_flag=True, help="Print the plan and its cost; load nothing.")
@connection_options
def sync(
    reports: tuple[str, ...],
    all_: bool,
    to: str,
    dataset: str,
    since: str | None,
    until: str | None,
    overlap: str,
    timezone: str | None,
    reserve: int,
    restart: bool,
    dry_run: bool,
    **kwargs: Any,
) -> None:
    """Load REPORTs (or --all) into a warehouse, continuing from the last run.

    Detail reports load incrementally on their date-time column (from the stored watermark
    minus --overlap) and are merged without duplicates; summaries are replaced. A run that
    the budget does not cover loads the oldest part that fits and exits 12 (partial).
    """
    if bool(reports) == all_:
        raise click.UsageError("give REPORT arguments or --all")
    if restart and since is None:
        raise click.UsageError("--restart needs --since")

    async def main(ctx: Ctx) -> int:
        from brightmetrics_async._dates import parse_duration, parse_when

        try:
            from brightmetrics_async.dlt import SOURCE_NAME, brightmetrics_source, plan_sync
        except ImportError as exc:
            raise bm.ConfigurationError(
                f"sync needs dlt: pip install 'brightmetrics-async[dlt]' ({exc})"
            ) from None

        span = parse_duration(overlap)
        async with ctx.settings.session() as s:
            now = s.clock.time()
            start_at = parse_when(since, now=now, tz=timezone) if since else None
            stop_at = parse_when(until, now=now, tz=timezone, end=True) if until else None
            pipeline = await anyio.to_thread.run_sync(_open_pipeline, to, dataset)
            refs = None if all_ else list(reports)
            wants = None if all_ or since is None else True
            plan = await plan_sync(
                s,
                refs,
                pipeline=pipeline,
                since=start_at,
                until=stop_at,
                overlap=span,
                reserve=reserve,
                restart=restart,
                incremental=wants,
            )
            metadata = s.requests_sent
        if dry_run:
            return _print_plan(ctx, plan, metadata)
        settings = ctx.settings
        with Display(ctx, len(plan.tables), title="sync") as display:

            def progress(event: bm.PullEvent) -> None:
                display.on_event(event)
                if event.kind == "done":
                    text = f"{event.item.name}: {event.rows} rows, {event.pages} requests"
                    display.finished(event.index, ok=True, text=text)

            source = brightmetrics_source(
                auth=settings.auth(),
                base_url=settings.url,
                account=s.account,
                budget=settings.make_budget(),
                max_wait=settings.max_wait,
                plan=plan,
                progress=progress,
            )
            await anyio.to_thread.run_sync(pipeline.run, source)
        state = pipeline.state.get("sources", {}).get(SOURCE_NAME, {}).get("tables", {})
        return _print_result(ctx, plan, state, metadata)

    start(kwargs, main)


def _print_plan(ctx: Ctx, plan: Any, metadata: int) -> int:
    if ctx.settings.json:
        ctx.print_json(
            {
                "dry_run": True,
                "tables": _plan_json(plan),
                "requests": plan.requests,
                "metadata_requests": metadata,
                "remaining": plan.remaining,
                "complete": plan.complete,
            }
        )
        return 0
    for t in plan.tables:
        span = (
            f"from {t.start:%Y-%m-%d %H:%M} to {t.end:%Y-%m-%d %H:%M}"
            if t.start and t.end
            else "replace"
        )
        ctx.line(f"{t.table}: {span}, {t.requests} requests{'' if t.complete else ' (partial)'}")
    ctx.line(
        f"dry run: {plan.requests} requests planned ({metadata} spent on metadata); "
        f"{plan.message()}"
    )
    return 0


def _print_result(ctx: Ctx, plan: Any, state: Any, metadata: int) -> int:
    rows = []
    for t in plan.tables:
        # A table with nothing to request did not run: its stored last_run is an older run's.
        last = state.get(t.table, {}).get("last_run", {}) if t.requests else {}
        last = last if t.requests else {"complete": t.complete}
        rows.append(
            {
                "table": t.table,
                "report": t.spec.report.title,
                "incremental": t.incremental,
                "rows": int(last.get("rows", 0)),
                "watermark": state.get(t.table, {}).get("watermark"),
                "requests": int(last.get("requests", 0)),
                "complete": bool(last.get("complete", False)),
            }
        )
    complete = all(r["complete"] for r in rows)
    spent = metadata + sum(r["requests"] for r in rows)
    if ctx.settings.json:
        ctx.print_json({"tables": rows, "requests": spent, "complete": complete})
    else:
        for r in rows:
            mark = r["watermark"] or "(replaced)"
            ctx.line(
                f"{r['table']}: {r['rows']} rows loaded, watermark {mark}, {r['requests']} requests"
            )
        ctx.line(f"{spent} requests spent ({metadata} on metadata)")
    if not complete:
        why = plan.message() if not plan.complete else "the budget ran out during the run"
        ctx.err.print(
            f"brightmetrics: partial: {why}; the watermark marks the end of what was loaded",
            markup=False,
        )
        return PARTIAL
    return 0

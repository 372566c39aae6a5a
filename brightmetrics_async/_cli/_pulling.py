"""Running targets through ``Session.pull_many``: cost first, then the pull, then the files.

Order of a pull, so that a refusal spends nothing and a bad plan fails before any data
request: estimate the cost (no request) and read the budget (no request); refuse when the
estimate does not fit, unless told to go on; check every target locally
(``Session.data_url``: this fetches the service document and filter schemas the estimate
counted); then pull. Rows of json and parquet targets come back in memory and are written
here; every other format is streamed to its file by the library.
"""

from __future__ import annotations

import datetime as dt
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

import brightmetrics_async as bm

from ._display import Display, human_bytes, plural
from ._exit import classify, message
from ._files import write_json_rows, write_parquet
from ._lookup import is_guid, match_report
from ._run import Ctx
from ._targets import Target

__all__ = ["Outcome", "check_budget", "dry_run", "pull_targets", "when"]


@attrs.frozen
class Outcome:
    """How one target ended: a view of the library's :class:`PullResult` (whose ``value`` is
    the file written, also when the CLI wrote it from rows), so every count exists once."""

    target: Target
    result: bm.PullResult

    @property
    def path(self) -> Path | None:
        """The file written (None on failure)."""
        value = self.result.value
        return value if isinstance(value, Path) and self.result.ok else None

    @property
    def rows(self) -> int | None:
        """Rows written, when read (json, parquet; not for a skipped file)."""
        known = self.target.rows_known and not self.result.skipped
        return self.result.rows if known else None

    @property
    def bytes(self) -> int:
        """Bytes written."""
        return self.result.bytes

    @property
    def pages(self) -> int:
        """JSON pages read."""
        return self.result.pages

    @property
    def polls(self) -> int:
        """Status polls of the job."""
        return self.result.polls

    @property
    def elapsed(self) -> float:
        """Seconds the item took."""
        return self.result.elapsed

    @property
    def error(self) -> bm.BrightmetricsError | OSError | None:
        """Why it failed, or None."""
        return self.result.error

    @property
    def token(self) -> str | None:
        """The job's resume token, when a job failed."""
        return self.result.token

    @property
    def skipped(self) -> bool:
        """True when an earlier run had written the file."""
        return self.result.skipped

    @property
    def use_async(self) -> bool | None:
        """The way it took: True as an asynchronous export, False as plain requests."""
        return self.result.use_async

    @property
    def way(self) -> str | None:
        """``"async"`` or ``"sync"``, the way it took (None when it never started)."""
        return None if self.use_async is None else ("async" if self.use_async else "sync")

    @property
    def ok(self) -> bool:
        """True when the file was written."""
        return self.error is None

    @property
    def exit_code(self) -> int:
        """0, or the exit code of the error's class."""
        return 0 if self.error is None else classify(self.error).code

    def text(self) -> str:
        """One line for displays."""
        if self.error is not None:
            text = f"{self.target.label}: {classify(self.error).name} error: {message(self.error)}"
            if self.token and not isinstance(self.error, bm.NotFound | bm.JobExpired):
                quoted = shlex.quote(self.token)
                text += f" (resume: brightmetrics job resume {quoted} -o {self.target.path})"
            return text
        if self.skipped:
            return f"{self.target.label} -> {self.path} (already written by an earlier run)"
        parts = [human_bytes(self.bytes)]
        if self.rows is not None:
            parts.append(plural(self.rows, "row"))
        if self.pages:
            parts.append(plural(self.pages, "page"))
        if self.use_async:
            parts.append(f"async, {plural(self.polls, 'poll')}")
        else:
            parts.append("sync")
        parts.append(f"{self.elapsed:.1f} s")
        return f"{self.target.label} -> {self.path} ({', '.join(parts)})"

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict: ``async`` is the way the target took (``async_given``: what
        was asked, null to let it choose)."""
        report = self.target.report
        return {
            "report": report.title or report.url if isinstance(report, bm.Report) else report,
            "format": self.target.format,
            "async": self.use_async,
            "way": self.way,
            "async_given": self.target.use_async,
            "filter": self.target.filter,
            "path": str(self.path or self.target.path),
            "ok": self.ok,
            "skipped": self.skipped,
            "rows": self.rows,
            "bytes": self.bytes,
            "pages": self.pages,
            "polls": self.polls,
            "elapsed": round(self.elapsed, 3),
            "error": None if self.error is None else message(self.error),
            "error_class": None if self.error is None else classify(self.error).name,
            "exit_code": self.exit_code,
            "token": self.token,
        }


def when(at: float | None) -> str:
    """A Unix time as local ``YYYY-MM-DD HH:MM:SS`` (``-`` for None)."""
    if at is None:
        return "-"
    return dt.datetime.fromtimestamp(at).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


async def dry_run(
    session: bm.Session,
    targets: Sequence[Target],
    *,
    job_seconds: float | None = None,
    retry_after: float | None = None,
    journal: bm.Journal | None = None,
) -> bm.Estimate:
    """The dry run of pulling ``targets`` with what the knowledge store learned (no request):
    each target counted the way it will run (a target an earlier run of the pull started, the
    way its ``journal`` entry recorded), exact unless ``guesses`` says otherwise (#12).
    ``job_seconds`` / ``retry_after``: what to assume where nothing was learned."""
    items = [t.pull_item() for t in targets]
    reports = (await session.learned(items)).reports
    if reports is not None:  # names matched loosely, as the pull will (no request)
        items = [attrs.evolve(i, report=_loose(i.report, reports)) for i in items]
    return await session.estimate(
        items,
        typed_items={i for i, t in enumerate(targets) if t.format == "parquet"},
        job_seconds=job_seconds,
        retry_after=retry_after,
        journal=journal,
    )


def _loose(ref: bm.Report | str, reports: Sequence[bm.Report]) -> bm.Report | str:
    if isinstance(ref, bm.Report) or is_guid(ref):
        return ref
    try:
        return match_report(ref, reports)
    except bm.NotFound:
        return ref  # the pull's own lookup says what is wrong


def estimate_json(est: bm.Estimate) -> dict[str, Any]:
    """A JSON-ready dict of an estimate."""
    return {
        "total": est.total,
        "service_document": est.service_document,
        "filter_metadata": est.filter_metadata,
        "columns_metadata": est.columns_metadata,
        "items": [attrs.asdict(c) for c in est.items],
        "notes": list(est.notes),
        "guesses": list(est.guesses),
    }


async def check_budget(
    ctx: Ctx, session: bm.Session, est: bm.Estimate, *, yes: bool, dry: bool = False
) -> bm.BudgetSnapshot:
    """Print the cost and what is left; refuse when it does not fit (unless ``yes``);
    ``dry``: print only (``pull --dry-run``).

    Raises :class:`BudgetExhausted` (exit 6) on refusal; nothing has been requested then.
    """
    snap = await session.budget_status()
    shared = est.service_document + est.filter_metadata + est.columns_metadata
    if not ctx.settings.json:
        ctx.err.print(
            f"This pull will cost about {est.total} requests "
            f"({len(est.items)} items, {shared} for metadata); "
            f"{snap.remaining} of {snap.limit} left in the last 24 h.",
            markup=False,
        )
        for guess in est.guesses:
            ctx.err.print(f"  guessed: {guess}", markup=False)
        if ctx.settings.verbose:
            for c in est.items:
                ctx.err.print(f"  {c.requests:>3}  {c.label}: {c.detail}", markup=False)
            for note in est.notes:
                ctx.err.print(f"  note: {note}", markup=False)
    if not est.fits(snap.remaining) and not dry:
        if not yes:
            raise bm.BudgetExhausted(
                f"this pull needs about {est.total} requests but only {snap.remaining} are "
                f"left (the next frees up at {when(snap.next_free_at)}); nothing was "
                "requested. Pull fewer reports, or pass --yes to start anyway",
                next_free_at=snap.next_free_at,
                remaining=snap.remaining,
            )
        if not ctx.settings.json:
            ctx.err.print("Going ahead (--yes): some items may fail for lack of budget.")
    return snap


async def validate(session: bm.Session, targets: Sequence[Target]) -> None:
    """Check every target locally, fetching what the checks need once (see module doc).

    Raises :class:`NotFound`, :class:`FilterError`, :class:`UnknownTimezone` or
    :class:`ConfigurationError` before any data request.
    """
    for t in targets:
        item = t.pull_item()
        await session.data_url(
            item.report, filter=item.filter, timezone=item.timezone, format=item.format
        )


async def _finish(session: bm.Session, target: Target, res: bm.PullResult) -> Outcome:
    if res.error is not None:
        return Outcome(target, res)
    try:
        if target.in_memory:
            rows = res.value
            assert isinstance(rows, list)
            if target.format == "parquet":
                columns = await session.columns(target.report)
                path = write_parquet(rows, columns, target.path)
            else:
                path = write_json_rows(rows, target.path)
            res = attrs.evolve(res, rows=len(rows))
        else:
            assert isinstance(res.value, Path)
            path = res.value
        size = path.stat().st_size
    except (bm.BrightmetricsError, OSError) as error:
        return Outcome(target, attrs.evolve(res, value=None, error=error))
    return Outcome(target, attrs.evolve(res, value=path, bytes=size))


async def pull_targets(
    ctx: Ctx,
    session: bm.Session,
    targets: Sequence[Target],
    *,
    parallel: int,
    title: str = "pull",
    journal: bm.Journal | None = None,
) -> list[Outcome]:
    """Pull every target with live progress; return the outcomes in target order."""
    outcomes: dict[int, Outcome] = {}
    pull: bm.Pull | None = None
    display = Display(ctx, len(targets), title=title)

    def on_event(ev: bm.PullEvent) -> None:
        if ev.kind in ("submitted", "resumed") and pull is not None and ev.index in pull.jobs:
            ctx.track(targets[ev.index].label, pull.jobs[ev.index], targets[ev.index].path)
        display.on_event(ev)

    with display:
        pull = session.pull_many(
            [t.pull_item() for t in targets],
            concurrency=parallel,
            on_event=on_event,
            journal=journal,
        )
        async with pull:
            async for res in pull:
                outcome = await _finish(session, targets[res.index], res)
                outcomes[res.index] = outcome
                display.finished(res.index, ok=outcome.ok, text=outcome.text())
    return [outcomes[i] for i in range(len(targets))]


def first_failure(outcomes: Sequence[Outcome]) -> int:
    """The exit code of the first failed outcome, or 0."""
    return next((o.exit_code for o in outcomes if not o.ok), 0)

"""The bodies of a session's data methods: pages, downloads, exports and submissions.

:class:`~._session.Session` checks its keywords, makes them a :class:`~._request.Query` and
calls these with its :class:`~._session_wiring.Wiring`. Each runs the flows of ``_ops`` /
``_job_flow`` with the session's driver, through the request economy (#12: the result cache
of ``max_age=``, a stored document proved wrong and sent again, page counts learned) and the
telemetry of #17.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from ._atomic import AtomicFile
from ._bodies import stream_typed
from ._economy import ref_name
from ._fetch import fetch
from ._formats import Format, format_for_path
from ._job_keys import request_fingerprint, submit_once
from ._jobs import Job
from ._json_array import ArrayWriter, dump_array
from ._knowledge._shape import filter_text
from ._limits import export_meter
from ._models import Report
from ._pager import PageIterator, RowIterator
from ._request import Query, Request
from ._session_wiring import Wiring
from ._submit import submit_job

if TYPE_CHECKING:
    import datetime as dt

    from ._filters import FilterExpr

__all__ = ["download", "export", "export_query", "open_pages", "submit"]


def open_pages(
    w: Wiring, q: Query, *, typed: bool, start: str | None, max_age: float | None
) -> PageIterator:
    """The page iterator of ``q`` (arguments already checked; ``start`` a vetted link)."""
    economy = w.economy  # #12: result cache, recheck, page counts learned
    return PageIterator(
        start,
        run=w.driver.run,
        ops=w.ops,
        query=q,
        typed=typed,
        page=economy.first_page(q, max_age, recheck=start is None),
        later=None if max_age is None else functools.partial(economy.page, max_age=max_age),
        operation=lambda: w.driver.telemetry.operation("rows", report=ref_name(q)),
        on_end=lambda pages: economy.pages_done(q, pages),
    )


async def download(w: Wiring, q: Query, *, max_age: float | None) -> bytes:
    """``q``'s data in memory; JSON as one array of every page's rows."""
    if q.format is Format.JSON:
        rows = RowIterator(open_pages(w, q, typed=False, start=None, max_age=max_age))
        return dump_array([row async for row in rows])
    return await w.economy.body(q, max_age, operation="download")  # #12/#17


def export_query(
    report: Report | str | Query,
    path: str | os.PathLike[str],
    *,
    format: Format | str | None,  # noqa: A002
    filter: str | FilterExpr | None,  # noqa: A002
    timezone: str | dt.tzinfo | None,
    check: bool | None,
) -> Query:
    """The query of an export to ``path``, whose suffix names the format (else ``format``,
    else CSV); a suffix contradicting the format is refused before any request."""
    if isinstance(report, Query):  # the suffix must agree with the query's own format
        return attrs.evolve(report, format=format_for_path(path, report.format))
    fmt = format_for_path(path, format)
    return Query(report, format=fmt, filter=filter, timezone=timezone, check=check)


async def export(
    w: Wiring,
    q: Query,
    target: Path,
    *,
    progress: Callable[[int], None] | None,
    max_bytes: int | None,
    max_age: float | None,
) -> Path:
    """Stream ``q``'s data to ``target`` atomically (arguments already checked)."""
    limits = w.ops.policy.limits
    if q.format is Format.JSON:
        meter = export_meter(max_bytes, limits, what="json export")
        with AtomicFile(target) as out:
            writer = ArrayWriter(out)
            writer.start()
            async with open_pages(w, q, typed=False, start=None, max_age=max_age) as pages:
                async for page in pages:
                    writer.write(page.rows)
                    meter.add(out.bytes_written - meter.total)
            writer.finish()
            return out.commit()
    with (
        AtomicFile(target) as out,
        w.driver.telemetry.operating("export", report=ref_name(q)),  # #17
    ):
        if max_age is not None:  # #12: the result cache
            body = await w.economy.body(q, max_age)
            export_meter(max_bytes, limits, what="export").add(len(body))
            out.write(body)
            if progress is not None:
                progress(len(body))
        else:
            fmt = q.format
            await w.economy.send(
                q,
                "export",
                lambda r: fetch(
                    w.ops.policy,
                    r,
                    stream_typed(out, fmt, progress, limits=limits, max_bytes=max_bytes),
                ),
            )
        return out.commit()


async def submit(
    w: Wiring,
    q: Query,
    *,
    key: str | None,
    report: Callable[[Report | str], Awaitable[Report]],
    resume: Callable[[str], Awaitable[Job]],
) -> Job:
    """Start ``q`` as an asynchronous export; with ``key`` once per key (#17).

    ``report`` resolves the query's report and ``resume`` rebuilds a job from its token (the
    session's own methods). ``key`` is already checked.
    """
    rep = await report(q.report)
    history = await w.learner.job_key(rep.url, q.format.value, filter_text(q.filter))  # #12
    request = await w.driver.run(w.ops.data_request(q, "submit"))

    def send(r: Request) -> Awaitable[Job]:
        return submit_job(w.jobs, r, report=rep.url, format=q.format, history_key=history)

    async def start() -> Job:  # #12: a stored document proved wrong is sent once more
        return await w.economy.resend(q, "submit", send, request)

    if key is None:
        return await start()
    return await submit_once(  # #17: one job per key
        w.keys(),
        key,
        scope=w.job_scope(),
        request=request_fingerprint(request.url, q.format.value),
        clock=w.clock,
        start=start,
        resume=resume,
        claim_timeout=w.claim_timeout,
    )

"""Starting and resuming asynchronous exports: the two ways a :class:`Job` comes to be."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._bodies import Spool
from ._formats import Format, parse_format
from ._job_flow import submit
from ._jobs import Job
from ._polling import Accepted
from ._tokens import decode_token, resume_poller

if TYPE_CHECKING:
    from ._jobs import JobContext
    from ._request import Request

__all__ = ["resume_job", "submit_job"]


async def submit_job(
    ctx: JobContext,
    request: Request,
    *,
    report: str,
    format: Format,  # noqa: A002
    history_key: str | None = None,
) -> Job:
    """Send a data request with ``Prefer: respond-async`` and return the :class:`Job`.

    A 200 (the preference ignored) gives a job that is already done: its result is spooled,
    no poll follows. Raises :class:`UnexpectedResponse` for a 202 without a status URL.
    """
    spool = Spool()
    try:
        outcome = await ctx.driver.run(submit(ctx.policy, request, format, spool))
    except BaseException:
        spool.close()
        raise
    now = ctx.driver.clock.time()
    if not isinstance(outcome, Accepted):
        return Job(ctx, report=report, format=format, poller=None, spooled=spool, submitted_at=now)
    spool.close()
    return Job.start(
        ctx,
        report=report,
        format=format,
        status_url=outcome.status_url,
        submitted_at=outcome.accepted_at,
        retry_after=outcome.retry_after,
        history_key=history_key,
    )


def resume_job(ctx: JobContext, token: str) -> Job:
    """Rebuild a job from :meth:`Job.token`, with no request.

    Raises :class:`InvalidToken` for a malformed, unknown-version, expired or future-dated
    token, and :class:`InvalidTokenLink` (an :class:`UnsafeLink` too) for a status URL off
    the service's origin and status path.
    """
    # The token is checked, not trusted (its deadline, its times, its status URL: the one
    # link check, and the service's status path).
    data = decode_token(token, now=ctx.driver.clock.time(), base_url=ctx.policy.base_url)
    poller = resume_poller(data, policy=ctx.poll_policy, history=ctx.history)
    return Job(
        ctx,
        report=data.report,
        format=parse_format(data.format),
        poller=poller,
        submitted_at=data.submitted_at,
    )

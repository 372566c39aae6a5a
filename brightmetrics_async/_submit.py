"""Starting and resuming asynchronous exports: the two ways a :class:`Job` comes to be."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._bodies import spool
from ._formats import Format, parse_format
from ._jobs import Job
from ._polling import Accepted, interpret_submit
from ._protocol import require_same_origin
from ._tokens import decode_token, resume_poller

if TYPE_CHECKING:
    from ._http import HttpClient, Response
    from ._poll_policy import JobHistory, PollPolicy

__all__ = ["resume_job", "submit_job"]


async def submit_job(
    http: HttpClient,
    url: str,
    headers: dict[str, str],
    *,
    report: str,
    format: Format,  # noqa: A002
    policy: PollPolicy,
    history: JobHistory,
    history_key: str | None = None,
) -> Job:
    """Send a data request with ``Prefer: respond-async`` and return the :class:`Job`.

    A 200 (the preference ignored) gives a job that is already done: its result is spooled,
    no poll follows. Raises :class:`UnexpectedResponse` for a 202 without a status URL.
    """
    send = {**headers, "Prefer": "respond-async"}

    async def answer(resp: Response) -> Job:
        now = http.clock.time()
        if resp.status == 200:
            return Job(
                http,
                report=report,
                format=format,
                poller=None,
                spooled=await spool(resp, format),
                submitted_at=now,
            )
        body = await resp.read()
        accepted = interpret_submit(resp.status, resp.headers, body, request_url=url, now=now)
        assert isinstance(accepted, Accepted)
        return Job.start(
            http,
            report=report,
            format=format,
            status_url=accepted.status_url,
            submitted_at=now,
            retry_after=accepted.retry_after,
            policy=policy,
            history=history,
            history_key=history_key,
        )

    # Not idempotent: a retry after the server may have accepted it would start a second job.
    return await http.fetch(
        url, answer, what="export submission", headers=send, ok=(200, 202), idempotent=False
    )


def resume_job(http: HttpClient, token: str, *, policy: PollPolicy, history: JobHistory) -> Job:
    """Rebuild a job from :meth:`Job.token`, with no request.

    Raises :class:`InvalidToken` for a malformed, unknown-version or expired token, and
    :class:`UnsafeLink` for a status URL on another origin than the session's service.
    """
    data = decode_token(token, now=http.clock.time())
    require_same_origin(data.status_url, http.base_url, what="the token's status URL")
    poller = resume_poller(data, policy=policy, history=history)
    return Job(
        http,
        report=data.report,
        format=parse_format(data.format),
        poller=poller,
        submitted_at=data.submitted_at,
    )

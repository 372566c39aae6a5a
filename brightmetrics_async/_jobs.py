"""``Job``: an asynchronous export (``Prefer: respond-async``), waited on frugally.

Theory of operation
-------------------
The sans-I/O :class:`JobPoller` decides and the flows of ``_job_flow`` carry its decisions
out (sleep until ``Wait.until`` on the injected clock - one timer per sleeping job, no task
spinning -, send the status poll it asks for, feed it whatever answers, 503 and resets
included); this class holds the job's state and runs those flows on the session's driver.
``status()`` polls once when a poll is due; a failed poll raises at once (it was counted,
and the next poll waits for its Retry-After). The 200 that ends
a job carries the result itself, so the poll that finishes a job is consumed by whoever is
waiting: ``result()`` reads it, ``export()`` streams it into an atomic file. When the result
arrives outside those (the server ignored ``respond-async``, or ``status()`` saw the 200), the
body is spooled - in memory up to a few MB, then in a temporary file - and served from there.

Expiry is checked locally before each poll: a job past its 1-hour life raises
:class:`JobExpired` without spending a request. Every error raised while waiting carries the
job's resume token. Cancelling a wait just stops: nothing is left running, no file is left
half-written, and the server job is not (cannot be) cancelled.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from ._atomic import AtomicFile
from ._bodies import Spool, read_result, stream_typed
from ._driver import CHUNK
from ._errors import BrightmetricsError, JobError, UnexpectedResponse
from ._fetch import Consume, Policy
from ._formats import Format
from ._job_flow import poll_once, wait
from ._json_array import rows_of, write_array
from ._limits import check_max_bytes, export_meter
from ._polling import JobPoller, JobState
from ._protocol import decode_json
from ._tokens import encode_token, token_for

if TYPE_CHECKING:
    from ._driver import Driver
    from ._poll_policy import JobHistory, PollPolicy
    from ._request import Requests

__all__ = ["Job", "JobContext"]

T = TypeVar("T")
# One reader per Limits, shared by the jobs that wait: each waiting job would otherwise hold
# a closure of its own (#11: 10,000 waiting jobs, fewer objects for the garbage collector).
_result_reader = functools.lru_cache(maxsize=16)(read_result)


@attrs.frozen
class JobContext:
    """What a job of a session needs: the driver, the flows' policy, the request builder."""

    driver: Driver
    policy: Policy
    requests: Requests
    poll_policy: PollPolicy
    history: JobHistory


class Job:
    """An export running on the server. Get it from ``Session.submit`` or ``Session.resume``.

    ``status_url``, ``submitted_at``, ``expires_at`` (submitted + 1 hour), ``retry_after`` (the
    last the server sent), ``state`` and ``polls`` (requests spent on polling) describe it.
    """

    def __init__(
        self,
        ctx: JobContext,
        *,
        report: str,
        format: Format,  # noqa: A002 - the vendor's word
        poller: JobPoller | None,
        spooled: Spool | None = None,
        submitted_at: float,
    ) -> None:
        self._ctx = ctx
        self.report = report
        self.format = format
        self._poller = poller
        self._spool = spooled
        self._submitted_at = submitted_at
        self._listeners: list[Callable[[Job], None]] = []

    @classmethod
    def start(
        cls,
        ctx: JobContext,
        *,
        report: str,
        format: Format,  # noqa: A002
        status_url: str,
        submitted_at: float,
        retry_after: float | None,
        expires_at: float | None = None,
        polls: int = 0,
        history_key: str | None = None,
    ) -> Job:
        """A job waiting on ``status_url`` (internal: sessions build jobs).

        ``history_key``: where its duration is learned (default ``report|format``).
        """
        poller = JobPoller(
            status_url,
            submitted_at=submitted_at,
            expires_at=expires_at,
            policy=ctx.poll_policy,
            history=ctx.history,
            history_key=history_key or f"{report}|{format.value}",
            retry_after=retry_after,
            polls=polls,
        )
        return cls(ctx, report=report, format=format, poller=poller, submitted_at=submitted_at)

    def __repr__(self) -> str:
        return (
            f"<Job report={self.report!r} format={self.format.value!r} state={self.state.name} "
            f"polls={self.polls}>"
        )

    @property
    def state(self) -> JobState:
        """PENDING, DONE, EXPIRED or FAILED."""
        if self._poller is None or self._spool is not None:
            return JobState.DONE
        assert self._poller is not None
        return self._poller.state

    @property
    def done(self) -> bool:
        """True once the result is here (or was consumed)."""
        return self.state is JobState.DONE

    @property
    def status_url(self) -> str | None:
        """Where the job is polled (None when the server answered at once)."""
        return self._poller.status_url if self._poller else None

    @property
    def submitted_at(self) -> float:
        """Unix time of the submission's answer."""
        return self._submitted_at

    @property
    def expires_at(self) -> float | None:
        """When the status URL stops being valid (one hour after submission)."""
        return self._poller.expires_at if self._poller else None

    @property
    def next_poll_at(self) -> float | None:
        """When the next poll is due, while PENDING."""
        if self._poller is None or self._poller.state is not JobState.PENDING:
            return None
        return self._poller.next_poll_at

    @property
    def retry_after(self) -> float | None:
        """The last Retry-After the server sent, in seconds."""
        return self._poller.retry_after if self._poller else None

    @property
    def polls(self) -> int:
        """Status polls spent so far."""
        return self._poller.polls if self._poller else 0

    def on_change(self, listener: Callable[[Job], None]) -> None:
        """Call ``listener(job)`` after every poll (progress displays use it)."""
        self._listeners.append(listener)

    def token(self) -> str:
        """A versioned JSON resume token: status URL, format, timestamps; no credentials.

        Raises :class:`JobError` for a job that has no status URL (answered at once).
        """
        if self._poller is None:
            raise JobError("this job was answered at once: there is nothing to resume")
        return encode_token(token_for(self._poller, report=self.report, format=self.format.value))

    def _safe_token(self) -> str | None:
        try:
            return self.token()
        except JobError:
            return None

    @property
    def resume_token(self) -> str | None:
        """:meth:`token`, or None for a job answered at once (nothing to resume)."""
        return self._safe_token()

    # -- waiting -----------------------------------------------------------------------

    async def result(self) -> Any:
        """Wait for the job and return its result: bytes, or for JSON the list of rows.

        Raises :class:`JobExpired`, :class:`JobError` or transport/API errors, each carrying
        the resume token.
        """
        body = await self._run(_result_reader(self._ctx.policy.limits), Spool.read_all)
        if self.format is Format.JSON:
            try:
                return rows_of(decode_json(body, what="export result"), what="export result")
            except UnexpectedResponse as exc:
                # The status URL serves the result for its whole hour: the token lets a
                # caller fetch it again.
                exc.token = self._safe_token()
                raise
        return body

    async def export(self, path: str | os.PathLike[str], *, max_bytes: int | None = None) -> Path:
        """Wait for the job and stream its result to ``path`` atomically (complete or absent).

        A JSON result is written as one array of rows, like ``Session.export``. ``max_bytes``
        bounds the size of a streamed result (default ``Limits.export``): past it
        :class:`UnexpectedResponse` and no file. Raises ``TypeError`` /
        :class:`ConfigurationError` for a ``max_bytes`` that is not an int >= 1.
        """
        max_bytes = check_max_bytes(max_bytes)
        limits = self._ctx.policy.limits
        meter = export_meter(max_bytes, limits, what="job export")
        if self.format is Format.JSON:
            rows = await self.result()
            with AtomicFile(path) as out:
                write_array(out, rows)
                return out.commit()
        with AtomicFile(path) as out:

            def from_spool(spool: Spool) -> None:
                spool.file.seek(0)
                while chunk := spool.file.read(CHUNK):
                    meter.add(len(chunk))
                    out.write(chunk)

            consume = stream_typed(out, self.format, limits=limits, max_bytes=max_bytes)
            await self._run(consume, from_spool)
            return out.commit()

    async def status(self) -> JobState:
        """Poll once if a poll is due now (never early); return the state.

        A finished job's result is kept (spooled) for a later ``result()`` / ``export()``.
        """
        if self._spool is not None or self._poller is None:
            return self.state
        ctx, spool, polls = self._ctx, Spool(), self.polls
        try:
            flow = poll_once(ctx.policy, ctx.requests, self._poller, self.format, spool)
            done = await ctx.driver.run(flow)
        except BrightmetricsError as exc:
            spool.close()
            if exc.token is None:
                exc.token = self._safe_token()
            raise
        except BaseException:
            spool.close()
            raise
        finally:
            if self.polls != polls:
                self._changed()
        if done:
            self._spool = spool
        else:
            spool.close()
        return self.state

    async def _run(self, consume: Consume[Any], from_spool: Callable[[Spool], T]) -> T:
        try:
            if self._spool is not None:
                try:
                    return from_spool(self._spool)
                finally:
                    self._spool.close()
                    self._spool = None
            if self._poller is None:
                raise JobError("the result of this job was already read")
            ctx = self._ctx
            flow = wait(ctx.policy, ctx.requests, self._poller, self.format, consume, self._changed)
            telemetry = ctx.driver.telemetry  # the "job.wait" operation span (#17)
            with telemetry.operating("job.wait", report=self.report):
                value: T = await ctx.driver.run(flow)
            telemetry.job_finished(
                seconds=ctx.driver.clock.time() - self._submitted_at,
                polls=self.polls,
                report=self.report,
                format=self.format.value,
            )
            return value
        except BrightmetricsError as exc:
            if exc.token is None:
                exc.token = self._safe_token()
            raise

    def _changed(self) -> None:
        self._ctx.driver.telemetry.poll(self.polls, self.state.value)  # one event a poll (#17)
        for listener in self._listeners:
            listener(self)

    async def aclose(self) -> None:
        """Drop a spooled result that will not be read."""
        if self._spool is not None:
            self._spool.close()
            self._spool = None

    async def __aenter__(self) -> Job:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

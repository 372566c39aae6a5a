"""``Job``: an asynchronous export (``Prefer: respond-async``), waited on frugally.

Theory of operation
-------------------
The sans-I/O :class:`JobPoller` decides; this module only carries its decisions out: sleep
until ``Wait.until`` on the injected clock (one timer per sleeping job, no task spinning), send
the status poll it asks for (one budget token each), and feed it the answer. The 200 that ends
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

import json
import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ._atomic import AtomicFile
from ._bodies import CHUNK, spool, stream_to
from ._errors import BrightmetricsError, JobError, JobExpired, UnexpectedResponse
from ._formats import Format
from ._polling import (
    Done,
    Expired,
    Failed,
    JobPoller,
    JobState,
    Pending,
    Poll,
    Wait,
)
from ._protocol import decode_json, error_for_status
from ._tokens import encode_token, token_for

if TYPE_CHECKING:
    from ._http import HttpClient, Response
    from ._poll_policy import JobHistory, PollPolicy

__all__ = ["Job"]

T = TypeVar("T")


class Job:
    """An export running on the server. Get it from ``Session.submit`` or ``Session.resume``.

    ``status_url``, ``submitted_at``, ``expires_at`` (submitted + 1 hour), ``retry_after`` (the
    last the server sent), ``state`` and ``polls`` (requests spent on polling) describe it.
    """

    def __init__(
        self,
        http: HttpClient,
        *,
        report: str,
        format: Format,  # noqa: A002 - the vendor's word
        poller: JobPoller | None,
        spooled: tempfile.SpooledTemporaryFile[bytes] | None = None,
        submitted_at: float,
    ) -> None:
        self._http = http
        self.report = report
        self.format = format
        self._poller = poller
        self._spool = spooled
        self._submitted_at = submitted_at
        self._listeners: list[Callable[[Job], None]] = []

    @classmethod
    def start(
        cls,
        http: HttpClient,
        *,
        report: str,
        format: Format,  # noqa: A002
        status_url: str,
        submitted_at: float,
        retry_after: float | None,
        policy: PollPolicy,
        history: JobHistory,
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
            policy=policy,
            history=history,
            history_key=history_key or f"{report}|{format.value}",
            retry_after=retry_after,
            polls=polls,
        )
        return cls(http, report=report, format=format, poller=poller, submitted_at=submitted_at)

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

    # -- waiting -----------------------------------------------------------------------

    async def result(self) -> Any:
        """Wait for the job and return its result: bytes, or for JSON the list of rows.

        Raises :class:`JobExpired`, :class:`JobError` or transport/API errors, each carrying
        the resume token.
        """
        body = await self._run(lambda resp: resp.read(), self._read_spool)
        if self.format is Format.JSON:
            try:
                doc = decode_json(body, what="export result")
            except UnexpectedResponse as exc:
                # The status URL serves the result for its whole hour: the token lets a
                # caller fetch it again.
                exc.token = self._safe_token()
                raise
            rows = doc.get("value") if isinstance(doc, dict) else doc
            if not isinstance(rows, list):
                raise UnexpectedResponse(
                    "export result: no 'value' array", token=self._safe_token()
                )
            return rows
        return body

    async def export(self, path: str | os.PathLike[str]) -> Path:
        """Wait for the job and stream its result to ``path`` atomically (complete or absent).

        A JSON result is written as one array of rows, like ``Session.export``.
        """
        if self.format is Format.JSON:
            rows = await self.result()
            with AtomicFile(path) as out:
                out.write(json.dumps(rows, ensure_ascii=False).encode())
                return out.commit()
        with AtomicFile(path) as out:

            async def from_spool() -> None:
                assert self._spool is not None
                self._spool.seek(0)
                while chunk := self._spool.read(CHUNK):
                    out.write(chunk)

            async def from_response(resp: Response) -> None:
                await stream_to(resp, out, self.format)

            await self._run(from_response, from_spool)
            return out.commit()

    async def status(self) -> JobState:
        """Poll once if a poll is due now (never early); return the state.

        A finished job's result is kept (spooled) for a later ``result()`` / ``export()``.
        """
        if self._spool is not None or self._poller is None:
            return self.state
        action = self._poller.next_action(self._http.clock.time())
        if isinstance(action, Expired):
            raise JobExpired(_expired_text(action), token=self._safe_token())
        if isinstance(action, Poll):
            await self._poll(action, self._spool_response)
        return self.state

    async def _run(
        self,
        consume: Callable[[Response], Awaitable[T]],
        from_spool: Callable[[], Awaitable[T]],
    ) -> T:
        try:
            while True:
                if self._spool is not None:
                    try:
                        return await from_spool()
                    finally:
                        self._spool.close()
                        self._spool = None
                if self._poller is None:
                    raise JobError("the result of this job was already read")
                clock = self._http.clock
                if self._poller.state is JobState.DONE:
                    # The status URL serves the result for its whole hour: fetch it again.
                    if clock.time() >= self._poller.expires_at:
                        raise JobExpired("the job's result is past its 1-hour life")
                    return await self._fetch_again(consume)
                if self._poller.state is not JobState.PENDING:
                    raise JobError(f"the job is {self._poller.state.value}; its result is gone")
                action = self._poller.next_action(clock.time())
                if isinstance(action, Wait):
                    await clock.sleep(action.until - clock.time())
                elif isinstance(action, Expired):
                    raise JobExpired(_expired_text(action))
                else:
                    done, value = await self._poll(action, consume)
                    if done:
                        return value  # type: ignore[return-value]
        except BrightmetricsError as exc:
            if exc.token is None:
                exc.token = self._safe_token()
            raise

    async def _poll(
        self, action: Poll, consume: Callable[[Response], Awaitable[T]]
    ) -> tuple[bool, T | None]:
        assert self._poller is not None
        poller, clock = self._poller, self._http.clock

        async def answer(resp: Response) -> tuple[bool, T | None]:
            if resp.status == 200:
                value = await consume(resp)
                poller.on_response(200, resp.headers, None, now=clock.time())
                return True, value
            body = await resp.read()
            outcome = poller.on_response(resp.status, resp.headers, body, now=clock.time())
            if isinstance(outcome, Expired):
                raise JobExpired(_expired_text(outcome))
            if isinstance(outcome, Failed):
                error = error_for_status(outcome.status, resp.headers, body, what="status poll")
                raise error or JobError(f"status poll: HTTP {outcome.status}")
            assert isinstance(outcome, (Pending, Done))
            return False, None

        try:
            return await self._http.fetch(
                action.url,
                answer,
                what="status poll",
                headers={"Accept": self.format.media_type},
                ok=(200, 202, 404, 410),
            )
        finally:
            for listener in self._listeners:
                listener(self)

    async def _fetch_again(self, consume: Callable[[Response], Awaitable[T]]) -> T:
        assert self._poller is not None

        async def answer(resp: Response) -> T:
            if resp.status != 200:
                raise JobExpired(f"the finished job's status URL answered HTTP {resp.status}")
            return await consume(resp)

        return await self._http.fetch(
            self._poller.status_url,
            answer,
            what="export result",
            headers={"Accept": self.format.media_type},
            ok=(200, 202, 404, 410),
        )

    async def aclose(self) -> None:
        """Drop a spooled result that will not be read."""
        if self._spool is not None:
            self._spool.close()
            self._spool = None

    async def __aenter__(self) -> Job:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _spool_response(self, resp: Response) -> None:
        self._spool = await spool(resp, self.format)

    async def _read_spool(self) -> bytes:
        assert self._spool is not None
        self._spool.seek(0)
        return self._spool.read()


def _expired_text(action: Expired) -> str:
    return {
        "lifetime": "the job's status URL is past its 1-hour life; no request was sent",
        "deadline": "the wait deadline passed before the job finished",
        "max_polls": "the poll limit was reached before the job finished",
        "gone": "the server no longer knows the job (404/410)",
    }.get(action.reason, f"the job expired ({action.reason})")

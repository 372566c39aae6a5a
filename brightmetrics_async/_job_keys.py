"""Idempotent, durable jobs: ``submit(..., key=...)`` starts a job once per key and account.

The Redis registry is in ``_job_keys_redis``.

Theory of operation
-------------------
A **job key registry** (:class:`SQLiteJobKeys` beside the journal, or :class:`RedisJobKeys` for
several machines) maps ``(account, service URL, key)`` to a record::

    claimed (owner, claimed_at) --(submitted)--> live (resume token, expires_at) --(1 h)--> gone

:func:`submit_once` claims the key atomically (one SQLite ``BEGIN IMMEDIATE`` transaction, or
one Lua script in Redis, the equivalent of ``SET NX``): the process that wins submits and
records the job's resume token; a process that finds a live record resumes the job from its
token instead (no request; a finished job's result is fetched again with one request, since its
status URL serves it for the hour); a process that finds a fresh claim waits for the token. A
claim older than ``claim_timeout`` (its owner died before recording a token) is taken over.
A failed submission releases the claim. Records are looked up by account *and* service URL,
so a record of another account or service is never used, and a token is resumed only through
the session, which refuses a status URL on another origin (the record is then dropped).
A record also keeps a fingerprint of what was asked (report, format, filter...): the same key
for another request is a :class:`ConfigurationError`, not a wrong answer.

Records hold no credentials: the resume token holds the status URL, format and timing only.
"""

from __future__ import annotations

import abc
import hashlib
import os
import sqlite3
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import anyio
import attrs

from ._clock import Clock
from ._errors import ConfigurationError, InvalidToken, UnsafeLink
from ._journal import default_journal_path
from ._sqlite_file import SQLiteFile, transaction

if TYPE_CHECKING:
    from ._jobs import Job

__all__ = [
    "JobKeys",
    "JobRecord",
    "SQLiteJobKeys",
    "check_job_key",
    "request_fingerprint",
    "submit_once",
]

MAX_KEY_LENGTH = 200


def check_job_key(key: object) -> str:
    """``key`` if it is a usable job key; :class:`ConfigurationError` otherwise."""
    if not isinstance(key, str):
        raise ConfigurationError(f"a job key is a str, not {type(key).__name__}")
    if not key.strip():
        raise ConfigurationError("a job key must not be empty")
    if len(key) > MAX_KEY_LENGTH:
        raise ConfigurationError(f"a job key has at most {MAX_KEY_LENGTH} characters")
    return key


def request_fingerprint(url: str, fmt: str) -> str:
    """What a keyed submission asked for, hashed (the data URL holds report, filter, zone)."""
    return hashlib.sha256(f"{url}\n{fmt}".encode()).hexdigest()[:32]


@attrs.frozen
class JobRecord:
    """A key's record: ``token`` is None while the owner is still submitting."""

    key: str
    request: str
    owner: str
    claimed_at: float
    token: str | None = None
    expires_at: float | None = None

    @property
    def live(self) -> bool:
        """Whether a job was recorded (the caller checks ``expires_at`` against its clock)."""
        return self.token is not None


class JobKeys(abc.ABC):
    """Where job keys are recorded (see the module docstring)."""

    @abc.abstractmethod
    async def claim(
        self, scope: str, key: str, *, request: str, owner: str, now: float, stale_after: float
    ) -> JobRecord | None:
        """Claim ``key`` for ``owner``: None when claimed, else the record found (live, or a
        fresh claim of someone else). Expired and stale records are replaced."""

    @abc.abstractmethod
    async def record(
        self, scope: str, key: str, *, owner: str, token: str, expires_at: float
    ) -> None:
        """Record the submitted job's token under the owner's claim."""

    @abc.abstractmethod
    async def release(self, scope: str, key: str, *, owner: str | None = None) -> None:
        """Drop the record (only if still ``owner``'s claim, when given)."""

    @abc.abstractmethod
    async def live(self, scope: str, *, now: float) -> list[JobRecord]:
        """The records of ``scope`` holding a job that has not expired, oldest first."""

    async def aclose(self) -> None:  # noqa: B027 - optional for stores without connections
        """Release connections (the records stay)."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _usable(found: JobRecord, *, now: float, stale_after: float) -> bool:
    if found.token is not None:
        return found.expires_at is not None and found.expires_at > now
    return found.claimed_at > now - stale_after


_SCHEMA = """
CREATE TABLE IF NOT EXISTS job_keys (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request TEXT NOT NULL,
    owner TEXT NOT NULL,
    claimed_at REAL NOT NULL,
    token TEXT,
    expires_at REAL,
    PRIMARY KEY (scope, key)
)
"""
_SELECT = "SELECT key, request, owner, claimed_at, token, expires_at FROM job_keys"


def _row(row: tuple[Any, ...]) -> JobRecord:
    key, request, owner, claimed_at, token, expires_at = row
    return JobRecord(str(key), str(request), str(owner), float(claimed_at), token, expires_at)


class SQLiteJobKeys(JobKeys):
    """Job keys in a SQLite file shared by the processes of one machine (default: beside the
    journal, ``jobs.sqlite3``). Raises :class:`TransportError` when the file fails."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, busy_timeout: float = 30.0):
        self.path = (
            Path(path) if path is not None else default_journal_path().with_name("jobs.sqlite3")
        )
        self._file = SQLiteFile(
            self.path, what="job key file", schema=_SCHEMA, version=1, busy_timeout=busy_timeout
        )

    def __repr__(self) -> str:
        return f"SQLiteJobKeys(path={str(self.path)!r})"

    async def aclose(self) -> None:
        await self._file.close()

    async def claim(
        self, scope: str, key: str, *, request: str, owner: str, now: float, stale_after: float
    ) -> JobRecord | None:
        def claim(conn: sqlite3.Connection) -> JobRecord | None:
            with transaction(conn):
                row = conn.execute(_SELECT + " WHERE scope = ? AND key = ?", (scope, key))
                found = row.fetchone()
                if found is not None:
                    record = _row(found)
                    if _usable(record, now=now, stale_after=stale_after):
                        return record
                conn.execute(
                    "INSERT OR REPLACE INTO job_keys (scope, key, request, owner, claimed_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (scope, key, request, owner, now),
                )
                return None

        return await self._file.run(claim)

    async def record(
        self, scope: str, key: str, *, owner: str, token: str, expires_at: float
    ) -> None:
        def record(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.execute(
                    "UPDATE job_keys SET token = ?, expires_at = ? "
                    "WHERE scope = ? AND key = ? AND owner = ?",
                    (token, expires_at, scope, key, owner),
                )

        await self._file.run(record)

    async def release(self, scope: str, key: str, *, owner: str | None = None) -> None:
        def release(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.execute(
                    "DELETE FROM job_keys WHERE scope = ? AND key = ? AND (? IS NULL OR owner = ?)",
                    (scope, key, owner, owner),
                )

        await self._file.run(release)

    async def live(self, scope: str, *, now: float) -> list[JobRecord]:
        def live(conn: sqlite3.Connection) -> list[JobRecord]:
            rows = conn.execute(
                _SELECT + " WHERE scope = ? AND token IS NOT NULL AND expires_at > ? "
                "ORDER BY claimed_at, key",
                (scope, now),
            )
            return [_row(r) for r in rows]

        return await self._file.run(live)


async def submit_once(
    keys: JobKeys,
    key: str,
    *,
    scope: str,
    request: str,
    clock: Clock,
    start: Callable[[], Awaitable[Job]],
    resume: Callable[[str], Awaitable[Job]],
    claim_timeout: float = 420.0,
    wait_step: float = 0.05,
) -> Job:
    """The job of ``key`` in ``scope`` (account and service): resumed if recorded, else
    submitted once by whichever caller claims the key first (see the module docstring).

    ``claim_timeout`` is how long a claim without a token holds (its owner may be waiting
    for a budget token); waiters look again every ``wait_step`` seconds, growing to 1 s.
    Raises :class:`ConfigurationError` when the key was used for another request.
    """
    owner = uuid.uuid4().hex
    step = wait_step
    while True:
        now = clock.time()
        found = await keys.claim(
            scope, key, request=request, owner=owner, now=now, stale_after=claim_timeout
        )
        if found is not None and found.request != request:
            raise ConfigurationError(
                f"job key {key!r} is recorded for another request (report, format or filter)"
            )
        if found is None:
            return await _submit(keys, key, scope=scope, owner=owner, start=start)
        if found.token is not None:
            try:
                return await resume(found.token)
            except (InvalidToken, UnsafeLink):
                # Expired, forged or for another service: never used; submit afresh.
                await keys.release(scope, key, owner=found.owner)
                continue
        await clock.sleep(step)  # another process is submitting it: wait for the token
        step = min(step * 1.5, 1.0)


async def _submit(
    keys: JobKeys, key: str, *, scope: str, owner: str, start: Callable[[], Awaitable[Job]]
) -> Job:
    try:
        job = await start()
    except BaseException:
        with anyio.CancelScope(shield=True):
            await keys.release(scope, key, owner=owner)
        raise
    if job.status_url is None or job.expires_at is None:
        # Answered at once: there is nothing to resume; the next caller submits again.
        await keys.release(scope, key, owner=owner)
        return job
    await keys.record(scope, key, owner=owner, token=job.token(), expires_at=job.expires_at)
    return job

"""Asynchronous exports (``Prefer: respond-async``): jobs, their status URLs and expiry.

Theory of operation
-------------------
A job is created at ``submitted_at`` with the request's context and export format. It is
*running* until ``ready_at`` (``submitted_at`` + its duration), then *done*; at ``expires_at``
(``submitted_at`` + ttl, one hour by default) it is *gone*: the status URL answers 404, as
the vendor's stops being valid after an hour. A job is reachable through status ids; normally
one, but when the emulator is told to move the Location on each poll, every 202 issues a fresh
id and retires the one that was polled, so a client that ignores a new Location gets a 404.
Ids are UUIDs drawn from the emulator's seeded random source.
"""

from __future__ import annotations

import enum
import random
import uuid
from collections.abc import Iterator
from typing import Any

import attrs

from ._options import QueryOptions
from ._query import ExportFormat

__all__ = ["Job", "JobState", "JobStore", "new_uuid"]


def new_uuid(rng: random.Random) -> str:
    """A version-4 UUID string from ``rng`` (deterministic for a seeded source)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class JobState(enum.Enum):
    """Where a job is at a given time."""

    RUNNING = "running"
    DONE = "done"
    GONE = "gone"


@attrs.define
class Job:
    """An asynchronous export; ``request`` is the emulator's resolved data request."""

    id: str
    account_id: str
    report_guid: str
    format: ExportFormat
    request: Any
    submitted_at: float
    ready_at: float
    expires_at: float
    polls: int = 0
    options: QueryOptions = attrs.field(factory=QueryOptions)

    def state(self, now: float) -> JobState:
        """The job's state at ``now``."""
        if now >= self.expires_at:
            return JobState.GONE
        return JobState.DONE if now >= self.ready_at else JobState.RUNNING


class JobStore:
    """Jobs by status id; see the module docstring."""

    def __init__(self, *, rng: random.Random, ttl: float) -> None:
        self._rng = rng
        self._ttl = ttl
        self._by_status_id: dict[str, Job] = {}

    def submit(
        self,
        *,
        account_id: str,
        report_guid: str,
        export_format: ExportFormat,
        request: Any,
        now: float,
        duration: float,
        options: QueryOptions | None = None,
    ) -> Job:
        """Start a job that is done ``duration`` seconds from ``now``."""
        job = Job(
            id=new_uuid(self._rng),
            account_id=account_id,
            report_guid=report_guid,
            format=export_format,
            request=request,
            submitted_at=now,
            ready_at=now + duration,
            expires_at=now + self._ttl,
            options=options or QueryOptions(),
        )
        self._by_status_id[job.id] = job
        return job

    def find(self, status_id: str, *, account_id: str) -> Job | None:
        """The job behind ``status_id`` if it belongs to ``account_id``."""
        job = self._by_status_id.get(status_id.lower())
        return job if job is not None and job.account_id == account_id else None

    def move(self, status_id: str) -> str:
        """Retire ``status_id`` and give its job a fresh one, which is returned."""
        job = self._by_status_id.pop(status_id.lower())
        fresh = new_uuid(self._rng)
        self._by_status_id[fresh] = job
        return fresh

    def __iter__(self) -> Iterator[Job]:
        return iter({id(job): job for job in self._by_status_id.values()}.values())

    def __len__(self) -> int:
        return len({id(job) for job in self._by_status_id.values()})

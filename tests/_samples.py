"""Recorded, vendor-shaped responses (``tests/samples/*.json``) and a synchronous flow runner."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

from brightmetrics_async._dry_run import Answer, SyncDriver
from brightmetrics_async._request import Request

SAMPLES = Path(__file__).parent / "samples"
BASE = "https://webapp.brightmetrics.com/OData.ashx"
CALLER_ID = "68c8e362-b2c2-6f6d-498b-af782b253239"


def sample(name: str) -> Answer:
    """The recorded answer ``samples/<name>.json``: status, headers, body (JSON or text)."""
    doc = json.loads((SAMPLES / f"{name}.json").read_text())
    body = doc["body"]
    raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    return Answer(doc["status"], doc["headers"], raw)


def replay(
    answers: Iterable[Answer | BaseException], *, now: float = 1_000_000.0
) -> tuple[SyncDriver, list[tuple[float, Request]]]:
    """A driver answering each request with the next of ``answers`` (an exception is raised
    at the send, as the transport would); also the log of (time, request) sent."""
    queue = list(answers)
    log: list[tuple[float, Request]] = []

    def respond(request: Request, at: float) -> Answer:
        log.append((at, request))
        answer = queue.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    return SyncDriver(respond, now=now), log


Respond = Callable[[Request, float], Answer]

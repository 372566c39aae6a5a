"""The job flows: a poll answered 503, 429 or a reset is a poll, counted and honoured.

Synchronously on recorded responses, then against the emulator's fault injector and log.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

import brightmetrics_async as bm
from brightmetrics_async._bodies import read_result
from brightmetrics_async._dry_run import Answer
from brightmetrics_async._fetch import Policy
from brightmetrics_async._formats import Format
from brightmetrics_async._job_flow import poll_once, submit, wait
from brightmetrics_async._polling import Accepted, JobPoller
from brightmetrics_async._request import Requests
from brightmetrics_async.testing import (
    DEMO_API_KEY,
    Emulator,
    EmulatorConfig,
    Fault,
    FaultKind,
    VirtualClock,
    serve,
)

from ._samples import BASE, CALLER_ID, replay, sample

STATUS = f"{BASE}/status/5854e5ec-0ad4-4da2-9329-7c1b0e8648ab"
SUMMARY = "03bd1235-eb2c-410f-a415-fefacd98df41"
REQUESTS = Requests(BASE, format_via="header")


class Sink:
    def __init__(self) -> None:
        self.data = b""
        self.bytes_written = 0

    def restart(self) -> None:
        self.data, self.bytes_written = b"", 0

    def write(self, data: bytes) -> None:
        self.data += data
        self.bytes_written += len(data)


def accepted(retry: bm.RetryPolicy | None = None) -> tuple[Policy, JobPoller, float]:
    policy = Policy(BASE, retry or bm.RetryPolicy(jitter=False), 300.0)
    driver, _ = replay([sample("submit_202")])
    request = REQUESTS.data(CALLER_ID, fmt=Format.CSV, purpose="submit")
    outcome = driver.run(submit(policy, request, Format.CSV, Sink()))
    assert isinstance(outcome, Accepted)
    assert outcome.status_url == STATUS
    poller = JobPoller(outcome.status_url, submitted_at=driver.now, retry_after=outcome.retry_after)
    return policy, poller, driver.now


def test_202_503_202_200_counts_every_poll_and_honours_each_retry_after() -> None:
    policy, poller, t0 = accepted()
    answers = [sample("poll_202"), sample("poll_503"), sample("poll_202"), sample("poll_200_csv")]
    driver, log = replay(answers, now=t0)
    body = driver.run(wait(policy, REQUESTS, poller, Format.CSV, read_result(policy.limits)))
    assert body.startswith(b"Call_Date_Time,Call_Type")
    assert poller.polls == len(log) == 4
    times = [t for t, _ in log]
    assert times[0] - t0 >= 5
    assert times[2] - times[1] >= 30, "the 503's Retry-After: 30 is honoured"
    assert [r.purpose for _, r in log] == ["status poll"] * 4
    assert all(dict(r.headers)["Accept"] == "text/csv" for _, r in log)


def test_after_a_failed_wait_the_next_wait_still_honours_the_failed_polls_answer() -> None:
    policy, poller, t0 = accepted(bm.RetryPolicy.never())
    driver, log = replay([sample("poll_503")], now=t0)
    with pytest.raises(bm.ApiError):
        driver.run(wait(policy, REQUESTS, poller, Format.CSV, read_result(policy.limits)))
    failed_at = log[0][0]
    assert poller.polls == 1
    again, log2 = replay([sample("poll_200_csv")], now=failed_at)
    again.run(wait(policy, REQUESTS, poller, Format.CSV, read_result(policy.limits)))
    assert log2[0][0] - failed_at >= 30
    assert poller.polls == 2


def test_a_reset_poll_is_a_poll() -> None:
    policy, poller, t0 = accepted()
    driver, log = replay([bm.TransportError("reset"), sample("poll_200_csv")], now=t0)
    driver.run(wait(policy, REQUESTS, poller, Format.CSV, read_result(policy.limits)))
    assert poller.polls == len(log) == 2


def test_a_refused_connection_is_not_a_poll_but_is_backed_off() -> None:
    policy, poller, t0 = accepted()
    refused = bm.TransportError("refused", before_send=True)
    driver, log = replay([refused, sample("poll_200_csv")], now=t0)
    driver.run(wait(policy, REQUESTS, poller, Format.CSV, read_result(policy.limits)))
    assert poller.polls == 1
    assert log[1][0] > log[0][0]


def test_poll_once_never_polls_early_and_spools_a_done_result() -> None:
    policy, poller, t0 = accepted()
    driver, log = replay([sample("poll_200_csv")], now=t0)
    sink = Sink()
    assert driver.run(poll_once(policy, REQUESTS, poller, Format.CSV, sink)) is False
    assert log == []
    driver.now = poller.next_poll_at
    assert driver.run(poll_once(policy, REQUESTS, poller, Format.CSV, sink)) is True
    assert sink.data.startswith(b"Call_Date_Time")


def test_a_submission_ignored_by_the_server_is_immediate_and_spooled() -> None:
    policy = Policy(BASE)
    driver, log = replay([sample("poll_200_csv")])
    sink = Sink()
    request = REQUESTS.data(CALLER_ID, fmt=Format.CSV, purpose="submit")
    assert dict(request.headers)["Prefer"] == "respond-async"
    assert not request.idempotent
    outcome = driver.run(submit(policy, request, Format.CSV, sink))
    assert not isinstance(outcome, Accepted)
    assert sink.data.startswith(b"Call_Date_Time")
    assert len(log) == 1


def test_a_submission_is_not_retried_after_a_500() -> None:
    driver, log = replay([Answer(500, {}, b"")] * 3)
    request = REQUESTS.data(CALLER_ID, fmt=Format.CSV, purpose="submit")
    with pytest.raises(bm.ApiError):
        driver.run(submit(Policy(BASE), request, Format.CSV, Sink()))
    assert len(log) == 1


# -- against the emulator --------------------------------------------------------------------


@asynccontextmanager
async def running(
    clock: VirtualClock, retry: bm.RetryPolicy
) -> AsyncIterator[tuple[Emulator, bm.Session]]:
    config = EmulatorConfig(job_seconds=60.0, job_retry_after=5.0, quota_limit=None)
    emulator = Emulator(config, clock=clock.time)
    async with (
        serve(emulator) as server,
        bm.Session(
            bm.ApiKey(DEMO_API_KEY),
            base_url=server.url,
            clock=clock,
            budget=bm.MemoryBudget(limit=1_000_000, clock=clock),
            retry=retry,
        ) as session,
    ):
        yield emulator, session


FAULTS = [
    Fault(FaultKind.SERVER_ERROR, "/status/", times=2, status=503),
    Fault(FaultKind.TOO_MANY_REQUESTS, "/status/", times=2, seconds=40.0),
    Fault(FaultKind.RESET_BEFORE_RESPONSE, "/status/", times=2),
]


@pytest.mark.anyio
@pytest.mark.allow_429
@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.kind.name)
async def test_polls_equal_what_the_server_saw_and_a_second_result_waits(fault: Fault) -> None:
    clock = VirtualClock()
    async with running(clock, bm.RetryPolicy(attempts=2, jitter=False)) as (emulator, s):
        job = await s.submit(SUMMARY, format="csv")
        emulator.faults.add(fault)
        with pytest.raises(bm.BrightmetricsError):
            await job.result()
        seen = [r for r in emulator.requests if "/status/" in r.target]
        assert job.polls == len(seen) == 2, "every failed poll is counted"
        failed_at = seen[-1].at
        body = await job.result()
        assert body.startswith(b"Call_Date_Time") or b"," in body
        seen = [r for r in emulator.requests if "/status/" in r.target]
        assert job.polls == len(seen)
        wait = 40.0 if fault.kind is FaultKind.TOO_MANY_REQUESTS else 5.0
        assert seen[2].at - failed_at >= wait, "the second result() honoured the last answer"


def test_a_poll_redirected_to_another_origin_is_a_poll_and_fails() -> None:
    policy, poller, t0 = accepted()
    moved = Answer(302, {"Location": "https://evil.example.com/status/1"})
    driver, log = replay([moved], now=t0)
    with pytest.raises(bm.UnsafeLink):
        driver.run(wait(policy, REQUESTS, poller, Format.CSV, read_result(policy.limits)))
    assert poller.polls == len(log) == 1

"""The session's Limits, carried by the flows' Policy: every body reader names its limit in
its command, so the dry-run driver and the network driver refuse the same bodies (the
network side is covered against live bombs in ``tests/hostile/test_bodies.py``)."""

from __future__ import annotations

import json

import pytest

import brightmetrics_async as bm
from brightmetrics_async._dry_run import Answer
from brightmetrics_async._fetch import Policy
from brightmetrics_async._formats import Format
from brightmetrics_async._job_flow import poll_once, submit
from brightmetrics_async._ops import Ops
from brightmetrics_async._polling import Accepted, JobPoller
from brightmetrics_async._request import Query, Requests

from ._samples import BASE, CALLER_ID, replay

REQUESTS = Requests(BASE, format_via="header")
SMALL = bm.Limits(page=1000, metadata=500, status=100, error=50, export=300)
STATUS = f"{BASE}/status/1"
JSON = {"Content-Type": "application/json"}


class Sink:
    def __init__(self) -> None:
        self.bytes_written = 0

    def restart(self) -> None:
        self.bytes_written = 0

    def write(self, data: bytes) -> None:
        self.bytes_written += len(data)


def ops(limits: bm.Limits = SMALL) -> Ops:
    policy = Policy(BASE, bm.RetryPolicy(jitter=False), 300.0, limits)
    return Ops(policy, REQUESTS, check_filters=False)


def page(rows: int) -> bytes:
    return json.dumps({"value": [{"n": "x" * 40}] * rows}).encode()


def test_a_page_past_limits_page_is_refused_by_name_and_not_retried() -> None:
    driver, log = replay([Answer(200, JSON, page(30))])
    with pytest.raises(bm.UnexpectedResponse, match=r"Limits\.page = 1000 bytes"):
        driver.run(ops().page(f"{BASE}/{CALLER_ID}"))
    assert len(log) == 1
    driver, _ = replay([Answer(200, JSON, page(10))])
    assert len(driver.run(ops().page(f"{BASE}/{CALLER_ID}")).rows) == 10


def test_documents_are_read_under_limits_metadata() -> None:
    body = json.dumps({"value": [{"name": "x" * 600, "kind": "EntitySet", "url": CALLER_ID}]})
    driver, _ = replay([Answer(200, JSON, body.encode())])
    with pytest.raises(bm.UnexpectedResponse, match=r"Limits\.metadata = 500"):
        driver.run(ops().reports())


def test_an_error_body_is_cut_at_limits_error_and_still_explains_the_status() -> None:
    body = b"<html><title>Bad filter</title>" + b" " * 10_000
    driver, _ = replay([Answer(400, {"Content-Type": "text/html"}, body)])
    with pytest.raises(bm.ApiError) as info:
        driver.run(ops().page(f"{BASE}/{CALLER_ID}"))
    assert info.value.status == 400


def test_an_export_stops_at_max_bytes_else_at_limits_export() -> None:
    query = Query(CALLER_ID, format=Format.CSV)
    csv = {"Content-Type": "text/csv"}
    driver, _ = replay([Answer(200, csv, b"a" * 400)])
    with pytest.raises(bm.UnexpectedResponse, match=r"Limits\.export = 300"):
        driver.run(ops().export(query, Sink()))
    driver, _ = replay([Answer(200, csv, b"a" * 400)])
    with pytest.raises(bm.UnexpectedResponse, match=r"max_bytes = 200"):
        driver.run(ops().export(query, Sink(), max_bytes=200))
    driver, _ = replay([Answer(200, csv, b"a" * 400)])
    assert driver.run(ops(bm.Limits()).export(query, Sink())) == 400


def test_a_202_body_past_limits_status_is_refused_and_its_poll_still_counts() -> None:
    policy = ops().policy
    request = REQUESTS.data(CALLER_ID, fmt=Format.CSV, purpose="submit")
    big = json.dumps({"status": "running", "pad": "x" * 200}).encode()
    driver, _ = replay([Answer(202, {**JSON, "Location": STATUS}, big)])
    with pytest.raises(bm.UnexpectedResponse, match=r"Limits\.status = 100"):
        driver.run(submit(policy, request, Format.CSV, Sink()))

    driver, _ = replay([Answer(202, {**JSON, "Location": STATUS, "Retry-After": "5"}, b"{}")])
    outcome = driver.run(submit(policy, request, Format.CSV, Sink()))
    assert isinstance(outcome, Accepted)
    poller = JobPoller(STATUS, submitted_at=driver.now, retry_after=outcome.retry_after)
    driver, log = replay([Answer(202, {**JSON, "Retry-After": "5"}, big)], now=poller.next_poll_at)
    with pytest.raises(bm.UnexpectedResponse, match=r"Limits\.status"):
        driver.run(poll_once(policy, REQUESTS, poller, Format.CSV, Sink()))
    assert poller.polls == len(log) == 1, "the server saw the poll"
    assert poller.next_poll_at > driver.now, "the next poll is planned, not due at once"


def test_an_error_answering_a_poll_is_read_under_limits_error_not_refused() -> None:
    policy = ops().policy
    poller = JobPoller(STATUS, submitted_at=1_000_000.0, retry_after=5.0)
    html = b"<html><title>Service Unavailable</title>" + b" " * 5000
    answer = Answer(503, {"Content-Type": "text/html", "Retry-After": "30"}, html)
    driver, log = replay([answer], now=poller.next_poll_at)
    with pytest.raises(bm.ApiError) as info:
        driver.run(poll_once(policy, REQUESTS, poller, Format.CSV, Sink()))
    assert info.value.status == 503
    assert poller.polls == len(log) == 1

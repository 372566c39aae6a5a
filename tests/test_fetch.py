"""The fetch flow and the page flows, run synchronously on recorded responses (no I/O)."""

from __future__ import annotations

import itertools

import pytest

import brightmetrics_async as bm
from brightmetrics_async._dry_run import Answer
from brightmetrics_async._fetch import Policy
from brightmetrics_async._ops import Ops
from brightmetrics_async._pager import Pager, pages_flow
from brightmetrics_async._request import Query, Requests

from ._samples import BASE, CALLER_ID, replay, sample

NESTED = b"[" * 100_000 + b"]" * 100_000


def ops(*, max_wait: float | None = None, retry: bm.RetryPolicy | None = None) -> Ops:
    policy = Policy(BASE, retry or bm.RetryPolicy(), max_wait)
    return Ops(policy, Requests(BASE, format_via="header"), check_filters=False)


def test_a_three_page_pull_follows_next_links_verbatim() -> None:
    driver, log = replay([sample("page_1"), sample("page_2"), sample("page_3")])
    pager = Pager(None)
    assert driver.run(pages_flow(ops(), pager, Query(CALLER_ID))) == 3
    urls = [r.url for _, r in log]
    assert urls[0] == f"{BASE}/{CALLER_ID}"
    # The $skiptoken's %3D reaches the server byte for byte.
    assert urls[1].endswith("$skiptoken=eyJJZCI6IjEiLCJOZXh0U3RhcnQiOiIyMDIxLTAyLTI2In0%3D")
    assert urls[2].endswith("$skiptoken=eyJJZCI6IjIiLCJOZXh0U3RhcnQiOiIyMDIxLTAzLTI2In0%3D")
    assert [r.purpose for _, r in log] == ["report page"] * 3
    assert all(dict(r.headers)["Accept"] == "application/json" for _, r in log)
    assert pager.next_url is None


def test_the_rows_of_each_page_come_back() -> None:
    driver, _ = replay([sample("page_1")])
    page = driver.run(ops().page(f"{BASE}/{CALLER_ID}"))
    assert [r["Caller_ID"] for r in page.rows] == ["+15550000001", "+15550000002"]
    assert page.next_link is not None


def test_a_redirect_is_followed_on_the_same_origin() -> None:
    driver, log = replay([sample("redirect_302"), sample("page_3")])
    page = driver.run(ops().page(f"{BASE}/{CALLER_ID}"))
    assert len(page.rows) == 2
    assert [r.url for _, r in log] == [f"{BASE}/{CALLER_ID}", f"{BASE}/{CALLER_ID}?moved=1"]


def test_a_redirect_to_another_origin_is_refused_before_sending() -> None:
    moved = Answer(302, {"Location": "https://evil.example.com/x"})
    driver, log = replay([moved])
    with pytest.raises(bm.UnsafeLink):
        driver.run(ops().page(f"{BASE}/{CALLER_ID}"))
    assert len(log) == 1


def test_a_cross_origin_next_link_is_refused_and_costs_nothing() -> None:
    driver, log = replay([sample("page_cross_origin")])
    with pytest.raises(bm.UnsafeLink):
        driver.run(pages_flow(ops(), Pager(None), Query(CALLER_ID)))
    assert len(log) == 1, "the foreign link was never sent"


def test_a_429_blocks_the_account_and_is_retried_after_the_block() -> None:
    driver, log = replay([sample("rate_limited_429"), sample("page_3")])
    page = driver.run(ops(max_wait=300.0).page(f"{BASE}/{CALLER_ID}"))
    assert len(page.rows) == 2
    assert len(log) == 2
    assert driver.blocked_until == pytest.approx(log[0][0] + 20)


def test_a_429_longer_than_max_wait_raises_budget_exhausted_after_recording_it() -> None:
    driver, log = replay([sample("rate_limited_429")])
    with pytest.raises(bm.BudgetExhausted):
        driver.run(ops(max_wait=5.0).page(f"{BASE}/{CALLER_ID}"))
    assert driver.blocked_until == pytest.approx(log[0][0] + 20)
    assert len(log) == 1


def test_transient_failures_are_retried_per_the_policy_with_its_retry_after() -> None:
    unavailable = Answer(503, {"Retry-After": "7"}, b"")
    driver, log = replay([unavailable, unavailable, sample("page_3")])
    driver.run(ops().page(f"{BASE}/{CALLER_ID}"))
    times = [t for t, _ in log]
    assert [round(b - a) for a, b in itertools.pairwise(times)] == [7, 7]
    driver, log = replay([unavailable] * 3)
    with pytest.raises(bm.ApiError) as info:
        driver.run(ops().page(f"{BASE}/{CALLER_ID}"))
    assert info.value.status == 503
    assert len(log) == 3, "three tries in all"


def test_a_reset_while_reading_retries_the_whole_request() -> None:
    driver, log = replay([bm.TransportError("reset"), sample("page_3")])
    driver.run(ops(retry=bm.RetryPolicy(jitter=False)).page(f"{BASE}/{CALLER_ID}"))
    assert len(log) == 2


@pytest.mark.parametrize("status", [200, 400, 404, 500, 503])
def test_a_deeply_nested_body_raises_an_error_of_the_tree(status: int) -> None:
    answer = Answer(status, {"Content-Type": "application/json"}, NESTED)
    driver, _ = replay([answer] * 3)
    with pytest.raises(bm.BrightmetricsError):
        driver.run(ops().page(f"{BASE}/{CALLER_ID}"))

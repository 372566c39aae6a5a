"""The poll policy and the job state machine, driven by a simulated server (no I/O, no sleeps)."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brightmetrics_async._errors import (
    ApiError,
    AuthenticationError,
    ConfigurationError,
    JobError,
    UnexpectedResponse,
    UnsafeLink,
)
from brightmetrics_async._poll_policy import JOB_LIFETIME, JobHistory, PollPolicy, cost_table
from brightmetrics_async._polling import (
    Accepted,
    Done,
    Expired,
    Failed,
    Immediate,
    JobPoller,
    JobState,
    Pending,
    Poll,
    Wait,
    interpret_submit,
)

BASE = "https://webapp.brightmetrics.com/OData.ashx"
REPORT_URL = f"{BASE}/0c15c8a5-128b-488b-8758-ef15868c3b5b"
STATUS = f"{BASE}/status/5854e5ec-0ad4-4da2-9329-7c1b0e8648ab"
T0 = 1_700_000_000.0

Headers = Callable[[float, int], Mapping[str, str]]


def ra_header(value: str) -> Headers:
    return lambda _now, _poll: {"Retry-After": value}


def run_job(poller: JobPoller, duration: float, headers: Headers | None = None) -> list[float]:
    """Drive ``poller`` against a server whose job is ready ``duration`` s after submission.

    Returns the poll times (seconds after submission); stops at Done or Expired.
    """
    headers = headers or ra_header("5")
    now = poller.submitted_at
    times: list[float] = []
    for _ in range(10_000):
        action = poller.next_action(now)
        if isinstance(action, Wait):
            assert action.until > now, "a Wait must move time forward"
            now = action.until
        elif isinstance(action, Poll):
            times.append(now - poller.submitted_at)
            status = 200 if now - poller.submitted_at >= duration else 202
            poller.on_response(status, headers(now, len(times)), None, now=now)
            if status == 200:
                return times
        else:
            return times
    raise AssertionError("the poller never finished")


def new_poller(**kwargs: object) -> JobPoller:
    options: dict[str, object] = {"submitted_at": T0, "retry_after": 5.0}
    options.update(kwargs)
    return JobPoller(STATUS, **options)  # type: ignore[arg-type]


# ---------------------------------------------------------------- the policy


def test_default_policy_is_frugal_with_documented_knobs() -> None:
    policy = PollPolicy()
    assert policy == PollPolicy.frugal()
    assert (policy.growth, policy.cap, policy.min_interval) == (2.0, 300.0, 2.0)
    assert policy.default_retry_after == 5.0
    assert policy.learn
    assert PollPolicy.naive().growth == 1.0
    assert not PollPolicy.naive().learn


@pytest.mark.parametrize(
    "kwargs",
    [
        {"growth": 0.5},
        {"growth": math.inf},
        {"growth": math.nan},
        {"cap": 0},
        {"min_interval": -1},
        {"default_retry_after": 0},
        {"default_retry_after": math.nan},
        {"first_poll_fraction": 0},
        {"first_poll_fraction": 3},
        {"expiry_margin": -1},
        {"expiry_margin": JOB_LIFETIME},
        {"max_polls": 0},
    ],
)
def test_bad_policy_knobs_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        PollPolicy(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("polls", range(12))
@pytest.mark.parametrize("retry_after", [1.0, 5.0, 30.0, 400.0])
def test_delay_is_capped_exponential_backoff_from_retry_after(
    polls: int, retry_after: float
) -> None:
    policy = PollPolicy(learn=False)
    want = max(retry_after, policy.min_interval, min(policy.cap, retry_after * 2.0**polls))
    assert policy.delay(polls, retry_after=retry_after, expected=None) == want


def test_server_retry_after_above_cap_wins() -> None:
    assert PollPolicy(cap=60).delay(5, retry_after=600, expected=None) == 600


@pytest.mark.parametrize("retry_after", [None, 0.0, -3.0, math.nan, math.inf])
def test_unusable_retry_after_falls_back_to_default(retry_after: float | None) -> None:
    policy = PollPolicy(default_retry_after=7.0, learn=False)
    assert policy.delay(0, retry_after=retry_after, expected=None) == 7.0


def test_min_interval_is_a_hard_floor() -> None:
    policy = PollPolicy(min_interval=2.0, learn=False)
    assert policy.delay(0, retry_after=0.5, expected=None) == 2.0


def test_no_overflow_after_many_polls() -> None:
    assert PollPolicy(cap=math.inf, learn=False).delay(5000, retry_after=5, expected=None) == (
        math.inf
    )


@pytest.mark.parametrize("duration", [10, 60, 300, 1800])
def test_default_policy_costs_far_fewer_polls_than_naive(duration: float) -> None:
    naive = PollPolicy.naive().predict_polls(duration, retry_after=5)
    frugal = PollPolicy().predict_polls(duration, retry_after=5)
    assert naive == math.ceil(duration / 5)  # the "every Retry-After" baseline
    assert frugal <= naive
    if duration >= 60:
        assert frugal * 3 <= naive
    # Doubling reaches the cap in log2(cap/ra) polls, then one poll per cap.
    bound = math.ceil(math.log2(min(duration, 300) / 5 + 1)) + 1 + duration / 300
    assert frugal <= bound


def test_cost_table_rows_match_predictions() -> None:
    policy = PollPolicy.eager()
    rows = cost_table(policy, durations=(10, 600), retry_after=5)
    assert [row.duration for row in rows] == [10.0, 600.0]
    for row in rows:
        assert row.polls == policy.predict_polls(row.duration, retry_after=5)
        assert row.naive_polls == PollPolicy.naive().predict_polls(row.duration, retry_after=5)
        assert tuple(row) == (
            row.duration,
            row.polls,
            row.naive_polls,
            row.learned_polls,
            row.stable_polls,
        )
        assert row.learned_polls == policy.predict_polls(row.duration, expected=row.duration)


def test_eager_spends_more_to_finish_sooner() -> None:
    frugal, eager = PollPolicy.frugal(), PollPolicy.eager()
    durations = range(30, 3000, 37)
    assert sum(map(eager.predict_polls, durations)) > sum(map(frugal.predict_polls, durations))
    late = {p: sum(p.schedule(d)[-1] - d for d in durations) for p in (frugal, eager)}
    assert late[eager] < late[frugal]
    # The worst lateness is bounded by each policy's cap.
    assert all(eager.schedule(d)[-1] - d <= eager.cap for d in durations)


def test_learning_cuts_polls_when_expected_is_known() -> None:
    policy = PollPolicy()
    for duration in (60, 300, 1800):
        assert policy.predict_polls(duration, expected=duration) < policy.predict_polls(duration)
    assert PollPolicy(learn=False).schedule(300, expected=300) == PollPolicy().schedule(300)


def test_job_longer_than_its_life_ends_before_expiry() -> None:
    policy = PollPolicy()
    times = policy.schedule(10 * JOB_LIFETIME)
    assert times[-1] <= JOB_LIFETIME - policy.expiry_margin
    assert times[-1] == JOB_LIFETIME - policy.expiry_margin  # the last-chance poll


@settings(max_examples=60, deadline=None)
@given(
    growth=st.floats(min_value=1.0, max_value=4.0),
    cap=st.floats(min_value=1.0, max_value=900.0),
    fraction=st.floats(min_value=0.1, max_value=1.5),
    learn=st.booleans(),
    duration=st.floats(min_value=0.0, max_value=4000.0),
    retry_after=st.floats(min_value=0.5, max_value=120.0),
    expected=st.none() | st.floats(min_value=1.0, max_value=3000.0),
)
def test_schedule_matches_the_real_state_machine(
    growth: float,
    cap: float,
    fraction: float,
    learn: bool,
    duration: float,
    retry_after: float,
    expected: float | None,
) -> None:
    policy = PollPolicy(growth=growth, cap=cap, learn=learn, first_poll_fraction=fraction)
    history = JobHistory()
    if expected is not None:
        history.record("r", expected)
    poller = JobPoller(
        STATUS,
        submitted_at=0.0,
        policy=policy,
        history=history,
        history_key="r",
        retry_after=retry_after,
    )
    times = run_job(poller, duration, ra_header(repr(retry_after)))
    assert tuple(times) == policy.schedule(duration, retry_after=retry_after, expected=expected)


# ---------------------------------------------------------------- the state machine


def test_first_poll_waits_for_retry_after_exactly_no_jitter() -> None:
    poller = new_poller(retry_after=5.0, policy=PollPolicy(learn=False))
    assert poller.next_action(T0) == Wait(T0 + 5.0)
    assert poller.next_action(T0 + 4.999) == Wait(T0 + 5.0)
    assert poller.next_action(T0 + 5.0) == Poll(STATUS)


@settings(max_examples=80, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.integers(min_value=0, max_value=400).map(lambda s: ("delta", s)),
            st.integers(min_value=0, max_value=400).map(lambda s: ("date", s)),
            st.sampled_from(["", "soon", "-1", "nan", "1e9"]).map(lambda g: ("garbage", g)),
            st.just(("missing", None)),
        ),
        min_size=1,
        max_size=30,
    ),
    initial=st.none() | st.integers(min_value=1, max_value=100),
    policy=st.sampled_from([PollPolicy.frugal(), PollPolicy.naive(), PollPolicy.eager()]),
    duration=st.integers(min_value=0, max_value=4000),
)
def test_polls_never_come_before_retry_after_nor_after_the_deadline(
    values: list[tuple[str, object]],
    initial: int | None,
    policy: PollPolicy,
    duration: int,
) -> None:
    def headers(now: float, poll: int) -> Mapping[str, str]:
        kind, value = values[(poll - 1) % len(values)]
        if kind == "delta":
            return {"Retry-After": str(value)}
        if kind == "date":
            when = datetime.fromtimestamp(now + float(str(value)), tz=UTC)
            return {"Retry-After": format_datetime(when, usegmt=True)}
        if kind == "garbage":
            return {"Retry-After": str(value)}
        return {}

    poller = new_poller(retry_after=None if initial is None else float(initial), policy=policy)
    times = run_job(poller, duration, headers)
    floor = float(initial) if initial is not None else policy.default_retry_after
    previous = 0.0
    for index, at in enumerate(times):
        assert at - previous >= max(floor, policy.min_interval) - 1e-6
        assert at <= JOB_LIFETIME - policy.expiry_margin
        kind, value = values[index % len(values)]
        seconds = float(str(value)) if kind in ("delta", "date") else 0.0
        if seconds > 0:  # an update replaces the floor; garbage/missing/0 keep the last one
            # An HTTP-date has whole seconds: up to 1 s of the wait is lost.
            floor = seconds - 1 if kind == "date" else seconds
        previous = at


def test_updated_retry_after_replaces_the_last_one() -> None:
    poller = new_poller(retry_after=5.0, policy=PollPolicy.naive())
    assert poller.next_action(T0 + 5) == Poll(STATUS)
    outcome = poller.on_response(202, {"Retry-After": "60"}, None, now=T0 + 5)
    assert outcome == Pending(STATUS, retry_after=60.0, next_poll_at=T0 + 65)
    assert poller.next_action(T0 + 64) == Wait(T0 + 65)
    assert poller.next_action(T0 + 65) == Poll(STATUS)
    poller.on_response(202, {"retry-after": "10"}, None, now=T0 + 65)
    assert poller.next_poll_at == T0 + 75
    assert poller.retry_after == 10.0


@pytest.mark.parametrize("value", ["soon", "", "-5", "NaN", "1e400", "0"])
def test_garbage_retry_after_keeps_the_default(value: str) -> None:
    accepted = interpret_submit(
        202, {"Location": STATUS, "Retry-After": value}, None, request_url=REPORT_URL, now=T0
    )
    assert isinstance(accepted, Accepted)
    poller = new_poller(retry_after=accepted.retry_after, policy=PollPolicy.naive())
    assert poller.next_action(T0) == Wait(T0 + PollPolicy().default_retry_after)
    assert poller.next_action(T0 + 5) == Poll(STATUS)
    poller.on_response(202, {"Retry-After": value}, None, now=T0 + 5)
    assert poller.next_poll_at == T0 + 10


def test_garbage_on_a_later_poll_keeps_the_last_server_value() -> None:
    poller = new_poller(retry_after=30.0, policy=PollPolicy.naive())
    poller.next_action(T0 + 30)
    poller.on_response(202, {"Retry-After": "whenever"}, None, now=T0 + 30)
    assert poller.next_poll_at == T0 + 60


def test_learning_cuts_polls_on_a_repeated_report() -> None:
    history = JobHistory()
    costs = []
    for run in range(3):
        poller = new_poller(submitted_at=T0 + 4000 * run, history=history, history_key="svc")
        costs.append(len(run_job(poller, 300)))
    assert costs[1] < costs[0]
    assert costs[2] <= costs[1]
    other = new_poller(history=history, history_key="another report")
    assert len(run_job(other, 300)) == costs[0]  # learned per key


def test_done_records_the_observed_duration() -> None:
    history = JobHistory()
    poller = new_poller(history=history, history_key="k", policy=PollPolicy.naive())
    times = run_job(poller, 12)
    assert poller.state is JobState.DONE
    assert history.durations("k") == (times[-1],)
    assert poller.polls == len(times)


def test_expired_before_the_next_poll_spends_no_request() -> None:
    # The server's 90 s floor lands past the deadline (100 - margin 15): no poll at all.
    poller = new_poller(expires_at=T0 + 100, retry_after=90.0)
    assert poller.next_action(T0) == Expired(reason="lifetime", polls=0)
    assert poller.state is JobState.EXPIRED
    assert poller.polls == 0
    with pytest.raises(JobError):
        poller.next_action(T0 + 1)


def test_backoff_past_the_deadline_is_pulled_in_once_then_expires() -> None:
    policy = PollPolicy(learn=False, expiry_margin=10)
    poller = new_poller(expires_at=T0 + 100, policy=policy)
    times = run_job(poller, duration=10_000)
    assert times[-1] == 90.0  # a last-chance poll exactly at the deadline
    assert all(b - a >= 5 for a, b in itertools.pairwise(times))
    assert poller.state is JobState.EXPIRED


def test_waking_up_past_the_deadline_expires_without_a_poll() -> None:
    poller = new_poller()
    assert isinstance(poller.next_action(T0), Wait)
    assert poller.next_action(T0 + JOB_LIFETIME) == Expired(reason="lifetime", polls=0)


def test_caller_deadline_is_honoured_and_named() -> None:
    poller = new_poller(deadline=T0 + 30, policy=PollPolicy(learn=False))
    times = run_job(poller, duration=1000)
    assert times[-1] <= 30
    assert poller.state is JobState.EXPIRED
    late = new_poller(deadline=T0 + 3)  # the 5 s floor is already past it
    assert late.next_action(T0) == Expired(reason="deadline", polls=0)


def test_max_polls_limits_the_spend() -> None:
    poller = new_poller(policy=PollPolicy(max_polls=3, learn=False))
    assert len(run_job(poller, duration=3000)) == 3
    assert poller.state is JobState.EXPIRED


def test_location_change_is_followed() -> None:
    moved = f"{BASE}/status/elsewhere"
    poller = new_poller()
    assert poller.next_action(T0 + 5) == Poll(STATUS)
    poller.on_response(202, {"Location": moved}, None, now=T0 + 5)
    assert poller.status_url == moved
    assert poller.next_action(poller.next_poll_at) == Poll(moved)
    poller.on_response(202, {}, json.dumps({"statusUrl": "relative/x"}).encode(), now=T0 + 20)
    assert poller.status_url == f"{BASE}/status/relative/x"
    assert poller.next_action(poller.next_poll_at) == Poll(f"{BASE}/status/relative/x")


def test_location_to_another_origin_fails_the_job() -> None:
    poller = new_poller()
    poller.next_action(T0 + 5)
    with pytest.raises(UnsafeLink):
        poller.on_response(202, {"Location": "https://evil.example/status/1"}, None, now=T0 + 5)
    assert poller.state is JobState.FAILED


@pytest.mark.parametrize(
    "body",
    [
        None,
        b"",
        b"not json",
        b"\xff\xfe",
        b"[1, 2]",
        b'"text"',
        b"{}",
        b'{"statusUrl": 42}',
        b'{"statusUrl": ""}',
        b'{"statusUrl": null}',
        b"[" * 100_000,
        b'{"statusUrl": "' + b"x" * 70_000 + b'"}',
    ],
)
def test_odd_202_bodies_are_ignored(body: bytes | None) -> None:
    poller = new_poller()
    poller.next_action(T0 + 5)
    outcome = poller.on_response(202, {"Retry-After": "5"}, body, now=T0 + 5)
    assert isinstance(outcome, Pending)
    assert poller.status_url == STATUS


@pytest.mark.parametrize(
    ("status", "state", "transient"),
    [
        (400, JobState.FAILED, False),
        (401, JobState.FAILED, False),
        (403, JobState.FAILED, False),
        (301, JobState.FAILED, False),
        (204, JobState.FAILED, False),
        (408, JobState.PENDING, True),
        (429, JobState.PENDING, True),
        (500, JobState.PENDING, True),
        (503, JobState.PENDING, True),
    ],
)
def test_error_statuses(status: int, state: JobState, transient: bool) -> None:
    poller = new_poller(policy=PollPolicy.naive())
    poller.next_action(T0 + 5)
    outcome = poller.on_response(status, {"Retry-After": "120"}, b"oops", now=T0 + 5)
    assert isinstance(outcome, Failed)
    assert (outcome.status, outcome.transient, outcome.retry_after) == (status, transient, 120.0)
    assert outcome.body == b"oops"
    assert poller.state is state
    assert poller.polls == 1
    if transient:
        assert poller.next_action(T0 + 100) == Wait(T0 + 125)  # the 429's Retry-After holds


@pytest.mark.parametrize("status", [404, 410])
def test_gone_is_expired(status: int) -> None:
    poller = new_poller()
    poller.next_action(T0 + 5)
    assert poller.on_response(status, {}, None, now=T0 + 5) == Expired(reason="gone", polls=1)
    assert poller.state is JobState.EXPIRED


def test_misuse_is_an_explicit_error() -> None:
    poller = new_poller()
    with pytest.raises(JobError):
        poller.on_response(202, {}, None, now=T0)  # no Poll was issued
    assert poller.next_action(T0 + 5) == Poll(STATUS)
    assert poller.next_action(T0 + 6) == Poll(STATUS)  # still outstanding, not counted twice
    done = poller.on_response(200, {}, None, now=T0 + 6)
    assert done == Done(STATUS, duration=6.0, polls=1)
    with pytest.raises(JobError):
        poller.next_action(T0 + 7)
    with pytest.raises(JobError):
        poller.on_response(200, {}, None, now=T0 + 7)


def test_resumed_poller_continues_the_backoff() -> None:
    policy = PollPolicy(learn=False)
    fresh = new_poller(policy=policy)
    run_job(fresh, duration=100)
    resumed = new_poller(policy=policy, polls=3, last_response_at=T0 + 35)
    assert resumed.next_poll_at == T0 + 35 + 5 * 2**3


# ---------------------------------------------------------------- submit


@pytest.mark.parametrize(
    ("headers", "body", "want"),
    [
        ({"Location": STATUS}, None, STATUS),
        ({"location": STATUS}, None, STATUS),
        ({}, json.dumps({"statusUrl": STATUS}).encode(), STATUS),
        ({"Location": STATUS}, b'{"statusUrl": "https://webapp.brightmetrics.com/x"}', STATUS),
        ({"Location": "status/abc"}, None, f"{BASE}/status/abc"),
        ({"Location": "/OData.ashx/status/abc"}, None, f"{BASE}/status/abc"),
        ({"Location": "  "}, b'{"statusUrl": "status/b"}', f"{BASE}/status/b"),
    ],
)
def test_submit_accepted(headers: dict[str, str], body: bytes | None, want: str) -> None:
    result = interpret_submit(
        202, {**headers, "Retry-After": "5"}, body, request_url=REPORT_URL, now=T0
    )
    assert result == Accepted(status_url=want, retry_after=5.0, accepted_at=T0)


def test_submit_retry_after_as_a_date() -> None:
    when = format_datetime(datetime.fromtimestamp(T0 + 42, tz=UTC), usegmt=True)
    result = interpret_submit(
        202, {"Location": STATUS, "Retry-After": when}, None, request_url=REPORT_URL, now=T0
    )
    assert isinstance(result, Accepted)
    assert result.retry_after == pytest.approx(42.0)


def test_submit_immediate_when_respond_async_is_ignored() -> None:
    result = interpret_submit(200, {}, b'{"value": []}', request_url=REPORT_URL, now=T0)
    assert result == Immediate()


@pytest.mark.parametrize(
    ("status", "headers", "body", "error"),
    [
        (202, {}, None, UnexpectedResponse),
        (202, {}, b"{broken", UnexpectedResponse),
        (202, {"Location": "https://evil.example/s"}, None, UnsafeLink),
        (202, {"Location": "http://webapp.brightmetrics.com/s"}, None, UnsafeLink),
        (202, {"Location": "ftp://webapp.brightmetrics.com/s"}, None, UnsafeLink),
        (202, {}, b'{"statusUrl": "//evil.example/s"}', UnsafeLink),
        (204, {}, None, UnexpectedResponse),
        (303, {"Location": STATUS}, None, UnexpectedResponse),
        (401, {}, None, AuthenticationError),
        (500, {}, b"", ApiError),
    ],
)
def test_submit_errors(
    status: int, headers: dict[str, str], body: bytes | None, error: type[Exception]
) -> None:
    with pytest.raises(error):
        interpret_submit(status, headers, body, request_url=REPORT_URL, now=T0)


# ---------------------------------------------------------------- history


def test_history_median_window_and_eviction() -> None:
    history = JobHistory(size=3, max_keys=2)
    assert history.expected("a") is None
    for duration in (100.0, 10.0, 30.0, 20.0):
        history.record("a", duration)
    assert history.durations("a") == (10.0, 30.0, 20.0)  # the oldest fell out
    assert history.expected("a") == 20.0
    history.record("a", math.nan)
    history.record("a", -1.0)
    assert history.durations("a") == (10.0, 30.0, 20.0)
    history.record("b", 1.0)
    history.record("c", 1.0)  # "a" was recorded least recently
    assert history.expected("a") is None
    assert history.expected("c") == 1.0


def test_history_low_quantile() -> None:
    history = JobHistory(quantile=0.0)
    for duration in (50.0, 40.0, 60.0):
        history.record("k", duration)
    assert history.expected("k") == 40.0


@pytest.mark.parametrize("kwargs", [{"size": 0}, {"quantile": 1.5}, {"max_keys": 0}])
def test_history_bad_arguments(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        JobHistory(**kwargs)  # type: ignore[arg-type]


# -- aiming the first poll at a learned, stable duration (#12) ---------------------------------


def test_aim_needs_enough_stable_durations() -> None:
    policy = PollPolicy()
    assert policy.aim([]) is None
    assert policy.aim([100.0, 110.0]) is None  # fewer than stable_after (3)
    assert policy.aim([100.0, 110.0, 120.0]) == 120.0  # the slowest by default
    assert policy.aim([100.0, 300.0, 120.0]) is None  # spread 200 > 0.5 x median 120
    assert PollPolicy(stable_spread=2.0).aim([100.0, 300.0, 120.0]) == 300.0
    assert PollPolicy(aim_quantile=0.5).aim([100.0, 110.0, 120.0]) == 110.0
    assert PollPolicy(learn=False).aim([100.0] * 5) is None
    assert policy.aim([0.0, float("nan"), 100.0, 100.0, 100.0]) == 100.0  # junk ignored
    for bad in ({"aim_quantile": 1.5}, {"stable_after": 0}, {"stable_spread": -1.0}):
        with pytest.raises(ConfigurationError):
            PollPolicy(**bad)


def test_an_aimed_first_poll_lands_at_the_aim_and_a_miss_backs_off() -> None:
    policy = PollPolicy()
    # Aimed: one poll for any job no slower than the aim.
    assert policy.schedule(100, expected=100, aim=120) == (120.0,)
    assert policy.predict_polls(119, expected=100, aim=120) == 1
    # Slower than the aim: the next poll backs off from there (never below Retry-After).
    times = policy.schedule(150, expected=100, aim=120)
    assert times[0] == 120.0
    assert len(times) >= 2
    assert times[-1] >= 150
    # Never earlier than the floor, even with a tiny aim.
    assert policy.schedule(1, retry_after=5, expected=1, aim=1) == (5.0,)
    # Without a learned duration the aim is not used.
    assert policy.schedule(100, aim=120) == policy.schedule(100)


def test_a_poller_aims_once_its_history_is_stable() -> None:
    history = JobHistory()
    for d in (100.0, 104.0, 110.0):
        history.record("r|csv|", d)
    poller = JobPoller(
        "https://x/status/1", submitted_at=0.0, history=history, history_key="r|csv|"
    )
    assert poller.next_poll_at == 110.0
    fresh = JobPoller("https://x/status/2", submitted_at=0.0, history=JobHistory(), history_key="k")
    assert fresh.next_poll_at == PollPolicy().delay(0, retry_after=None, expected=None)


def test_history_seed_puts_stored_durations_first() -> None:
    history = JobHistory(size=3)
    history.record("k", 5.0)
    history.seed("k", [1.0, 2.0, float("inf"), -1.0])
    assert history.durations("k") == (1.0, 2.0, 5.0)
    history.seed("k", [9.0])  # older than what is remembered: the newest three stay
    assert history.durations("k") == (1.0, 2.0, 5.0)

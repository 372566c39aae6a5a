"""``estimate_requests``: the counting rules, and agreement with what a pull really spends."""

from __future__ import annotations

import pytest

import brightmetrics_async as bm
from brightmetrics_async._estimate import DEFAULT_PAGES, estimate_requests
from brightmetrics_async.testing import DEMO_API_KEY, EmulatorConfig, EmulatorServer, VirtualClock

AGENT_DETAIL = "6f40b845-fb28-4547-b73b-e11ce29f481b"
CALLER_ID = "68c8e362-b2c2-6f6d-498b-af782b253239"
SERVICE_SUMMARY = "03bd1235-eb2c-410f-a415-fefacd98df41"
POLICY = bm.PollPolicy()


def test_service_document_only_when_a_title_must_be_resolved() -> None:
    by_guid = estimate_requests([bm.PullItem(SERVICE_SUMMARY, format="csv")], policy=POLICY)
    by_title = estimate_requests(
        [bm.PullItem("Service Summary", format="csv"), bm.PullItem("Agent Detail", format="pdf")],
        policy=POLICY,
    )
    cached = estimate_requests(
        [bm.PullItem("Service Summary", format="csv")], policy=POLICY, cached_metadata=True
    )
    report = bm.Report(name="N_x", title="T", kind="EntitySet", url=SERVICE_SUMMARY)
    as_report = estimate_requests([report], policy=POLICY, known_pages={SERVICE_SUMMARY: 1})
    assert (by_guid.total, by_guid.service_document) == (1, 0)
    assert (by_title.total, by_title.service_document) == (3, 1)
    assert (cached.total, cached.service_document) == (1, 0)
    assert (as_report.total, as_report.service_document) == (1, 0)


def test_filter_metadata_once_per_distinct_filtered_report() -> None:
    items = [
        bm.PullItem(AGENT_DETAIL, format="csv", filter="Media_Type eq 'Voice'"),
        bm.PullItem(AGENT_DETAIL, format="xlsx", filter="Media_Type eq 'Chat'"),
        bm.PullItem(CALLER_ID, format="csv", filter=bm.where(Call_Type="Inbound")),
        bm.PullItem(SERVICE_SUMMARY, format="csv", filter="  "),
    ]
    est = estimate_requests(items, policy=POLICY)
    assert est.filter_metadata == 2
    assert est.total == 2 + 4
    assert [c.kind for c in est.items] == ["download"] * 4


def test_json_pages_known_or_the_documented_default() -> None:
    items = [bm.PullItem(CALLER_ID), bm.PullItem(AGENT_DETAIL), bm.PullItem("Service Summary")]
    est = estimate_requests(items, policy=POLICY, known_pages={CALLER_ID: 9, "Service Summary": 1})
    assert [c.requests for c in est.items] == [9, DEFAULT_PAGES, 1]
    assert est.total == 1 + 9 + DEFAULT_PAGES + 1
    assert any(str(DEFAULT_PAGES) in note for note in est.notes)
    smaller = estimate_requests(items, policy=POLICY, default_pages=2, known_pages={CALLER_ID: 9})
    assert [c.requests for c in smaller.items] == [9, 2, 2]


@pytest.mark.parametrize("seconds", [1.0, 30.0, 600.0, 3000.0])
@pytest.mark.parametrize("policy", [bm.PollPolicy(), bm.PollPolicy.naive(), bm.PollPolicy.eager()])
def test_async_jobs_cost_a_submission_plus_the_policys_polls(
    seconds: float, policy: bm.PollPolicy
) -> None:
    item = bm.PullItem(AGENT_DETAIL, format="csv", use_async=True)
    est = estimate_requests([item, item], policy=policy, job_seconds=seconds, retry_after=5)
    polls = policy.predict_polls(seconds, retry_after=5)
    assert [c.requests for c in est.items] == [1 + polls] * 2
    assert est.total == 2 * (1 + polls)
    assert est.items[0].kind == "job"
    assert f"{polls} polls" in est.items[0].detail


def test_naive_polling_costs_more_for_long_jobs() -> None:
    item = bm.PullItem(AGENT_DETAIL, format="pdf", use_async=True)
    frugal = estimate_requests([item], policy=bm.PollPolicy(), job_seconds=1800)
    naive = estimate_requests([item], policy=bm.PollPolicy.naive(), job_seconds=1800)
    assert naive.total > 10 * frugal.total


def test_learned_durations_shorten_the_estimate() -> None:
    history = bm.JobHistory()
    for _ in range(3):
        history.record(f"{AGENT_DETAIL}|csv", 40.0)
    item = bm.PullItem(AGENT_DETAIL, format="csv", use_async=True)
    learned = estimate_requests([item], policy=POLICY, history=history, job_seconds=40)
    blind = estimate_requests([item], policy=POLICY, job_seconds=40)
    # Three stable durations: the first poll aims at them (#12), as the real job's poller does.
    aim = POLICY.aim([40.0] * 3)
    assert aim == 40.0
    expected = POLICY.predict_polls(40, retry_after=5, expected=40.0, aim=aim)
    assert learned.items[0].requests == 1 + expected
    assert learned.total < blind.total


def test_typed_items_add_the_columns_metadata() -> None:
    items = [bm.PullItem(SERVICE_SUMMARY), bm.PullItem(CALLER_ID)]
    est = estimate_requests(items, policy=POLICY, typed_items={1}, known_pages={CALLER_ID: 9})
    # columns() resolves a bare GUID through the service document.
    assert (est.columns_metadata, est.service_document) == (1, 1)
    assert est.total == 1 + 1 + DEFAULT_PAGES + 9
    assert estimate_requests(items, policy=POLICY, typed_items={1}, cached_metadata=True).total == (
        2 * DEFAULT_PAGES
    )


def test_fits_and_bad_arguments() -> None:
    est = estimate_requests([SERVICE_SUMMARY, AGENT_DETAIL], policy=POLICY, default_pages=3)
    assert est.total == 6
    assert est.fits(6)
    assert not est.fits(5)
    with pytest.raises(bm.ConfigurationError):
        estimate_requests([], policy=POLICY, default_pages=0)
    with pytest.raises(bm.ConfigurationError):
        estimate_requests([], policy=POLICY, job_seconds=float("inf"))
    assert estimate_requests([], policy=POLICY).total == 0


@pytest.fixture
def bm_emulator_config() -> EmulatorConfig:
    return EmulatorConfig(job_seconds=20.0, job_retry_after=5.0)


@pytest.mark.anyio
async def test_estimate_equals_what_a_pull_spends(
    bm_server: EmulatorServer, bm_clock: VirtualClock
) -> None:
    items = [
        # Forced to page (the default would choose the cheaper export: see the next test).
        bm.PullItem("Search by CallerID", use_async=False),
        bm.PullItem(AGENT_DETAIL, format="csv", filter="Media_Type eq 'Voice'"),
        bm.PullItem(AGENT_DETAIL, format="xlsx", filter="Media_Type ne 'Chat'"),
        bm.PullItem(SERVICE_SUMMARY, format="pdf", use_async=True),
        bm.PullItem(CALLER_ID, format="csv", use_async=True),
    ]
    budget = bm.MemoryBudget()
    async with bm.Session(
        bm.ApiKey(DEMO_API_KEY), base_url=bm_server.url, budget=budget, clock=bm_clock
    ) as first:
        pages = len([p async for p in first.pages(CALLER_ID)])
    async with bm.Session(
        bm.ApiKey(DEMO_API_KEY), base_url=bm_server.url, budget=budget, clock=bm_clock
    ) as s:
        est = estimate_requests(
            items,
            policy=s.poll_policy,
            known_pages={"Search by CallerID": pages},
            job_seconds=20,
            retry_after=5,
        )
        # Local checks first (as the CLI does): each filter schema is fetched once.
        for item in items:
            await s.data_url(item.report, filter=item.filter, format=item.format)
        async with s.pull_many(items) as pull:
            results = await pull.collect()
        spent = s.requests_sent
    assert all(r.ok for r in results), [r.error for r in results]
    assert est.service_document == 1
    assert est.filter_metadata == 1
    assert spent == est.total
    assert est.items[0].requests == pages > 1
    assert [r.polls for r in results][3:] == [POLICY.predict_polls(20, retry_after=5)] * 2


@pytest.mark.anyio
async def test_a_learned_estimate_counts_the_cheaper_way_a_pull_takes(
    bm_server: EmulatorServer, bm_clock: VirtualClock
) -> None:
    """After a warm run the estimate reads the knowledge store: no 10-page or 60 s guess."""
    items = [
        bm.PullItem("Search by CallerID"),  # 9 pages known: an export is cheaper
        bm.PullItem(SERVICE_SUMMARY),  # 1 page known: paging
        bm.PullItem(AGENT_DETAIL, format="csv", filter="Media_Type eq 'Voice'"),
    ]
    store = bm.MemoryKnowledge()

    def session() -> bm.Session:
        return bm.Session(
            bm.ApiKey(DEMO_API_KEY),
            base_url=bm_server.url,
            budget=bm.MemoryBudget(),
            clock=bm_clock,
            cache=store,
        )

    for _ in range(4):  # the first run learns pages, the next three a stable job duration
        async with session() as s, s.pull_many(items) as pull:
            assert all(r.ok for r in await pull.collect())
    log = bm_server.emulator.requests
    async with session() as s:
        learned = await s.learned(items)
        est = estimate_requests(items, policy=s.poll_policy, learned=learned)
        before = len(log)
        async with s.pull_many(items) as pull:
            results = await pull.collect()
    assert all(r.ok for r in results)
    assert learned.service_cached
    assert all(i.filters_cached for i in learned.items[2:])
    assert [c.kind for c in est.items] == ["job", "pages", "download"]
    assert "learned" in est.items[0].detail
    assert est.service_document == est.filter_metadata == 0
    assert not any("unknown" in c.detail for c in est.items)
    assert len(log) - before == est.total == 2 + 1 + 1

"""The dry run: the same flows as a real run, answered from what is known, sending nothing."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

import brightmetrics_async as bm
from brightmetrics_async.testing import (
    DEMO_API_KEY,
    Emulator,
    EmulatorConfig,
    EmulatorServer,
    VirtualClock,
)
from brightmetrics_async.testing._log import RequestRecord

AGENT_DETAIL = "6f40b845-fb28-4547-b73b-e11ce29f481b"
CALLER_ID = "68c8e362-b2c2-6f6d-498b-af782b253239"
SUMMARY = "03bd1235-eb2c-410f-a415-fefacd98df41"


@pytest.fixture
def bm_emulator_config() -> EmulatorConfig:
    return EmulatorConfig(job_seconds=20.0, job_retry_after=5.0)


def purpose_of(record: RequestRecord, root: str) -> str:
    """What a request the emulator saw was for, read from the request itself."""
    path = record.path
    if path.rstrip("/") == root:
        return "service document"
    if path.endswith("/$metadata"):
        return "service metadata" if path == f"{root}/$metadata" else "filter metadata"
    if "/status/" in path:
        return "status poll"
    if record.header("Prefer") == "respond-async":
        return "submit"
    if record.header("Accept") == "application/json":
        return "report page"
    return "download"


@pytest.mark.anyio
async def test_the_dry_run_and_the_real_run_send_the_same_requests(
    bm_server: EmulatorServer, bm_emulator: Emulator, bm_clock: VirtualClock
) -> None:
    items = [
        # Forced to page: left to choose, the pull takes the cheaper export once the
        # page count is learned (#12; the next tests).
        bm.PullItem(CALLER_ID, use_async=False),
        bm.PullItem(AGENT_DETAIL, format="csv", filter="Media_Type eq 'Voice'"),
        bm.PullItem("Search by CallerID", format="xlsx"),
        bm.PullItem(SUMMARY, format="pdf", use_async=True),
        bm.PullItem(AGENT_DETAIL, format="csv", filter=bm.where(Media_Type="Chat")),
    ]
    budget = bm.MemoryBudget()

    def session() -> bm.Session:
        return bm.Session(
            bm.ApiKey(DEMO_API_KEY), base_url=bm_server.url, budget=budget, clock=bm_clock
        )

    async with session() as first:
        pages = len([p async for p in first.pages(CALLER_ID)])
    assert pages > 1
    async with session() as s:
        est = await s.estimate(items, known_pages={CALLER_ID: pages}, job_seconds=20, retry_after=5)
        assert all("unknown" not in c.detail for c in est.items), "nothing is guessed"
        already = len(bm_emulator.requests)
        async with s.pull_many(items, concurrency=1) as pull:
            results = await pull.collect()
        assert all(r.ok for r in results), [r.error for r in results]
        seen = bm_emulator.requests[already:]
        root = urlsplit(s.base_url).path.rstrip("/")
        assert [r.purpose for r in est.requests] == [purpose_of(r, root) for r in seen]
        assert est.total == len(seen) == s.requests_sent - 0
        # Where the dry run builds the URL from what it knows (reports given by GUID; a title
        # resolves through a stand-in service document), it is the very URL sent, query
        # string and headers included.
        compared = 0
        for planned, record in zip(est.requests, seen, strict=True):
            known = "/dry-run-" not in planned.url
            if known and planned.purpose in ("download", "submit", "filter metadata"):
                assert planned.url.endswith(record.target), (planned.url, record.target)
                for name, value in planned.headers:
                    assert record.header(name) == value
                compared += 1
        assert compared == 4


def test_estimate_requests_is_the_dry_run_and_sends_nothing() -> None:
    est = bm.estimate_requests(
        [bm.PullItem("Agent Detail", format="csv", filter="Media_Type eq 'Voice'")],
        policy=bm.PollPolicy(),
    )
    assert [r.purpose for r in est.requests] == [
        "service document",
        "filter metadata",
        "download",
    ]
    assert est.total == 3


def test_a_dry_run_takes_what_is_known_from_a_known_object() -> None:
    class Knows:
        def document(self, key: str) -> object | None:
            return None

        def pages(self, report: bm.Report, query: bm.Query) -> int | None:
            return 4 if report.url == CALLER_ID else None

        def job_seconds(self, report: bm.Report, query: bm.Query) -> float | None:
            return 1.0

        def retry_after(self) -> float:
            return 5.0

    est = bm.estimate_requests(
        [bm.PullItem(CALLER_ID), bm.PullItem(SUMMARY, format="pdf", use_async=True)],
        policy=bm.PollPolicy(),
        known=Knows(),
    )
    assert [c.requests for c in est.items] == [4, 2]


@pytest.mark.anyio
async def test_documents_the_session_holds_cost_nothing_in_its_estimate(
    session: bm.Session,
) -> None:
    items = [bm.PullItem("Search by CallerID", format="csv", filter="Call_Type eq 'Inbound'")]
    before = await session.estimate(items)
    assert (before.service_document, before.filter_metadata, before.total) == (1, 1, 3)
    assert session.requests_sent == 0, "a dry run sends nothing"
    await session.data_url(items[0].report, filter=items[0].filter, format="csv")
    after = await session.estimate(items)
    assert (after.service_document, after.filter_metadata, after.total) == (0, 0, 1)
    assert after.requests[0].url.endswith(f"/{CALLER_ID}?$filter=Call_Type%20eq%20'Inbound'")


@pytest.mark.anyio
async def test_a_typed_job_counts_the_root_metadata_it_is_typed_with(
    bm_server: EmulatorServer, bm_emulator: Emulator, bm_clock: VirtualClock
) -> None:
    """JSON rows from a job, then typed with the root ``$metadata`` (the CLI's parquet
    ``--async``): the dry run counts that document too, in the order it is sent (#12)."""
    item = bm.PullItem(SUMMARY, use_async=True)
    async with bm.Session(
        bm.ApiKey(DEMO_API_KEY),
        base_url=bm_server.url,
        budget=bm.MemoryBudget(),
        clock=bm_clock,
        cache=bm.MemoryKnowledge(),
    ) as s:
        est = await s.estimate([item], typed_items={0}, job_seconds=20, retry_after=5)
        assert s.requests_sent == 0
        async with s.pull_many([item]) as pull:
            [result] = await pull.collect()
        assert result.ok, result.error
        assert result.use_async is True
        await s.columns(SUMMARY)
        root = urlsplit(s.base_url).path.rstrip("/")
    seen = [purpose_of(r, root) for r in bm_emulator.requests]
    assert [r.purpose for r in est.requests] == seen
    assert seen[-1] == "service metadata"
    assert est.columns_metadata == 1

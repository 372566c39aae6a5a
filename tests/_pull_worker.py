"""A bulk pull with a journal, in its own process: ``python -m tests._pull_worker``.

Arguments: URL OUT_DIR JOURNAL BUDGET [STOP_AFTER_PAGES MARKER]. The items: two asynchronous
jobs written to files, a CSV export, and a paged JSON pull to a file. With STOP_AFTER_PAGES the
process freezes itself (SIGSTOP) at a known point - both jobs submitted and journaled, the CSV
written, that many JSON pages checkpointed, no request in flight - after writing MARKER, so the
test can SIGKILL it there. Prints one JSON line per result at the end.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import brightmetrics_async as bm
from brightmetrics_async._journal import Journal
from brightmetrics_async.testing import DEMO_API_KEY

SUMMARY = "03bd1235-eb2c-410f-a415-fefacd98df41"
CALLER_ID = "68c8e362-b2c2-6f6d-498b-af782b253239"
AGENT_DETAIL = "6f40b845-fb28-4547-b73b-e11ce29f481b"


def items(out: Path) -> list[bm.PullItem]:
    """The work, the same in every run."""
    return [
        bm.PullItem(SUMMARY, format="pdf", path=out / "summary.pdf", use_async=True),
        bm.PullItem(AGENT_DETAIL, format="csv", path=out / "agents.csv", use_async=True),
        bm.PullItem(SUMMARY, format="csv", path=out / "summary.csv"),
        bm.PullItem(CALLER_ID, path=out / "callers.json", use_async=False),
    ]


async def main(argv: list[str]) -> None:
    url, out, journal_path, budget_path = argv[:4]
    stop_after = int(argv[4]) if len(argv) > 4 else None
    marker = Path(argv[5]) if len(argv) > 5 else None
    work = items(Path(out))
    submitted: set[int] = set()
    done: set[int] = set()

    def on_event(event: bm.PullEvent) -> None:
        if event.kind in ("submitted", "resumed"):
            submitted.add(event.index)
        if event.kind == "done":
            done.add(event.index)
        if (
            stop_after is not None
            and marker is not None
            and submitted == {0, 1}
            and 2 in done
            and event.kind == "page"
            and event.index == 3
            and event.pages >= stop_after
        ):
            # Every journal update above is committed; the next JSON page is not requested.
            marker.write_text("stopped")
            os.kill(os.getpid(), signal.SIGSTOP)

    async with (
        bm.SQLiteBudget(budget_path) as budget,
        Journal(journal_path) as journal,
        bm.Session(
            bm.ApiKey(DEMO_API_KEY),
            base_url=url,
            account="acme",
            budget=budget,
            retry=bm.RetryPolicy(jitter=False),
            poll_policy=bm.PollPolicy.naive(),
        ) as session,
        session.pull_many(work, concurrency=4, journal=journal, on_event=on_event) as pull,
    ):
        results = await pull.collect()
    for result in results:
        error = None if result.error is None else type(result.error).__name__
        print(json.dumps({"index": result.index, "skipped": result.skipped, "error": error}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))

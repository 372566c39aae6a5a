"""A session's estimate and way choice (#12): the dry run of its own flows, with what it knows.

``Session.estimate`` / ``Session.dry_run`` (the same thing), ``Session.learned`` and
``Session.choose_way`` delegate here. What is known comes from the session (documents it
holds, durations in :attr:`Session.job_history`) and its knowledge store (cached documents,
page counts, job durations per report, format and filter shape), read without a request; the
dry run (``_estimate.estimate_requests``) runs the pull's flows against it. No request is
ever sent from here.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from ._estimate import (
    DEFAULT_JOB_SECONDS,
    DEFAULT_PAGES,
    DEFAULT_RETRY_AFTER,
    Estimate,
    Learned,
    choose_async,
    estimate_requests,
)
from ._knowledge._plan import Learned as StoreKnown
from ._pull_items import PullItem
from ._pull_way import recorded_way

if TYPE_CHECKING:
    from ._dry_run import Known
    from ._journal import Journal
    from ._knowledge._learner import Learner
    from ._models import Report
    from ._ops import Ops
    from ._poll_policy import JobHistory, PollPolicy

__all__ = ["SessionEconomy"]


@attrs.frozen
class SessionEconomy:
    """What a session's estimate reads: its flows, its documents, its learner and history."""

    ops: Ops
    learner: Learner
    held: Callable[[str], Any]
    policy: PollPolicy
    history: JobHistory

    async def learned(self, items: Sequence[PullItem | Report | str]) -> StoreKnown:
        """What the session and its knowledge store know of ``items``; no request."""
        return await self.learner.snapshot(
            items, held=self.held, policy=self.policy, retry_after=DEFAULT_RETRY_AFTER
        )

    async def estimate(
        self,
        items: Sequence[PullItem | Report | str],
        *,
        typed_items: Collection[int] = (),
        default_pages: int = DEFAULT_PAGES,
        job_seconds: float | None = None,
        retry_after: float | None = None,
        known: Known | None = None,
        known_pages: Mapping[str, int] | None = None,
        journal: Journal | None = None,
    ) -> Estimate:
        """The dry run of pulling ``items`` (see ``Session.estimate``); no request."""
        if journal is not None:  # an item an earlier run started keeps its way
            items = [await _journaled(journal, item) for item in items]
        job_seconds = DEFAULT_JOB_SECONDS if job_seconds is None else job_seconds
        retry_after = DEFAULT_RETRY_AFTER if retry_after is None else retry_after
        if known is None and known_pages is not None:
            # Page counts given by the caller, documents this session holds.
            known = Learned(dict(known_pages), self.held, job_seconds, retry_after)
        if known is None:
            known = await self.learned(items)
        return estimate_requests(
            items,
            policy=self.policy,
            typed_items=typed_items,
            default_pages=default_pages,
            job_seconds=job_seconds,
            retry_after=retry_after,
            history=self.history,
            ops=self.ops,
            known=known,
            choose=True,
        )

    async def choose_way(self, item: PullItem) -> PullItem:
        """``item`` with ``use_async`` decided: as given, else the way the dry run predicts
        to cost fewer requests (paging while its page count is unknown); no request."""
        if item.use_async is not None:
            return item
        way = choose_async(
            item,
            policy=self.policy,
            known=await self.learned([item]),
            history=self.history,
            ops=self.ops,
        )
        return attrs.evolve(item, use_async=way)


async def _journaled(journal: Journal, item: PullItem | Report | str) -> PullItem | Report | str:
    if not isinstance(item, PullItem) or item.use_async is not None:
        return item
    return attrs.evolve(item, use_async=await recorded_way(journal, item))

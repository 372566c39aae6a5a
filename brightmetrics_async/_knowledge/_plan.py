"""What is known before a pull, and the cheaper way to run a JSON item.

:class:`Learned` is a frozen snapshot of the knowledge a session holds for some items - which
documents are cached, each item's last page count and learned job durations - taken without
a request (:meth:`Session.learned`). :func:`estimate_requests` counts with it, and
:func:`cheaper_async` uses it to choose, per JSON item of a bulk pull, between paging (one
request per page) and an asynchronous export (one submission plus its polls, the whole result
at once), whichever is predicted to cost fewer requests (a tie goes to the export while its
duration is unknown, to learn it). With no page count known, paging is chosen: it is never
worse for a one-page report, and it teaches the page count.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import attrs

from .._formats import Format
from .._poll_policy import PollPolicy
from .._pull_items import PullItem

__all__ = ["DEFAULT_JOB_SECONDS", "ItemKnowledge", "Learned", "cheaper_async", "job_cost"]

#: Seconds an asynchronous export is assumed to take when nothing was learned.
DEFAULT_JOB_SECONDS = 60.0
#: The Retry-After (seconds) assumed for the server's 202 answers (the vendor's example).
DEFAULT_RETRY_AFTER = 5.0


@attrs.frozen
class ItemKnowledge:
    """What is known of one item: its report's URL (if resolvable without a request), the
    page count of its last whole JSON pull, the learned durations of its job, and whether
    its report's filter schema is cached."""

    report_url: str | None = None
    pages: int | None = None
    durations: tuple[float, ...] = ()
    filters_cached: bool = False


@attrs.frozen
class Learned:
    """What a session knows before a pull (see the module docstring)."""

    service_cached: bool = False
    root_cached: bool = False
    items: tuple[ItemKnowledge, ...] = ()

    def item(self, index: int) -> ItemKnowledge:
        """The knowledge of item ``index`` (empty when out of range)."""
        return self.items[index] if 0 <= index < len(self.items) else ItemKnowledge()


def job_cost(
    durations: Sequence[float],
    policy: PollPolicy,
    *,
    job_seconds: float = DEFAULT_JOB_SECONDS,
    retry_after: float = DEFAULT_RETRY_AFTER,
) -> tuple[int, float, bool]:
    """(requests, assumed seconds, learned?) of one asynchronous job: 1 submission + polls."""
    expected = statistics.median(durations) if durations else None
    seconds = expected if expected is not None and policy.learn else job_seconds
    polls = policy.predict_polls(
        seconds, retry_after=retry_after, expected=expected, aim=policy.aim(durations)
    )
    return 1 + polls, seconds, expected is not None


def cheaper_async(item: PullItem, known: ItemKnowledge, policy: PollPolicy) -> bool:
    """Whether ``item`` runs as an asynchronous export: as forced, else the cheaper way."""
    if item.use_async is not None:
        return item.use_async
    # A JSON pull to a file keeps paging: today a job and the pager write different bytes
    # (one JSON-array writer is #11's), and a file must not depend on the way chosen.
    if item.format is not Format.JSON or known.pages is None or item.path is not None:
        return False
    requests, _, learned = job_cost(known.durations, policy)
    # A tie with nothing learned goes to the export: the assumed duration is pessimistic, and
    # running it once teaches the real one (a learned, stable job costs 2 requests).
    return requests < known.pages or (not learned and requests == known.pages)

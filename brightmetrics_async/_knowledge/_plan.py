"""What is known before a pull: the knowledge store's snapshot, read by the dry run.

:class:`Learned` is a frozen snapshot of the knowledge a session holds for some items - which
documents are cached (parsed), each item's last page count and learned job durations - taken
without a request (:meth:`Session.learned`). It is the :class:`~.._dry_run.Known` of
:meth:`Session.dry_run`: the estimate, and the choice per JSON item of a bulk pull between
paging and an asynchronous export (``_estimate.choose_async``: the dry run of each way).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from typing import Any

import attrs

from .._models import Report
from .._ops import SERVICE_DOCUMENT
from .._poll_policy import PollPolicy
from .._request import Query
from ._shape import filter_text, job_history_key, range_key

__all__ = ["DEFAULT_JOB_SECONDS", "ItemKnowledge", "Learned"]

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
    """What a session knows before a pull (see the module docstring).

    Also the :class:`~.._dry_run.Known` a dry run reads (#12): ``docs`` (parsed documents by
    the session's document keys), ``page_counts`` ((report URL lower case, range key) ->
    pages of the last whole pull), ``history`` (the learner's job key - report, format and
    filter shape - -> learned durations: what :meth:`job_seconds` reads), ``policy`` (to
    predict where polls aim).
    """

    service_cached: bool = False
    root_cached: bool = False
    items: tuple[ItemKnowledge, ...] = ()
    docs: Mapping[str, Any] = attrs.field(factory=dict)
    page_counts: Mapping[tuple[str, str], int] = attrs.field(factory=dict)
    history: Mapping[str, tuple[float, ...]] = attrs.field(factory=dict)
    policy: PollPolicy | None = None
    retry_after_seconds: float = DEFAULT_RETRY_AFTER

    def document(self, key: str) -> Any | None:
        """A document the session or its store holds (parsed), else None."""
        return self.docs.get(key)

    @property
    def reports(self) -> list[Report] | None:
        """The saved reports of the service document held (no request), else None."""
        reports: list[Report] | None = self.docs.get(SERVICE_DOCUMENT)
        return reports

    def pages(self, report: Report, query: Query) -> int | None:
        """The page count of the last whole pull of such a query, else None."""
        return self.page_counts.get((report.url.lower(), range_key(filter_text(query.filter))))

    def job_seconds(self, report: Report, query: Query) -> float | None:
        """How long such a job runs, as learned under the key the learner writes (report,
        format and filter shape): where the first poll aims when the durations are stable,
        else their median; None when nothing was learned."""
        key = job_history_key(report.url, query.format.value, filter_text(query.filter))
        durations = self.history.get(key)
        if not durations:
            return None
        aim = self.policy.aim(durations) if self.policy is not None else None
        return aim if aim is not None else statistics.median(durations)

    def retry_after(self) -> float:
        """The Retry-After assumed for 202 answers."""
        return self.retry_after_seconds

    def item(self, index: int) -> ItemKnowledge:
        """The knowledge of item ``index`` (empty when out of range)."""
        return self.items[index] if 0 <= index < len(self.items) else ItemKnowledge()

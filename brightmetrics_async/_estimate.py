"""How many requests a pull will spend: an honest estimate, before anything is sent.

Every request spends one of the company account's 150 daily requests, so a bulk pull should
say what it will cost before it starts. :func:`estimate_requests` counts, per the vendor's
protocol and this library's caching:

* the service document: 1 when any item names its report by title or entity-set name (a GUID,
  a report URL or a :class:`Report` needs none), or when the columns are needed for a report
  given only by GUID; 0 when the session already holds it (``cached_metadata``);
* filter metadata (``<report>/$metadata``): 1 per distinct report that has a filter (the
  schema is fetched once to check the filter locally); 0 when cached;
* the root ``$metadata``: 1 when any item's rows are typed (a parquet file needs the column
  types: ``typed_items``); 0 when cached;
* a synchronous JSON pull: 1 request per page. A page count known from an earlier run
  (``known_pages``) is used as is; otherwise ``default_pages`` (documented below);
* a synchronous download or export in any other format: 1 request;
* an asynchronous job: 1 submission plus the polls the :class:`PollPolicy` plans for a job
  of ``job_seconds`` (or the duration learned in ``history``), see
  :meth:`PollPolicy.predict_polls`. The result comes with the poll that sees it finished.

With ``learned`` (:meth:`Session.learned`: the knowledge store's snapshot, no request) the
cached documents count 0, page counts and job durations learned by earlier runs replace the
assumptions, and an item left to choose (``use_async=None``) is counted the cheaper way, as a
bulk pull will run it.

Not counted, and said so in :attr:`Estimate.notes`: retries of transient failures (each
also spends a request) and requests other processes of the account make meanwhile.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping
from typing import Literal

import attrs

from ._errors import ConfigurationError
from ._formats import Format
from ._knowledge._plan import ItemKnowledge, Learned, cheaper_async, job_cost
from ._models import Report
from ._poll_policy import JobHistory, PollPolicy
from ._pull_items import PullItem

__all__ = [
    "DEFAULT_JOB_SECONDS",
    "DEFAULT_PAGES",
    "DEFAULT_RETRY_AFTER",
    "Estimate",
    "ItemCost",
    "estimate_requests",
]

#: Pages assumed for a JSON pull whose page count is unknown. The vendor splits a detail
#: report over a long time range into time slices, one page each, and does not say how
#: long a slice is; summary reports come in one page. Ten covers about ten weeks of a
#: weekly-sliced detail report: an overestimate for summaries, on purpose.
DEFAULT_PAGES = 10
#: Seconds an asynchronous export is assumed to take when nothing was learned.
DEFAULT_JOB_SECONDS = 60.0
#: The Retry-After (seconds) assumed for the server's 202 answers (the vendor's example).
DEFAULT_RETRY_AFTER = 5.0

CostKind = Literal["pages", "download", "job"]


@attrs.frozen
class ItemCost:
    """The requests one item costs: ``kind`` says how it runs, ``detail`` how it was counted."""

    index: int
    label: str
    kind: CostKind
    requests: int
    detail: str


@attrs.frozen
class Estimate:
    """What a pull will spend: ``total`` requests, split into shared metadata and items.

    ``service_document``, ``filter_metadata`` and ``columns_metadata`` are the shared
    requests (each fetched once per session); ``items`` the per-item breakdown, in order;
    ``notes`` what the numbers assume.
    """

    total: int
    items: tuple[ItemCost, ...]
    service_document: int = 0
    filter_metadata: int = 0
    columns_metadata: int = 0
    notes: tuple[str, ...] = ()

    def fits(self, remaining: int) -> bool:
        """True when ``remaining`` budget tokens cover the whole estimate."""
        return self.total <= remaining


def _guid(ref: str) -> str | None:
    last = ref.strip().rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
    try:
        return str(uuid.UUID(last))
    except ValueError:
        return None


def _report_key(report: Report | str) -> tuple[str, bool, bool]:
    """(a key naming the report, needs the service document to resolve, has a name)."""
    if isinstance(report, Report):
        return (report.url.lower() or report.title), False, bool(report.name)
    guid = _guid(report)
    if guid is not None:
        return guid, False, False
    return report.strip(), True, True


def _pages_for(
    item: PullItem, key: str, known: Mapping[str, int], default_pages: int
) -> tuple[int, str]:
    candidates = [key]
    if isinstance(item.report, Report):
        candidates += [item.report.title, item.report.name]
    else:
        candidates.append(item.report)
    for name in candidates:
        if name and name in known:
            return max(1, int(known[name])), "pages known from an earlier run"
    return default_pages, f"page count unknown: assumed {default_pages}"


def estimate_requests(
    items: Iterable[PullItem | Report | str],
    *,
    policy: PollPolicy,
    known_pages: Mapping[str, int] | None = None,
    cached_metadata: bool = False,
    typed_items: Collection[int] = (),
    default_pages: int = DEFAULT_PAGES,
    job_seconds: float = DEFAULT_JOB_SECONDS,
    retry_after: float = DEFAULT_RETRY_AFTER,
    history: JobHistory | None = None,
    learned: Learned | None = None,
) -> Estimate:
    """Estimate the requests pulling ``items`` costs (see the module docstring for the rules).

    ``known_pages`` maps a report GUID (lower case), title or the reference exactly as an
    item gives it to its page count. ``cached_metadata``: the session already holds the
    service document, the filter schemas and the columns. ``typed_items``: the indices of
    items whose rows are typed with the root ``$metadata`` (parquet). ``history`` (e.g.
    ``session.job_history``) supplies learned job durations, keyed as the jobs record them.
    ``learned`` (``await session.learned(items)``) supplies what the knowledge store knows.

    Raises :class:`ConfigurationError` for ``default_pages < 1`` or a negative or non-finite
    ``job_seconds``.
    """
    if default_pages < 1:
        raise ConfigurationError("default_pages must be at least 1")
    if not 0 <= job_seconds < float("inf"):
        raise ConfigurationError("job_seconds must be finite and >= 0")
    known = dict(known_pages or {})
    costs: list[ItemCost] = []
    typed = set(typed_items)
    needs_service_doc = False
    filtered: set[str] = set()
    by_name = False
    for index, raw in enumerate(items):
        item = raw if isinstance(raw, PullItem) else PullItem(raw)
        info = learned.item(index) if learned is not None else ItemKnowledge()
        key, resolve, named = _report_key(item.report)
        by_name = by_name or resolve
        # Session.columns() resolves a bare GUID through the service document.
        needs_service_doc = needs_service_doc or (index in typed and not named)
        if item.filter is not None and str(item.filter).strip() and not info.filters_cached:
            filtered.add(key)
        use_async = cheaper_async(item, info, policy)
        label = f"{item.name} ({item.format.value}{', async' if use_async else ''})"
        if use_async and info.durations:
            requests, seconds, _ = job_cost(
                info.durations, policy, job_seconds=job_seconds, retry_after=retry_after
            )
            detail = f"1 submission + {requests - 1} polls (learned: about {seconds:g} s)"
            costs.append(ItemCost(index, label, "job", requests, detail))
        elif info.pages is not None and not use_async and item.format is Format.JSON:
            detail = "1 per page; pages known from an earlier run"
            costs.append(ItemCost(index, label, "pages", info.pages, detail))
        elif use_async:
            expected = history.expected(f"{key}|{item.format.value}") if history else None
            polls = policy.predict_polls(job_seconds, retry_after=retry_after, expected=expected)
            seconds = expected if expected is not None and policy.learn else job_seconds
            detail = f"1 submission + {polls} polls (a job of about {seconds:g} s)"
            costs.append(ItemCost(index, label, "job", 1 + polls, detail))
        elif item.format is Format.JSON:
            pages, why = _pages_for(item, key, known, default_pages)
            costs.append(ItemCost(index, label, "pages", pages, f"1 per page; {why}"))
        else:
            costs.append(ItemCost(index, label, "download", 1, "one request"))
    known_docs = learned is not None and learned.service_cached
    service = 0 if cached_metadata or known_docs else int(by_name or needs_service_doc)
    filters = 0 if cached_metadata else len(filtered)
    columns = int(bool(typed) and not cached_metadata and not (learned and learned.root_cached))
    notes = [
        "retries of transient failures are not counted (each spends a request too)",
        "other users and processes of the account spend the same budget meanwhile",
    ]
    if any(c.kind == "pages" and "unknown" in c.detail for c in costs):
        notes.append(
            f"a JSON pull of unknown size is counted as {default_pages} pages "
            "(summaries take 1; detail reports one per time slice)"
        )
    if any(c.kind == "job" and "learned" not in c.detail for c in costs):
        notes.append(
            f"jobs are assumed to take {job_seconds:g} s with Retry-After {retry_after:g} s "
            "unless a duration was learned"
        )
    total = service + filters + columns + sum(c.requests for c in costs)
    return Estimate(
        total=total,
        items=tuple(costs),
        service_document=service,
        filter_metadata=filters,
        columns_metadata=columns,
        notes=tuple(notes),
    )

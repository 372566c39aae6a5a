"""How many requests a pull will spend, before anything is sent: the dry run of its flows.

Every request spends one of the company account's 150 daily requests, so a bulk pull should
say what it will cost before it starts. :func:`estimate_requests` does not restate the
session's rules: it runs the very flows a pull runs (report lookup, filter check, paging,
downloads, submission and polling under the :class:`PollPolicy`) with the dry-run driver
(``_dry_run``), which answers from what is known and counts what would be sent:

* the service document, filter schemas and root ``$metadata`` cost a request each, once,
  unless known (``cached_metadata``);
* a synchronous JSON pull costs one request per page: a page count learned earlier
  (``known_pages``) is used as is; otherwise ``default_pages`` (documented below);
* a download or export in another format costs one request;
* an asynchronous job costs its submission plus the polls the :class:`PollPolicy` sends for
  a job of ``job_seconds`` (the duration learned in ``history`` shapes the plan, as in a
  real run). The result comes with the poll that sees it finished.

Not counted, and said so in :attr:`Estimate.notes`: retries of transient failures (each
also spends a request) and requests other processes of the account make meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, Literal

import attrs

from ._dry_run import DryRun, Known, stand_in
from ._errors import ConfigurationError
from ._fetch import Policy
from ._formats import Format
from ._knowledge._shape import filter_text, job_history_key
from ._models import Report
from ._ops import Ops
from ._poll_policy import JobHistory, PollPolicy
from ._protocol import guid_of
from ._pull_items import PullItem
from ._request import Query, Request, Requests

__all__ = [
    "DEFAULT_JOB_SECONDS",
    "DEFAULT_PAGES",
    "DEFAULT_RETRY_AFTER",
    "Estimate",
    "ItemCost",
    "Learned",
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
    requests: tuple[Request, ...] = attrs.field(default=(), repr=False)
    #: What was assumed because nothing was known, item by item ("Search by CallerID (json):
    #: 10 pages assumed"); empty when the estimate is what the pull will spend (#12).
    guesses: tuple[str, ...] = ()

    @property
    def exact(self) -> bool:
        """True when nothing was guessed (retries and other users aside)."""
        return not self.guesses

    def fits(self, remaining: int) -> bool:
        """True when ``remaining`` budget tokens cover the whole estimate."""
        return self.total <= remaining


class _ReadOnlyHistory:
    """What a dry run knows of job durations, never recording into the session's history:
    the session's history first, then what the knowledge store learned (``Learned.history``,
    #12), then what the dry run itself "learned" from its earlier simulated jobs - as a real
    pull learns from its earlier jobs, so a later job of the same report aims alike."""

    def __init__(self, history: JobHistory | None, known: Known | None = None) -> None:
        self._history = history
        self._stored: Mapping[str, tuple[float, ...]] = getattr(known, "history", None) or {}
        self._own = JobHistory()  # a copy the dry run records into
        self._seeded: set[str] = set()

    def _seed(self, key: str) -> JobHistory:
        if key not in self._seeded:
            self._seeded.add(key)
            found = self._history.durations(key) if self._history is not None else ()
            self._own.seed(key, found or self._stored.get(key, ()))
        return self._own

    def expected(self, key: str) -> float | None:
        return self._seed(key).expected(key)

    def durations(self, key: str) -> tuple[float, ...]:
        return self._seed(key).durations(key)

    def record(self, key: str, duration: float) -> None:
        # Only where something was learned: a pull of unknown jobs counts each the same.
        if self._seed(key).durations(key):
            self._own.record(key, duration)


@attrs.define
class Learned:
    """What is known, for a dry run: page counts by report (GUID, title or reference),
    documents held (``documents``: key -> parsed document), and job durations.

    The in-memory default of :class:`~._dry_run.Known`; a persistent store implements the
    same four methods.
    """

    known_pages: Mapping[str, int] = attrs.field(factory=dict)
    documents: Callable[[str], Any] | None = None
    job_seconds_default: float = DEFAULT_JOB_SECONDS
    retry_after_default: float = DEFAULT_RETRY_AFTER

    def document(self, key: str) -> Any | None:
        return self.documents(key) if self.documents is not None else None

    def pages(self, report: Report, query: Query) -> int | None:
        for name in (report.url, report.url.lower(), report.title, report.name):
            if name and name in self.known_pages:
                return int(self.known_pages[name])
        return None

    def job_seconds(self, report: Report, query: Query) -> float | None:
        # Not learned: the dry run assumes ``job_seconds_default`` and says so (a guess).
        return None

    def retry_after(self) -> float:
        return self.retry_after_default


_DRY_BASE = "https://dry-run.invalid/odata"


def _ref(report: Report | str) -> str:
    return report.url if isinstance(report, Report) else report


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
    ops: Ops | None = None,
    known: Known | None = None,
    learned: Known | None = None,
    choose: bool | None = None,
) -> Estimate:
    """Estimate the requests pulling ``items`` costs: the dry run of the pull's flows.

    ``known_pages`` maps a report GUID (lower case), title or the reference exactly as an
    item gives it to its page count. ``cached_metadata``: the session already holds the
    service document, the filter schemas and the columns. ``typed_items``: the indices of
    items whose rows are typed with the root ``$metadata`` (parquet). ``history`` (e.g.
    ``session.job_history``) supplies learned job durations, keyed as the jobs record them.
    ``ops`` (a session's flows) and ``known`` (a :class:`Known`) replace the stand-ins;
    ``learned`` (``await session.learned(items)``, the knowledge store's snapshot) is the
    same as ``known``. With ``choose`` (default: when ``learned`` is given) an item left to
    choose (``use_async=None``) is counted the way a bulk pull runs it (:func:`choose_async`),
    else as paging; :attr:`Estimate.guesses` says what was assumed.

    Raises :class:`ConfigurationError` for ``default_pages < 1`` or a negative or non-finite
    ``job_seconds``.
    """
    if default_pages < 1:
        raise ConfigurationError("default_pages must be at least 1")
    if not 0 <= job_seconds < float("inf"):
        raise ConfigurationError("job_seconds must be finite and >= 0")
    pull = [raw if isinstance(raw, PullItem) else PullItem(raw) for raw in items]
    refs = [_ref(item.report) for item in pull]
    choose = learned is not None if choose is None else choose
    known = known if known is not None else learned
    if known is None:
        stand = (lambda key: stand_in(key, refs)) if cached_metadata else None
        known = Learned(dict(known_pages or {}), stand, job_seconds, retry_after)
    if ops is None:
        requests = Requests(_DRY_BASE, format_via="header")
        ops = Ops(Policy(_DRY_BASE), requests, check_filters=True)
    read_only = _ReadOnlyHistory(history, known)

    def dry_run() -> DryRun:
        assert ops is not None
        assert known is not None
        dry = DryRun(
            ops,
            known,
            poll_policy=policy,
            history=read_only,
            default_pages=default_pages,
            default_job_seconds=job_seconds,
        )
        dry.refs = refs
        return dry

    dry = dry_run()
    typed = set(typed_items)
    costs: list[ItemCost] = []
    guesses: list[str] = []
    for index, item in enumerate(pull):
        if item.use_async is None:
            item = attrs.evolve(item, use_async=choose and _choose(item, dry_run))
        shared_before = _shared(dry.sent)
        spent, guessed, polls = dry.item(
            item.query, use_async=bool(item.use_async), typed=index in typed
        )
        own = spent - (_shared(dry.sent) - shared_before)
        guesses.extend(f"{item.name} ({item.format.value}): {g} assumed" for g in guessed)
        label = f"{item.name} ({item.format.value}{', async' if item.use_async else ''})"
        if item.use_async:
            ref = item.report
            name = ref.url if isinstance(ref, Report) else (guid_of(ref) or ref)
            key = job_history_key(name, item.format.value, filter_text(item.filter))  # as learned
            expected = history.expected(key) if history is not None else None
            seconds = expected if expected is not None and policy.learn else job_seconds
            if not guessed and dry.job_seconds is not None:
                learned_s = dry.job_seconds
                detail = f"1 submission + {polls} polls (learned: about {learned_s:g} s)"
            else:
                detail = f"1 submission + {polls} polls (a job of about {seconds:g} s)"
            costs.append(ItemCost(index, label, "job", own, detail))
        elif item.format is Format.JSON:
            unknown = any(g.endswith(" pages") for g in guessed)
            why = (
                f"page count unknown: assumed {default_pages}"
                if unknown
                else ("pages known from an earlier run")
            )
            costs.append(ItemCost(index, label, "pages", own, f"1 per page; {why}"))
        else:
            costs.append(ItemCost(index, label, "download", own, "one request"))
    kinds = [r.purpose for r in dry.sent]
    service = kinds.count("service document")
    filters = kinds.count("filter metadata")
    columns = kinds.count("service metadata")
    notes = [
        "retries of transient failures are not counted (each spends a request too)",
        "other users and processes of the account spend the same budget meanwhile",
    ]
    if any(c.kind == "pages" and "unknown" in c.detail for c in costs):
        notes.append(
            f"a JSON pull of unknown size is counted as {default_pages} pages "
            "(summaries take 1; detail reports one per time slice)"
        )
    if any(c.kind == "job" for c in costs):
        notes.append(
            f"jobs are assumed to take {job_seconds:g} s with Retry-After {retry_after:g} s "
            "unless a duration was learned"
        )
    return Estimate(
        total=len(dry.sent),
        items=tuple(costs),
        service_document=service,
        filter_metadata=filters,
        columns_metadata=columns,
        notes=tuple(notes),
        requests=tuple(dry.sent),
        guesses=tuple(guesses),
    )


def _own_cost(dry: DryRun, item: PullItem, use_async: bool) -> tuple[int, list[str]]:
    spent, guessed, _ = dry.item(item.query, use_async=use_async)
    return spent - _shared(dry.sent), guessed


def _choose(item: PullItem, dry_run: Callable[[], DryRun]) -> bool:
    """Whether ``item`` (``use_async=None``) runs as a job: the dry run of each way, the
    cheaper wins. A non-JSON item is one download (a job costs at least two); a JSON item of
    unknown size pages (that teaches its page count); a tie goes to the job while its
    duration is unknown (running it once teaches the duration). A JSON file chooses too: its
    journal entry records the way it took, and a resumed run keeps that way."""
    if item.use_async is not None:
        return item.use_async
    if item.format is not Format.JSON:
        return False
    paging, guessed = _own_cost(dry_run(), item, False)
    if any(g.endswith(" pages") for g in guessed):
        return False
    job, job_guessed = _own_cost(dry_run(), item, True)
    return job < paging or (job == paging and bool(job_guessed))


def choose_async(
    item: PullItem,
    *,
    policy: PollPolicy,
    known: Known,
    history: JobHistory | None = None,
    ops: Ops | None = None,
) -> bool:
    """The way a bulk pull runs ``item``: as given, else the cheaper by the dry run of each
    way against ``known`` (see :func:`estimate_requests`); no request is sent."""
    if item.use_async is not None:
        return item.use_async
    if ops is None:
        requests = Requests(_DRY_BASE, format_via="header")
        ops = Ops(Policy(_DRY_BASE), requests, check_filters=True)
    read_only = _ReadOnlyHistory(history, known)
    refs = [_ref(item.report)]

    def dry_run() -> DryRun:
        assert ops is not None
        dry = DryRun(
            ops,
            known,
            poll_policy=policy,
            history=read_only,
            default_pages=DEFAULT_PAGES,
            default_job_seconds=DEFAULT_JOB_SECONDS,
        )
        dry.refs = refs
        return dry

    return _choose(item, dry_run)


_SHARED = ("service document", "filter metadata", "service metadata")


def _shared(sent: list[Request]) -> int:
    return sum(1 for r in sent if r.purpose in _SHARED)

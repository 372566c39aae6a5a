"""How a :class:`~._session.Session` is put together: its argument checks and its parts.

:func:`wire` checks the constructor's arguments (credentials, URL, ``format_via``, limits,
``cache``) and builds, without any connection, task or event-loop binding, what the session's
methods delegate to:

* the transport and the :class:`~._driver.Driver` that spends the budget and sends;
* the request builder, the flows' :class:`~._fetch.Policy` and :class:`~._ops.Ops`;
* the knowledge store and its learner (#12), the result cache of ``max_age=`` calls and the
  :class:`~._economy.Economy` around the flows;
* the jobs' context, the telemetry observer and the job keys (#17).

:class:`Wiring` holds them and closes what the session opened (:meth:`Wiring.aclose`).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Literal

import attrs

from ._auth import Auth, auth_from_env
from ._budget import Budget, Default, SQLiteBudget
from ._clock import Clock, SystemClock
from ._driver import Driver
from ._economy import Economy
from ._errors import ConfigurationError
from ._fetch import Policy
from ._http import Timeouts, Transport
from ._job_keys import JobKeys, SQLiteJobKeys
from ._jobs import JobContext
from ._knowledge import Knowledge, KnowledgeStore, SQLiteKnowledge
from ._knowledge._learner import LearnedHistory, Learner
from ._limits import Limits
from ._ops import Ops
from ._otel_setup import telemetry_for
from ._poll_policy import PollPolicy
from ._protocol import default_account, is_loopback, origin_of
from ._request import Requests
from ._results import ResultCache, shared_results
from ._retry import RetryPolicy
from ._validate import check_session_args

if TYPE_CHECKING:
    import aiohttp

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_MAX_WAIT", "Wiring", "wire"]

DEFAULT_BASE_URL = "https://webapp.brightmetrics.com/OData.ashx"
#: How long a request of a session on the default budget waits for a token.
DEFAULT_MAX_WAIT = 300.0


@attrs.define(eq=False)
class Wiring:
    """The parts of one session (see the module docstring); built by :func:`wire`."""

    base_url: str
    account: str
    clock: Clock
    budget: Budget
    transport: Transport
    driver: Driver
    requests: Requests
    ops: Ops
    poll_policy: PollPolicy
    knowledge: Knowledge
    job_history: LearnedHistory
    learner: Learner
    results: ResultCache
    economy: Economy
    jobs: JobContext
    #: A claim of a job key outlives the longest its claimer's submission may wait for a token.
    claim_timeout: float
    owns_budget: bool
    owns_cache: bool
    job_keys: JobKeys | None  # the default file opens on first use (:meth:`keys`)
    owns_job_keys: bool

    def keys(self) -> JobKeys:
        """The job keys (#17): as given, else a :class:`SQLiteJobKeys` opened now."""
        if self.job_keys is None:
            self.job_keys = SQLiteJobKeys()
        return self.job_keys

    def job_scope(self) -> str:
        """What keyed jobs are recorded under: this account on this service."""
        return f"{self.account}\n{self.base_url}"

    async def aclose(self) -> None:
        """Flush what was learned; close the connections and the stores this session opened."""
        try:
            await self.learner.flush()  # #12: durations learned in this session
            await self.transport.aclose()
            if self.owns_job_keys and self.job_keys is not None:  # #17
                await self.job_keys.aclose()
        finally:
            if self.owns_cache and self.knowledge.store is not None:
                await self.knowledge.store.aclose()
            if self.owns_budget:
                await self.budget.aclose()


def wire(
    auth: Auth | None,
    *,
    base_url: str | None,
    account: str | None,
    budget: Budget | None,
    max_wait: float | Default | None,
    clock: Clock | None,
    session: aiohttp.ClientSession | None,
    timeouts: Timeouts | None,
    retry: RetryPolicy | None,
    poll_policy: PollPolicy | None,
    format_via: Literal["header", "query"],
    check_filters: bool,
    limits: Limits | None,
    use_reserve: bool,
    tracer_provider: Any,
    meter_provider: Any,
    propagate_trace: bool,
    telemetry: bool,
    result_cache: ResultCache | None,
    job_keys: JobKeys | None,
    cache: KnowledgeStore | Default | None,
    cache_max_age: float,
) -> Wiring:
    """Check the arguments of ``Session(...)`` and build its parts (no request, no task).

    Raises :class:`ConfigurationError` when no credentials are found or the URL is unusable,
    and ``TypeError`` for a ``cache`` of the wrong type.
    """
    auth = auth if auth is not None else auth_from_env()
    if auth is None:
        raise ConfigurationError(
            "no credentials: pass auth=, or set BRIGHTMETRICS_API_KEY or BRIGHTMETRICS_USER "
            "with BRIGHTMETRICS_PASSWORD / BRIGHTMETRICS_PASSWORD_HASH"
        )
    base = (base_url or os.environ.get("BRIGHTMETRICS_URL") or DEFAULT_BASE_URL).rstrip("/")
    scheme, host, port = origin_of(base)
    check_session_args(limits=limits, use_reserve=use_reserve)
    if format_via not in ("header", "query"):
        raise ConfigurationError("format_via must be 'header' or 'query'")
    if scheme != "https" and not is_loopback(host):
        raise ConfigurationError(
            "refusing plain HTTP to a non-loopback host: credentials would travel in clear"
        )
    account = account or default_account(host, port, auth.identity)
    the_clock: Clock = clock or SystemClock()
    # The default store is a file shared by every session and process of this machine.
    owns_budget = budget is None
    if budget is None:
        budget = SQLiteBudget(clock=clock, max_wait=DEFAULT_MAX_WAIT)
    transport = Transport(timeouts or Timeouts(), session)
    driver = Driver(
        transport,
        auth=auth,
        budget=budget,
        account=account,
        clock=the_clock,
        max_wait=max_wait,
        use_reserve=use_reserve,
    )
    requests = Requests(base, format_via=format_via)
    policy = Policy(base, retry or RetryPolicy(), driver.max_wait, limits or Limits())
    ops = Ops(policy, requests, check_filters=check_filters)
    poll_policy = poll_policy or PollPolicy()
    if cache is not None and not isinstance(cache, (KnowledgeStore, Default)):
        raise TypeError("cache must be a KnowledgeStore, None or left out")
    store = SQLiteKnowledge() if isinstance(cache, Default) else cache
    knowledge = Knowledge(store, scope=f"{account}|{base}", clock=the_clock, max_age=cache_max_age)
    job_history = LearnedHistory()
    learner = Learner(knowledge, job_history)  # #12
    driver.documents.learner = learner
    driver.limits = policy.limits  # #14: what a shared answer is read under
    # #12/#17: the one result cache of max_age= calls (read through ``read_through``).
    results = result_cache if result_cache is not None else shared_results()
    economy = Economy(driver, ops, learner, results, scope=knowledge.scope, clock=the_clock)
    jobs = JobContext(driver, policy, requests, poll_policy, job_history)
    # #17: telemetry
    driver.telemetry = telemetry_for(
        base_url=base,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        propagate=propagate_trace,
        enabled=telemetry,
    )
    limit = driver.max_wait
    return Wiring(
        base_url=base,
        account=account,
        clock=the_clock,
        budget=budget,
        transport=transport,
        driver=driver,
        requests=requests,
        ops=ops,
        poll_policy=poll_policy,
        knowledge=knowledge,
        job_history=job_history,
        learner=learner,
        results=results,
        economy=economy,
        jobs=jobs,
        claim_timeout=3600.0 if limit is None else float(limit) + 120.0,
        owns_budget=owns_budget,
        owns_cache=isinstance(cache, Default),
        job_keys=job_keys,
        owns_job_keys=job_keys is None,
    )

"""The emulator: the state of an emulated Brightmetrics OData service, and its aiohttp app.

Theory of operation
-------------------
An :class:`Emulator` owns everything a server keeps between requests: accounts and their saved
reports, one seeded dataset per account (built on first use), the per-company quota logs,
paging contexts, asynchronous jobs, the fault injector and the request log. It reads the time
only through ``clock`` (Unix seconds), so a test can move through hours at will. Constructing
one does no I/O and starts nothing; :meth:`Emulator.app` builds an aiohttp application over
it, and ``serve()`` runs that on a loopback port. Several apps may share one emulator.
"""

from __future__ import annotations

import random
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from aiohttp import web

from ._accounts import DEMO_ACCOUNT as _DEMO
from ._accounts import OTHER_ACCOUNT as _OTHER
from ._accounts import Accounts
from ._clock import scaled
from ._config import Duration, EmulatorConfig
from ._dataset import Dataset
from ._faults import Faults
from ._jobs import Job, JobStore
from ._log import RequestRecord
from ._options import QueryOptions
from ._paging import PagingStore
from ._query import ExportFormat
from ._quota import Quota, QuotaStatus
from ._reports import Report, by_guid, default_reports, other_account_reports

if TYPE_CHECKING:
    from ._data import DataRequest

__all__ = ["Emulator"]


class Emulator:
    """An in-process Brightmetrics OData service (see the module docstring).

    ``accounts`` defaults to the demo registry (``DEMO_*``, ``SECOND_*`` and ``OTHER_*``
    credentials). Accounts without reports of their own see the default saved reports.
    ``clock`` is the emulator's time unless ``config.clock_speed`` speeds it up; then
    ``real_clock`` is ``clock`` and ``clock`` runs that many times faster from now on.
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
        accounts: Accounts | None = None,
    ) -> None:
        self.config = config or EmulatorConfig()
        self.real_clock = clock
        self.clock = scaled(clock, self.config.clock_speed)
        self.accounts = accounts if accounts is not None else Accounts.demo()
        self.quota = Quota(limit=self.config.quota_limit, period=self.config.quota_period)
        self.rng = random.Random(self.config.seed)  # ids and job durations
        self.jobs = JobStore(rng=self.rng, ttl=self.config.job_ttl)
        self.paging = PagingStore(ttl=self.config.skiptoken_ttl)
        self.faults = Faults(seed=self.config.seed)
        self.requests: list[RequestRecord] = []
        self._anchor = self.clock()  # "now" for the datasets, fixed so they do not drift
        self._reports: dict[str, tuple[Report, ...]] = {
            _DEMO: default_reports(),
            _OTHER: other_account_reports(),
        }
        self._datasets: dict[str, Dataset] = {}

    def __repr__(self) -> str:
        return f"Emulator(seed={self.config.seed}, requests={len(self.requests)})"

    def app(self) -> web.Application:
        """A new aiohttp application serving this emulator."""
        from ._handlers import build_app  # the handlers import this module's type

        return build_app(self)

    # -- reports and data --------------------------------------------------------------------

    def reports_for(self, account: str) -> tuple[Report, ...]:
        """The saved reports ``account`` sees, in service-document order."""
        return self._reports.get(account, default_reports())

    def reports_by_guid(self, account: str) -> Mapping[str, Report]:
        """``account``'s reports by lower-case GUID."""
        return by_guid(self.reports_for(account))

    def set_reports(self, account: str, reports: Iterable[Report]) -> None:
        """Replace the saved reports ``account`` sees."""
        self._reports[account] = tuple(reports)

    def dataset(self, account: str) -> Dataset:
        """``account``'s dataset, built on first use from the seed and the account id."""
        if account not in self._datasets:
            self._datasets[account] = Dataset(
                seed=self.config.seed + zlib.crc32(account.encode()),
                now=self._anchor,
                calls=self.config.calls,
                days=self.config.history_days,
                clock=self.clock,
            )
        return self._datasets[account]

    # -- quota -------------------------------------------------------------------------------

    def reset_quota(self, account: str) -> None:
        """Forget ``account``'s requests, like the reset button under My Account."""
        self.quota.reset(account)

    def quota_status(self, account: str) -> QuotaStatus:
        """A snapshot of ``account``'s quota now."""
        return self.quota.status(account, self.clock())

    def quota_counts(self) -> dict[str, int]:
        """Requests counted in the current window, per company account."""
        return self.quota.counts(self.clock())

    # -- jobs --------------------------------------------------------------------------------

    def submit_job(
        self,
        account: str,
        request: DataRequest,
        export_format: ExportFormat,
        options: QueryOptions | None = None,
    ) -> Job:
        """Start an asynchronous export of ``request``; it takes the configured duration."""
        guid = request.report.guid
        duration = self._draw(self.config.job_seconds_by_report.get(guid, self.config.job_seconds))
        return self.jobs.submit(
            account_id=account,
            report_guid=guid,
            export_format=export_format,
            request=request,
            now=self.clock(),
            duration=duration,
            options=options,
        )

    def _draw(self, duration: Duration) -> float:
        if isinstance(duration, tuple):
            low, high = duration
            return self.rng.uniform(low, high)
        return float(duration)

    # -- request log -------------------------------------------------------------------------

    def requests_to(self, path_contains: str) -> list[RequestRecord]:
        """Logged requests whose raw target contains ``path_contains``."""
        return [r for r in self.requests if path_contains in r.target]

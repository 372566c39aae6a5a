"""The emulator's knobs, as one frozen value."""

from __future__ import annotations

from collections.abc import Mapping

import attrs

__all__ = ["Duration", "EmulatorConfig"]

Duration = float | tuple[float, float]
"""Seconds, or a ``(low, high)`` range drawn from the emulator's seeded random source."""


def _durations(value: Mapping[str, Duration]) -> dict[str, Duration]:
    return {guid.lower(): seconds for guid, seconds in value.items()}


@attrs.frozen
class EmulatorConfig:
    """How the emulator behaves. Every default is the vendor's documented behaviour.

    Data: ``seed`` makes everything reproducible; ``calls`` and ``history_days`` size the
    dataset; ``export_min_bytes`` repeats rows in CSV exports until at least that many bytes
    were sent (for memory benchmarks).

    Paging: detail reports requested as JSON are split into ``slice_seconds`` time slices
    (None: one slice) and pages of at most ``page_max_rows`` rows (None: no row limit); paging
    contexts live ``skiptoken_ttl`` seconds.

    Quota: ``quota_limit`` requests per ``quota_period`` seconds per company (None: unlimited).

    Asynchronous exports: a job takes ``job_seconds`` (or the per-report-GUID override in
    ``job_seconds_by_report``); 202 answers carry ``Retry-After: job_retry_after`` (as an
    HTTP-date when ``retry_after_http_date``); status URLs live ``job_ttl`` seconds.
    ``ignore_respond_async`` answers 200 at once; ``omit_location`` / ``omit_status_url`` drop
    the header / body field; ``move_location`` gives a new status URL on every 202 poll (the
    polled one stops working); ``preference_applied`` adds ``Preference-Applied``.

    Guesses where the document is silent (see the README): ``strict_query_options`` refuses
    ``$top``, ``$skip``, ``$select``, ``$count`` and ``$orderby`` with 400 instead of answering
    them as OData 4.0 says; ``plus_in_query`` is what a literal ``+`` in a query value means:
    ``"reject"`` (400, so code that forgets ``%2B`` fails here first), ``"plus"`` or
    ``"space"``; ``service_context`` is the service document's ``@odata.context``: ``"vendor"``
    (``https://host/$metadata``, as the document's example) or ``"root"`` (under the service
    root, as OData 4.0 says). ``clock_speed`` makes the emulator's time run that many times
    faster than its clock (a job's hour or the quota's 24 hours pass in minutes);
    ``Retry-After`` values computed from the emulator's time are given in real seconds.

    Raises ValueError if ``root_path`` does not start with ``/`` or ends with one, or for an
    unknown ``plus_in_query`` / ``service_context`` or a ``clock_speed`` that is not positive.
    """

    seed: int = 0
    root_path: str = "/OData.ashx"
    calls: int = 3000
    history_days: int = 120
    export_min_bytes: int | None = None
    slice_seconds: float | None = 7 * 86400.0
    page_max_rows: int | None = None
    skiptoken_ttl: float = 3600.0
    quota_limit: int | None = 150
    quota_period: float = 86400.0
    job_seconds: Duration = 5.0
    job_seconds_by_report: Mapping[str, Duration] = attrs.field(
        factory=dict, converter=_durations, hash=False
    )
    job_retry_after: float = 5.0
    retry_after_http_date: bool = False
    job_ttl: float = 3600.0
    ignore_respond_async: bool = False
    omit_location: bool = False
    omit_status_url: bool = False
    move_location: bool = False
    preference_applied: bool = False
    strict_query_options: bool = False
    plus_in_query: str = "reject"
    service_context: str = "vendor"
    clock_speed: float = 1.0

    def __attrs_post_init__(self) -> None:
        if not self.root_path.startswith("/") or self.root_path.endswith("/"):
            raise ValueError("root_path must start with '/' and not end with one")
        if self.plus_in_query not in ("reject", "plus", "space"):
            raise ValueError("plus_in_query must be 'reject', 'plus' or 'space'")
        if self.service_context not in ("vendor", "root"):
            raise ValueError("service_context must be 'vendor' or 'root'")
        if not self.clock_speed > 0:
            raise ValueError("clock_speed must be positive")

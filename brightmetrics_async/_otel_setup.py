"""Which observer a session gets: OpenTelemetry's when its API is installed, else none.

Apart from ``_otel`` so that ``_otel_api`` (the only module importing OpenTelemetry, imported
here lazily) and ``_otel`` do not import each other.

On OpenTelemetry's global providers, the session's observer is *deferred*: until the
application (or its SDK, or ``opentelemetry-instrument``) has imported OpenTelemetry, nobody
can have configured a provider, so requests take the null path and OpenTelemetry is not
imported at all (importing it costs a process about 7 ms of CPU). The first request after it
is imported builds the real observer, which from then on checks the providers itself.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
from typing import Any

from ._otel import NO_TELEMETRY, NULL_CALL, Operation, RequestCall, Telemetry

__all__ = ["otel_available", "telemetry_for"]

# What OpenTelemetry reads to set a global provider without the application importing it.
_PROVIDER_VARIABLES = ("OTEL_PYTHON_TRACER_PROVIDER", "OTEL_PYTHON_METER_PROVIDER")
_MODULES = ("opentelemetry.trace", "opentelemetry.metrics")


def otel_available() -> bool:
    """Whether the ``opentelemetry`` API can be imported (without importing it)."""
    try:
        return importlib.util.find_spec("opentelemetry.trace") is not None
    except (ImportError, ValueError):
        return False


def telemetry_for(
    *,
    base_url: str,
    tracer_provider: Any = None,
    meter_provider: Any = None,
    propagate: bool = False,
    enabled: bool = True,
) -> Telemetry:
    """An OpenTelemetry observer of the service at ``base_url``, or :data:`NO_TELEMETRY` when
    the API is not installed (or ``enabled=False``). Providers default to the global ones."""
    if not enabled or not otel_available():
        return NO_TELEMETRY
    on_globals = tracer_provider is None and meter_provider is None
    if on_globals and not _imported() and not any(os.environ.get(v) for v in _PROVIDER_VARIABLES):
        return _Deferred(base_url=base_url, propagate=propagate)
    return _otel(base_url, tracer_provider, meter_provider, propagate)


def _imported() -> bool:
    modules = sys.modules
    return _MODULES[0] in modules or _MODULES[1] in modules


def _otel(base_url: str, tracer_provider: Any, meter_provider: Any, propagate: bool) -> Telemetry:
    from ._otel_api import OtelTelemetry

    return OtelTelemetry(
        base_url=base_url,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        propagate=propagate,
    )


class _Deferred(Telemetry):
    """The null observer until OpenTelemetry is imported, then the real one on the globals."""

    def __init__(self, *, base_url: str, propagate: bool) -> None:
        self.base_url = base_url
        self._propagate = propagate
        self._real: Telemetry | None = None

    def _resolve(self) -> Telemetry | None:
        real = self._real
        if real is None and _imported():
            real = self._real = _otel(self.base_url, None, None, self._propagate)
        return real

    def request(
        self, purpose: str, url: str, *, method: str = "GET"
    ) -> contextlib.AbstractContextManager[RequestCall]:
        real = self._real or self._resolve()
        if real is None:
            return NULL_CALL
        return real.request(purpose, url, method=method)

    # operating() and poll() are the base class's, built on operation() and the current
    # operation: only what reaches OpenTelemetry is forwarded.
    def operation(self, name: str, *, report: str | None = None) -> Operation:
        real = self._resolve()
        if real is None:
            return super().operation(name, report=report)
        return real.operation(name, report=report)

    def job_finished(self, *, seconds: float, polls: int, report: str, format: str) -> None:  # noqa: A002
        real = self._resolve()
        if real is not None:
            real.job_finished(seconds=seconds, polls=polls, report=report, format=format)

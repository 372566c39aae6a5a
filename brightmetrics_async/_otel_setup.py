"""Which observer a session gets: OpenTelemetry's when its API is installed, else none.

Apart from ``_otel`` so that ``_otel_api`` (the only module importing OpenTelemetry, imported
here lazily) and ``_otel`` do not import each other.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from ._otel import NO_TELEMETRY, Telemetry

__all__ = ["otel_available", "telemetry_for"]


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
    from ._otel_api import OtelTelemetry

    return OtelTelemetry(
        base_url=base_url,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        propagate=propagate,
    )

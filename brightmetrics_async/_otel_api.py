"""The OpenTelemetry-backed observer; imported by ``_otel_setup.telemetry_for`` when installed."""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, MutableMapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation

from ._otel import (
    _SCOPE,
    NO_TELEMETRY,
    Operation,
    RequestCall,
    Telemetry,
    _current,
    kind_of,
    report_of,
)
from ._otel import safe_url as _safe_url
from ._protocol import origin_of
from ._version import VERSION as _VERSION

__all__ = ["OtelTelemetry"]


# One observable gauge per meter provider, fed by every observer on it: OpenTelemetry warns
# about (and may drop) a second instrument of the same name.
_gauges_lock = threading.Lock()
_gauges: weakref.WeakKeyDictionary[Any, dict[str, int]] = weakref.WeakKeyDictionary()


def _remaining_for(provider: Any) -> dict[str, int]:
    with _gauges_lock:
        values = _gauges.get(provider)
        if values is None:
            values = _gauges[provider] = {}
            found = values

            def observe(_: CallbackOptions) -> Iterable[Observation]:
                return [Observation(n, {"brightmetrics.account": a}) for a, n in found.items()]

            provider.get_meter(_SCOPE, _VERSION).create_observable_gauge(
                "brightmetrics.budget.remaining",
                callbacks=[observe],
                unit="{request}",
                description="Requests left in the account's rolling-window budget",
            )
        return values


class OtelTelemetry(Telemetry):
    """Spans and metrics through the OpenTelemetry API (see ``_otel``)."""

    enabled = True

    def __init__(
        self, *, base_url: str, tracer_provider: Any, meter_provider: Any, propagate: bool
    ) -> None:
        self.base_url = base_url
        # On the global providers, check per request whether the application configured them
        # yet: until it does, requests take the null path (no span objects, no attributes).
        self._on_globals = tracer_provider is None and meter_provider is None
        tracer_provider = tracer_provider or trace.get_tracer_provider()
        meter_provider = meter_provider or metrics.get_meter_provider()
        self.propagate = propagate
        self._tracer = tracer_provider.get_tracer(_SCOPE, _VERSION)
        meter = meter_provider.get_meter(_SCOPE, _VERSION)
        self._requests = meter.create_counter(
            "brightmetrics.requests", unit="{request}", description="Requests sent, by kind"
        )
        self._job_duration = meter.create_histogram(
            "brightmetrics.job.duration", unit="s", description="Submission to result of a job"
        )
        self._job_polls = meter.create_histogram(
            "brightmetrics.job.polls", unit="{request}", description="Status polls per job"
        )
        self._budget_wait = meter.create_histogram(
            "brightmetrics.budget.wait", unit="s", description="Waits for a budget token"
        )
        self._remaining = _remaining_for(meter_provider)
        self._origin = origin_of(base_url)[1:]

    def _parent(self) -> otel_context.Context | None:
        op = _current.get()
        return trace.set_span_in_context(op.span) if op is not None and op.span else None

    def request(
        self, purpose: str, url: str, *, method: str = "GET"
    ) -> contextlib.AbstractContextManager[RequestCall]:
        if self._on_globals and _unconfigured():
            return NO_TELEMETRY.request(purpose, url, method=method)
        return self._request(purpose, url, method=method)

    @contextlib.contextmanager
    def _request(self, purpose: str, url: str, *, method: str = "GET") -> Iterator[RequestCall]:
        kind = kind_of(purpose)
        op = _current.get()
        report = report_of(url, self.base_url) or (op.report if op is not None else None)
        host, port = self._origin
        attributes: dict[str, str | int] = {
            "http.request.method": method,
            "server.address": host,
            "server.port": port,
            "url.full": _safe_url(url),
            "brightmetrics.request.kind": kind,
        }
        if report:
            attributes["brightmetrics.report"] = report
        span = self._tracer.start_span(
            method, context=self._parent(), kind=trace.SpanKind.CLIENT, attributes=attributes
        )
        call = RequestCall(self, span, kind)
        outcome = "ok"
        try:
            yield call
        except BaseException as exc:
            outcome = _error_type(exc, call.status)
            span.set_attribute("error.type", outcome)
            self._set_error(span, exc)
            raise
        finally:
            if outcome == "ok" and call.status is not None and call.status >= 400:
                outcome = str(call.status)
                span.set_attribute("error.type", outcome)
            span.end()
            self._requests.add(
                1,
                {
                    "brightmetrics.request.kind": kind,
                    "brightmetrics.outcome": "ok" if outcome == "ok" else "error",
                    **({} if outcome == "ok" else {"error.type": outcome}),
                },
            )

    def operation(self, name: str, *, report: str | None = None) -> Operation:
        if self._on_globals and _unconfigured():
            return NO_TELEMETRY.operation(name, report=report)
        attributes = {"brightmetrics.operation": name}
        if report:
            attributes["brightmetrics.report"] = report
        span = self._tracer.start_span(
            f"brightmetrics {name}", context=self._parent(), attributes=attributes
        )
        return Operation(self, span, report)

    def job_finished(self, *, seconds: float, polls: int, report: str, format: str) -> None:  # noqa: A002
        attributes = {"brightmetrics.report": report, "brightmetrics.format": format}
        self._job_duration.record(max(seconds, 0.0), attributes)
        self._job_polls.record(polls, attributes)

    def _set_error(self, span: Any, error: BaseException) -> None:
        # The type only: an error's message may quote a server body; never the traceback.
        span.set_status(trace.Status(trace.StatusCode.ERROR, type(error).__qualname__))

    def _inject(self, span: Any, headers: MutableMapping[str, str]) -> None:
        # Imported on first use: loading the configured propagators reads the installed
        # packages' entry points (about 10 ms), and most sessions never propagate.
        from opentelemetry import propagate

        propagate.inject(headers, context=trace.set_span_in_context(span))


_checked = {"at": -1.0, "unconfigured": True}


def _unconfigured() -> bool:
    """Whether both global providers are still OpenTelemetry's placeholders (no SDK set).

    Looked up at most once a second while they are (the lookup reads the environment), and
    never again once one is set: OpenTelemetry's global providers are set only once.
    """
    if not _checked["unconfigured"]:
        return False
    now = time.monotonic()
    if now - _checked["at"] >= 1.0:
        _checked["at"] = now
        _checked["unconfigured"] = isinstance(
            trace.get_tracer_provider(), (trace.ProxyTracerProvider, trace.NoOpTracerProvider)
        ) and type(metrics.get_meter_provider()).__name__ in (
            "_ProxyMeterProvider",
            "NoOpMeterProvider",
        )
    return bool(_checked["unconfigured"])


def _error_type(exc: BaseException, status: int | None) -> str:
    if status is not None and status >= 400:
        return str(status)
    return type(exc).__qualname__

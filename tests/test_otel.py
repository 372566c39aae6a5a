"""OpenTelemetry: spans and metrics of a three-page pull and an async job, with the SDK's
in-memory exporter and reader; no secret anywhere; no trace context sent unless asked; and
nothing of OpenTelemetry imported when it is not installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")  # the otel extra and the SDK (in the test extra)

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

import brightmetrics_async as bm
from brightmetrics_async._otel import NO_TELEMETRY, kind_of, report_of, safe_url
from brightmetrics_async.testing import (
    DEMO_API_KEY,
    Emulator,
    EmulatorConfig,
    EmulatorServer,
    VirtualClock,
    serve,
)

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parent.parent
CALLER_ID = "68c8e362-b2c2-6f6d-498b-af782b253239"
SUMMARY = "03bd1235-eb2c-410f-a415-fefacd98df41"


class Otel:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def finished(self) -> tuple[ReadableSpan, ...]:
        return self.spans.get_finished_spans()

    def metrics(self) -> dict[str, list[tuple[dict[str, Any], Any]]]:
        data = self.reader.get_metrics_data()
        out: dict[str, list[tuple[dict[str, Any], Any]]] = {}
        assert data is not None
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    for point in metric.data.data_points:
                        out.setdefault(metric.name, []).append(
                            (dict(point.attributes or {}), point)
                        )
        return out


@pytest.fixture
def otel() -> Iterator[Otel]:
    o = Otel()
    yield o
    o.tracer_provider.shutdown()
    o.meter_provider.shutdown()


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
async def server(clock: VirtualClock) -> AsyncIterator[EmulatorServer]:
    config = EmulatorConfig(
        quota_limit=None, slice_seconds=21 * 86400.0, job_seconds=4.0, job_retry_after=1
    )
    async with serve(Emulator(config, clock=clock.time)) as srv:
        yield srv


def session(
    server: EmulatorServer, otel: Otel, tmp_path: Path, clock: VirtualClock, **kw: Any
) -> bm.Session:
    return bm.Session(
        bm.ApiKey(DEMO_API_KEY),
        base_url=server.url,
        budget=bm.SQLiteBudget(tmp_path / "budget.sqlite3", clock=clock),
        clock=clock,
        tracer_provider=otel.tracer_provider,
        meter_provider=otel.meter_provider,
        poll_policy=bm.PollPolicy.naive(),
        **kw,
    )


async def test_a_three_page_pull_and_a_job_give_spans_and_metrics(
    server: EmulatorServer, otel: Otel, tmp_path: Path, clock: VirtualClock
) -> None:
    async with session(server, otel, tmp_path, clock) as s:
        rows = s.rows(CALLER_ID)
        got = [row async for row in rows]
        assert got
        assert rows.pages.pages_read == 3
        job = await s.submit(SUMMARY, format="csv")
        await job.result()
        polls = job.polls
    assert polls >= 2
    spans = otel.finished()
    requests = [sp for sp in spans if sp.kind.name == "CLIENT"]
    # One client span per request the emulator saw.
    assert len(requests) == len(server.emulator.requests) == 3 + 1 + polls
    by_kind: dict[str, list[ReadableSpan]] = {}
    for sp in requests:
        attrs = dict(sp.attributes or {})
        by_kind.setdefault(str(attrs["brightmetrics.request.kind"]), []).append(sp)
        assert attrs["http.request.method"] == "GET"
        assert attrs["server.address"] == "127.0.0.1"
        assert attrs["server.port"] == int(server.origin.rsplit(":", 1)[1])
        assert str(attrs["url.full"]).startswith(server.url)
        assert attrs["http.response.status_code"] in (200, 202)
        assert isinstance(attrs["brightmetrics.budget.remaining"], int)
        assert "error.type" not in attrs
    assert {k: len(v) for k, v in by_kind.items()} == {"page": 3, "submit": 1, "poll": polls}
    assert all(sp.attributes["brightmetrics.report"] == CALLER_ID for sp in by_kind["page"])  # type: ignore[index]
    assert all(sp.attributes["brightmetrics.report"] == SUMMARY for sp in by_kind["poll"])  # type: ignore[index]
    remaining = [int(sp.attributes["brightmetrics.budget.remaining"]) for sp in requests]  # type: ignore[index, arg-type]
    assert remaining == sorted(remaining, reverse=True)
    assert len(set(remaining)) == len(remaining)

    ops = {sp.name: sp for sp in spans if sp.kind.name == "INTERNAL"}
    assert set(ops) == {"brightmetrics rows", "brightmetrics job.wait"}
    rows_op, wait_op = ops["brightmetrics rows"], ops["brightmetrics job.wait"]
    assert all(
        sp.parent is not None and sp.parent.span_id == rows_op.context.span_id
        for sp in by_kind["page"]
    )
    assert all(
        sp.parent is not None and sp.parent.span_id == wait_op.context.span_id
        for sp in by_kind["poll"]
    )
    assert [e.name for e in wait_op.events] == ["brightmetrics.poll"] * polls
    assert wait_op.events[-1].attributes == {"brightmetrics.job.polls": polls, "state": "done"}

    metrics = otel.metrics()
    counts = {
        (a["brightmetrics.request.kind"], a["brightmetrics.outcome"]): p.value
        for a, p in metrics["brightmetrics.requests"]
    }
    assert counts == {("page", "ok"): 3, ("submit", "ok"): 1, ("poll", "ok"): polls}
    [(gauge_attrs, gauge)] = metrics["brightmetrics.budget.remaining"]
    assert gauge_attrs == {"brightmetrics.account": s.account}
    assert gauge.value == min(remaining)
    [(_, duration)] = metrics["brightmetrics.job.duration"]
    [(_, poll_hist)] = metrics["brightmetrics.job.polls"]
    assert duration.count == 1
    assert duration.sum >= 4.0
    assert poll_hist.count == 1
    assert poll_hist.sum == polls

    # No secret anywhere: not in a span (name, attributes, events), not in a metric.
    text = json.dumps([json.loads(sp.to_json()) for sp in spans]) + repr(metrics)
    assert DEMO_API_KEY not in text
    assert "Authorization" not in text
    assert "Bearer" not in text
    # And nothing went to the vendor: no trace context header.
    for record in server.emulator.requests:
        names = {k.lower() for k, _ in record.headers}
        assert not names & {"traceparent", "tracestate", "baggage"}


async def test_errors_are_typed_and_counted(
    server: EmulatorServer, otel: Otel, tmp_path: Path, clock: VirtualClock
) -> None:
    async with session(server, otel, tmp_path, clock, retry=bm.RetryPolicy(attempts=1)) as s:
        with pytest.raises(bm.NotFound):
            await s.download("00000000-0000-0000-0000-000000000000", format="csv")
    [req] = [sp for sp in otel.finished() if sp.kind.name == "CLIENT"]
    assert req.attributes is not None
    assert req.attributes["http.response.status_code"] == 404
    assert req.attributes["error.type"] == "404"
    [op] = [sp for sp in otel.finished() if sp.kind.name == "INTERNAL"]
    assert op.name == "brightmetrics download"
    assert op.attributes is not None
    assert op.attributes["error.type"] == "NotFound"
    [(attrs, point)] = otel.metrics()["brightmetrics.requests"]
    assert attrs == {
        "brightmetrics.request.kind": "download",
        "brightmetrics.outcome": "error",
        "error.type": "404",
    }
    assert point.value == 1


async def test_trace_context_is_sent_only_when_asked(
    server: EmulatorServer, otel: Otel, tmp_path: Path, clock: VirtualClock
) -> None:
    tracer = otel.tracer_provider.get_tracer("app")
    async with session(server, otel, tmp_path, clock, propagate_trace=True) as s:
        with tracer.start_as_current_span("handler"):
            await s.download(SUMMARY, format="csv")
    [record] = server.emulator.requests
    header = record.header("traceparent")
    assert header is not None
    [req] = [sp for sp in otel.finished() if sp.kind.name == "CLIENT"]
    assert f"{req.context.trace_id:032x}" in header
    # The caller's span is the root of the trace.
    [handler] = [sp for sp in otel.finished() if sp.name == "handler"]
    assert req.context.trace_id == handler.context.trace_id


async def test_budget_waits_are_recorded(
    server: EmulatorServer, otel: Otel, clock: VirtualClock
) -> None:
    budget = bm.MemoryBudget(limit=1, period=60.0, clock=clock)
    async with bm.Session(
        bm.ApiKey(DEMO_API_KEY),
        base_url=server.url,
        budget=budget,
        clock=clock,
        tracer_provider=otel.tracer_provider,
        meter_provider=otel.meter_provider,
    ) as s:
        await s.download(SUMMARY, format="csv")
        await s.download(SUMMARY, format="csv")  # waits 60 virtual seconds for a token
    [(attrs, wait)] = otel.metrics()["brightmetrics.budget.wait"]
    assert attrs == {"brightmetrics.request.kind": "download"}
    assert wait.count == 1
    assert wait.sum >= 59.0


def test_pure_helpers() -> None:
    assert [kind_of(w) for w in ("service document", "filter metadata", "service metadata")] == [
        "service_document",
        "metadata",
        "metadata",
    ]
    assert [kind_of(w) for w in ("report page", "download", "export")] == ["page"] + [
        "download"
    ] * 2
    assert [kind_of(w) for w in ("submit", "status poll", "export result")] == [
        "submit",
        "poll",
        "poll",
    ]
    base = "http://h:1/OData.ashx"
    assert report_of(f"{base}/{SUMMARY}?$filter=x", base) == SUMMARY
    assert report_of(f"{base}/{SUMMARY}/$metadata", base) == SUMMARY
    assert report_of(f"{base}/$metadata", base) is None
    assert report_of("http://h:1/other", base) is None
    assert safe_url("https://u:secret@h/x?a=1") == "https://h/x?a=1"
    assert safe_url("https://h/x") == "https://h/x"


_HIDDEN = """
import sys, importlib.abc
class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ModuleNotFoundError(name)
        return None
sys.meta_path.insert(0, Hide())
import asyncio
import brightmetrics_async as bm
from brightmetrics_async._otel import NO_TELEMETRY
from brightmetrics_async.testing import DEMO_API_KEY, serve

async def main():
    async with serve() as server, bm.Session(
        bm.ApiKey(DEMO_API_KEY), base_url=server.url, budget=bm.MemoryBudget(),
        tracer_provider=object(), meter_provider=object(),
    ) as s:
        assert s.telemetry is NO_TELEMETRY
        assert len(await s.download("03bd1235-eb2c-410f-a415-fefacd98df41", format="csv")) > 0
    assert not [m for m in sys.modules if m.startswith("opentelemetry")], "imported"
    print("ok")

asyncio.run(main())
"""


def _run_script(code: str, env: dict[str, str] | None = None) -> str:
    """Run ``code`` in a fresh interpreter of this checkout; its stdout (it must succeed)."""
    env = {**(os.environ if env is None else env), "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_without_the_api_nothing_is_imported() -> None:
    assert _run_script(_HIDDEN).strip() == "ok"


def test_importing_the_package_imports_no_opentelemetry() -> None:
    code = "import sys, brightmetrics_async; print(any(m.startswith('opentelemetry') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


async def test_a_session_without_telemetry_is_the_null_observer(server: EmulatorServer) -> None:
    async with bm.Session(
        bm.ApiKey(DEMO_API_KEY), base_url=server.url, budget=bm.MemoryBudget(), telemetry=False
    ) as s:
        assert s.telemetry is NO_TELEMETRY


async def test_each_bulk_item_is_a_pull_operation(
    server: EmulatorServer, otel: Otel, tmp_path: Path, clock: VirtualClock
) -> None:
    async with session(server, otel, tmp_path, clock) as s:
        items = [bm.PullItem(SUMMARY, format="csv"), bm.PullItem(CALLER_ID)]
        async with s.pull_many(items) as pull:
            results = await pull.collect()
    assert all(r.error is None for r in results)
    spans = otel.finished()
    pulls = [sp for sp in spans if sp.name == "brightmetrics pull"]
    assert sorted(str((sp.attributes or {})["brightmetrics.report"]) for sp in pulls) == sorted(
        [SUMMARY, CALLER_ID]
    )
    ids = {sp.context.span_id for sp in pulls}
    requests = [sp for sp in spans if sp.kind.name == "CLIENT"]
    assert len(requests) == len(server.emulator.requests)
    # Every request belongs to one item's pull (directly, or through its rows operation).
    by_id = {sp.context.span_id: sp for sp in spans}
    for sp in requests:
        parent = by_id[sp.parent.span_id] if sp.parent else None
        while parent is not None and parent.context.span_id not in ids:
            parent = by_id.get(parent.parent.span_id) if parent.parent else None
        assert parent is not None


_GLOBAL = """
import asyncio
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
import brightmetrics_async as bm
from brightmetrics_async.testing import DEMO_API_KEY, serve

async def main():
    exporter = InMemorySpanExporter()
    async with serve() as server, bm.Session(
        bm.ApiKey(DEMO_API_KEY), base_url=server.url, budget=bm.MemoryBudget()
    ) as s:
        await s.download("03bd1235-eb2c-410f-a415-fefacd98df41", format="csv")  # no SDK yet
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)  # the application configures OpenTelemetry later
        from brightmetrics_async import _otel_api
        _otel_api._checked["at"] = -1.0  # as if the per-second recheck were due (no real wait)
        await s.download("03bd1235-eb2c-410f-a415-fefacd98df41", format="csv")
    print(sorted(sp.name for sp in exporter.get_finished_spans()))

asyncio.run(main())
"""


def test_the_global_providers_are_used_once_configured() -> None:
    assert _run_script(_GLOBAL).strip() == "['GET', 'brightmetrics download']"


_DEFERRED = """
import asyncio, sys
import brightmetrics_async as bm
from brightmetrics_async.testing import DEMO_API_KEY, serve

def imported():
    # find_spec("opentelemetry.trace") imports the (empty) namespace package, nothing under it
    return sorted(m for m in sys.modules if m.startswith("opentelemetry."))

async def main():
    async with serve() as server, bm.Session(
        bm.ApiKey(DEMO_API_KEY), base_url=server.url, budget=bm.MemoryBudget()
    ) as s:
        await s.download("03bd1235-eb2c-410f-a415-fefacd98df41", format="csv")
        print(imported())  # nobody imported OpenTelemetry: the session did not either
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)  # the application configures OpenTelemetry now
        await s.download("03bd1235-eb2c-410f-a415-fefacd98df41", format="csv")
    print(sorted(sp.name for sp in exporter.get_finished_spans()))

asyncio.run(main())
"""


def test_the_global_providers_are_not_imported_until_the_application_imports_them() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_PYTHON_")}
    out = _run_script(_DEFERRED, env)
    assert out.splitlines() == ["[]", "['GET', 'brightmetrics download']"]


async def test_a_transport_error_is_the_span_s_error_type(otel: Otel, tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with bm.Session(
        bm.ApiKey(DEMO_API_KEY),
        base_url=f"http://127.0.0.1:{port}/OData.ashx",
        budget=bm.MemoryBudget(),
        retry=bm.RetryPolicy(attempts=1),
        tracer_provider=otel.tracer_provider,
        meter_provider=otel.meter_provider,
    ) as s:
        with pytest.raises(bm.TransportError):
            await s.download(SUMMARY, format="csv")
    [req] = [sp for sp in otel.finished() if sp.kind.name == "CLIENT"]
    assert req.attributes is not None
    assert req.attributes["error.type"] == "TransportError"
    assert "http.response.status_code" not in req.attributes
    [(attrs, _)] = otel.metrics()["brightmetrics.requests"]
    assert attrs["brightmetrics.outcome"] == "error"

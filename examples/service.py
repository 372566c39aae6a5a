"""A small reporting service on brightmetrics-async (aiohttp.web), ready for several replicas.

Run it::

    BRIGHTMETRICS_API_KEY=... python examples/service.py --port 8080

Environment:

* ``BRIGHTMETRICS_URL``, ``BRIGHTMETRICS_API_KEY`` (or ``BRIGHTMETRICS_USER`` with a password):
  the service and the credentials, as for the library;
* ``BRIGHTMETRICS_ACCOUNT``: the budget account (set it to share one budget between users);
* ``REDIS_URL`` (optional): replicas then share the budget, the cached answers (one replica
  fetches, every replica serves) and the job keys; without it, SQLite files on this machine;
* ``SHUTDOWN_GRACE``: seconds requests in flight get to finish on SIGTERM (default 10);
* ``OTEL`` = ``console`` (spans and metrics on stderr), ``otlp`` (needs
  ``opentelemetry-exporter-otlp``) or unset (the global providers, no-op unless configured).

Routes:

* ``GET /reports/{report}/rows?max_age=60``: the report's rows as JSON, cached ``max_age`` s;
* ``GET /reports/{report}/export?format=csv&key=...``: an asynchronous export; with ``key`` the job
  is started once, even across replicas and restarts (default key: report, format and day);
* ``GET /budget``: the account's request budget; ``GET /health``: liveness.

SIGTERM or Ctrl-C stops it gracefully: requests in flight finish or are cancelled, the session
closes, and export jobs stay recorded under their keys, so a restarted service continues them
(asking again with the same key resumes the job) instead of submitting them again.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import signal
import sys
from typing import Any

from aiohttp import web

import brightmetrics_async as bm

log = logging.getLogger("service")
SESSION = web.AppKey("session", bm.Session)
MAX_AGE = 60.0


def setup_otel(mode: str | None) -> tuple[Any, Any]:
    """Tracer and meter providers for ``OTEL`` (None, None: the global ones)."""
    if not mode:
        return None, None
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    resource = Resource.create({"service.name": "reporting-service"})
    tracer_provider = TracerProvider(resource=resource)
    if mode == "otlp":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        reader = PeriodicExportingMetricReader(OTLPMetricExporter())
    else:
        from opentelemetry.sdk.metrics.export import ConsoleMetricExporter
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        tracer_provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stderr)))
        reader = PeriodicExportingMetricReader(
            ConsoleMetricExporter(out=sys.stderr), export_interval_millis=5000
        )
    return tracer_provider, MeterProvider(resource=resource, metric_readers=[reader])


def stores() -> dict[str, Any]:
    """Budget, result cache and job keys: shared through Redis when ``REDIS_URL`` is set."""
    redis = os.environ.get("REDIS_URL")
    if not redis:
        return {}
    return {
        "budget": bm.RedisBudget(redis),
        "result_cache": bm.RedisResultCache(redis),
        "job_keys": bm.RedisJobKeys(redis),
    }


async def rows(request: web.Request) -> web.Response:
    s = request.app[SESSION]
    max_age = float(request.query.get("max_age", MAX_AGE))
    pulled = [row async for row in s.rows(request.match_info["report"], max_age=max_age)]
    return web.json_response({"value": pulled})


async def export(request: web.Request) -> web.Response:
    s = request.app[SESSION]
    report = request.match_info["report"]
    fmt = request.query.get("format", "csv")
    key = request.query.get("key") or f"{report}-{fmt}-{dt.date.today().isoformat()}"
    job = await s.submit(report, format=fmt, key=key)
    body = await job.result()
    if job.format is bm.Format.JSON:
        return web.json_response({"value": body})
    return web.Response(body=body, content_type=job.format.main_type)


async def budget(request: web.Request) -> web.Response:
    snap = await request.app[SESSION].budget_status()
    return web.json_response(
        {
            "account": snap.account,
            "limit": snap.limit,
            "spent": snap.spent,
            "remaining": snap.remaining,
            "next_free_at": snap.next_free_at,
            "blocked_until": snap.blocked_until,
        }
    )


async def health(_: web.Request) -> web.Response:
    return web.json_response({"ok": True})


@web.middleware
async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """The library's errors as HTTP answers: never a traceback, never a credential."""
    try:
        response: web.StreamResponse = await handler(request)
    except bm.NotFound:
        return web.json_response({"error": "no such report"}, status=404)
    except (bm.ConfigurationError, ValueError) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    except bm.BudgetExhausted as exc:
        return web.json_response(
            {"error": "request budget exhausted", "next_free_at": exc.next_free_at}, status=503
        )
    except bm.BrightmetricsError as exc:
        return web.json_response({"error": type(exc).__name__}, status=502)
    return response


def make_app(session: bm.Session) -> web.Application:
    app = web.Application(middlewares=[errors])
    app[SESSION] = session
    app.router.add_get("/reports/{report}/rows", rows)
    app.router.add_get("/reports/{report}/export", export)
    app.router.add_get("/budget", budget)
    app.router.add_get("/health", health)
    return app


async def main(host: str, port: int) -> None:
    tracer_provider, meter_provider = setup_otel(os.environ.get("OTEL"))
    shared = stores()
    session = bm.Session(
        account=os.environ.get("BRIGHTMETRICS_ACCOUNT"),
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        **shared,
    )
    # Requests in flight get this long to finish on SIGTERM, then are cancelled: a job wait
    # cancelled here is not lost, its key still names it.
    grace = float(os.environ.get("SHUTDOWN_GRACE", "10"))
    runner = web.AppRunner(make_app(session), handle_signals=False, shutdown_timeout=grace)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0]
        for job in await session.jobs():
            log.info("recorded job %s (resumed when asked for again)", job.key)
        print(f"listening on http://{bound[0]}:{bound[1]}", flush=True)
        await stop.wait()
        log.info("stopping: jobs stay recorded under their keys")
    finally:
        await runner.cleanup()  # finishes the requests in flight (up to its timeout)
        await session.aclose()
        for store in shared.values():
            await store.aclose()
        if tracer_provider is not None:
            tracer_provider.shutdown()
            meter_provider.shutdown()
    print("stopped", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    asyncio.run(main(args.host, args.port))

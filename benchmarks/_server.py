"""The benchmark server: the emulator's wire format, pre-rendered, in its own process.

Run as ``python -m benchmarks._server`` with a JSON config on stdin; it prints one JSON line
``{"url": <service root>}`` once listening, then serves until killed. Keeping the server in
another process means the client process measured by a benchmark does nothing but be the
client; pre-rendering keeps the server cheap, so it is not the bottleneck on a 2-core machine.

What a report GUID means is encoded in the GUID itself (see :func:`guid`): the last group is a
number ``n``, so one server serves every size without state:

* ``GET <root>/<guid>`` (JSON): a chain of ``n`` pages of ``rows`` rows, each page but the last
  with an ``@odata.nextLink`` carrying a vendor-shaped ``$skiptoken`` (base64 JSON with ``Id``,
  ``NextStart``, ``End``). Row arrays are rendered once at start-up (a few variants).
* ``GET <root>/<guid>`` with ``Accept: text/csv``: ``n`` bytes of CSV, streamed chunked from one
  pre-rendered 64 KiB block, so a 1 GB body costs the server no memory.
* ``GET <root>/<guid>`` with ``Prefer: respond-async``: a 202 job that is done ``n % 2**32`` ms
  of *virtual* time later; ``GET <root>/status/<id>`` answers 202 with ``Retry-After: n >> 32``
  seconds (the server's default when 0) until then,
  then 200 with a small JSON result. Virtual time is ``vstart + (time.time() - rstart) * scale``
  (the client uses the same formula). Every poll's real arrival time is kept, per job, and
  served at ``GET /bench/jobs`` for the lateness figures.
* ``delay`` in the config adds that many seconds to every report request (a WAN round trip).
* ``GET /bench/ping``: an empty 200 (the cost of one loopback request); ``GET /bench/stats``.

Requests without an ``Authorization`` header get the emulator's 401 body.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from aiohttp import web

ROOT = "/OData.ashx"
JSON_TYPE = "application/json; odata.metadata=minimal; odata.streaming=true"
ODATA = {"OData-Version": "4.0"}
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
_CSV_BLOCK = 64 * 1024


def guid(index: int, n: int) -> str:
    """A report GUID (version-4 shape) naming report ``index`` with size parameter ``n``."""
    return f"{index:08x}-0000-4000-8000-{n:012x}"


def n_of(guid_text: str) -> int:
    """The size parameter of a :func:`guid`."""
    return int(guid_text.rsplit("-", 1)[-1], 16)


def detail_rows(count: int, seed: int) -> list[dict[str, Any]]:
    """Rows shaped like the emulator's Agent Detail report (8 columns, about 190 bytes)."""
    rng = random.Random(seed)
    agents = [
        ("Wei Patel", "3005"),
        ("Sam Chen", "3002"),
        ("Jordan Berg", "3003"),
        ("Pat O'Brien", "3011"),
        ("Liam Okafor", "3007"),
        ("Agent Spare 1", "3012"),
    ]
    queues = ["", "Helpdesk Tier 1", "Billing", "Soporte Español", "Sales"]
    start = _EPOCH + timedelta(days=rng.randrange(100))
    rows = []
    for i in range(count):
        name, ext = rng.choice(agents)
        at = start + timedelta(seconds=i * 97 + rng.randrange(90))
        rows.append(
            {
                "Call_Date_Time": at.strftime("%Y-%m-%dT%H:%M:%S.0000000Z"),
                "Media_Type": rng.choice(["Voice", "Voice", "Voice", "Chat", "Email"]),
                "Agent_Name": name,
                "Extension": ext,
                "Queue_Name": rng.choice(queues),
                "Call_Type": rng.choice(["Inbound", "Outbound", "Internal"]),
                "Time_Talk_Total": round(rng.uniform(0, 20), 4),
                "Time_Hold_Total": round(rng.choice([0.0, 0.0, rng.uniform(0, 3)]), 4),
            }
        )
    return rows


def csv_block() -> bytes:
    """64 KiB of CSV rows (whole lines), the unit a streamed export repeats."""
    lines = []
    for row in detail_rows(600, seed=7):
        lines.append(",".join(str(v) for v in row.values()) + "\r\n")
    text = "".join(lines).encode()
    while len(text) < _CSV_BLOCK:
        text += text
    return text[: text.rfind(b"\n", 0, _CSV_BLOCK) + 1]


class VirtualTime:
    """``vstart + (time.time() - rstart) * scale``: the clock both processes agree on."""

    def __init__(self, *, vstart: float, rstart: float, scale: float) -> None:
        self.vstart, self.rstart, self.scale = vstart, rstart, scale

    def now(self) -> float:
        return self.vstart + (time.time() - self.rstart) * self.scale


class BenchServer:
    """The handlers; ``config`` keys: ``rows`` (per page), ``retry_after``, ``vstart``,
    ``rstart``, ``scale`` (virtual clock), ``job_ttl``, ``delay`` (seconds added to every
    report request)."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.rows = int(config.get("rows", 1000))
        self.retry_after = float(config.get("retry_after", 5.0))
        now = time.time()
        self.vt = VirtualTime(
            vstart=float(config.get("vstart", now)),
            rstart=float(config.get("rstart", now)),
            scale=float(config.get("scale", 1.0)),
        )
        self.job_ttl = float(config.get("job_ttl", 3600.0))
        self.delay = float(config.get("delay", 0.0))
        self.blobs = [
            json.dumps(detail_rows(self.rows, seed), ensure_ascii=False).encode()
            for seed in range(4)
        ]
        self.csv = csv_block()
        self.requests = 0
        self.jobs: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.authenticate])
        app.router.add_get(ROOT + "/status/{job}", self.status)
        app.router.add_get(ROOT + "/{guid}", self.report)
        app.router.add_get("/bench/ping", self.ping)
        app.router.add_get("/bench/stats", self.stats)
        app.router.add_get("/bench/jobs", self.job_log)
        return app

    @web.middleware
    async def authenticate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests += 1
        if request.path.startswith(ROOT) and "Authorization" not in request.headers:
            body = {"error": {"code": "Unauthorized", "message": "Authentication required."}}
            return web.Response(
                status=401, body=json.dumps(body).encode(), content_type="application/json"
            )
        response: web.StreamResponse = await handler(request)
        return response

    def _root(self, request: web.Request) -> str:
        return f"http://{request.host}{ROOT}"

    async def report(self, request: web.Request) -> web.StreamResponse:
        g = request.match_info["guid"]
        n = n_of(g)
        if self.delay:  # a WAN-like round trip plus the vendor's own time
            await asyncio.sleep(self.delay)
        if "respond-async" in request.headers.get("Prefer", ""):
            return self._submit(request, g, n)
        if request.headers.get("Accept", "").startswith("text/csv"):
            return await self._csv(request, n)
        token = request.query.get("$skiptoken")
        index = 0 if token is None else _page_of(token)
        root = self._root(request)
        parts = [b'{"@odata.context":"', f"{root}/$metadata#Report_{g[:8]}".encode(), b'",']
        if index + 1 < n:
            link = f"{root}/{g}?$skiptoken={_token(g, index + 1)}"
            parts += [b'"@odata.nextLink":"', link.encode(), b'",']
        parts += [b'"value":', self.blobs[(index + int(g[:8], 16)) % len(self.blobs)], b"}"]
        return web.Response(body=b"".join(parts), headers={**ODATA, "Content-Type": JSON_TYPE})

    async def _csv(self, request: web.Request, size: int) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": 'attachment; filename="export.csv"',
            }
        )
        await response.prepare(request)
        block, sent = self.csv, 0
        while sent < size:
            chunk = block if size - sent >= len(block) else block[: size - sent]
            await response.write(chunk)
            sent += len(chunk)
        await response.write_eof()
        return response

    def _accepted(self, request: web.Request, job_id: str, retry_after: float) -> web.Response:
        url = f"{self._root(request)}/status/{job_id}"
        return web.Response(
            status=202,
            body=json.dumps({"statusUrl": url}).encode(),
            headers={
                **ODATA,
                "Content-Type": JSON_TYPE,
                "Location": url,
                "Retry-After": f"{retry_after:g}",
            },
        )

    def _submit(self, request: web.Request, g: str, n: int) -> web.Response:
        job_id = f"{next(self._ids):08d}"
        now = self.vt.now()
        self.jobs[job_id] = {
            "guid": g,
            "submitted_v": now,
            "ready_v": now + (n & 0xFFFFFFFF) / 1000.0,
            "retry_after": float(n >> 32) or self.retry_after,
            "polls": [],
        }
        return self._accepted(request, job_id, self.jobs[job_id]["retry_after"])

    async def status(self, request: web.Request) -> web.StreamResponse:
        arrived = time.time()
        job = self.jobs.get(request.match_info["job"])
        now = self.vt.now()
        if job is None or now >= job["submitted_v"] + self.job_ttl:
            body = {"error": {"code": "NotFound", "message": "No export job with that id."}}
            return web.Response(status=404, body=json.dumps(body).encode(), headers=ODATA)
        job["polls"].append(arrived)
        if now < job["ready_v"]:
            return self._accepted(request, request.match_info["job"], job["retry_after"])
        result = {"@odata.context": f"{self._root(request)}/$metadata", "value": [{}]}
        return web.Response(
            body=json.dumps(result).encode(), headers={**ODATA, "Content-Type": JSON_TYPE}
        )

    async def ping(self, request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"{}", content_type="application/json")

    async def stats(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"requests": self.requests, "jobs": len(self.jobs)})

    async def job_log(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self.jobs)


def _token(g: str, index: int) -> str:
    # The vendor's shape: base64 of {"Id", "NextStart", "End"}; NextStart encodes the page.
    body = {
        "Id": g,
        "NextStart": (_EPOCH + timedelta(hours=index)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "End": "2026-12-31T23:59:59.999Z",
    }
    raw = json.dumps(body, separators=(",", ":")).encode()
    return quote(base64.b64encode(raw).decode("ascii"), safe="")


def _page_of(token: str) -> int:
    body = json.loads(base64.b64decode(token))
    start = datetime.strptime(body["NextStart"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return int((start - _EPOCH).total_seconds() // 3600)


async def _main(config: dict[str, Any]) -> None:
    server = BenchServer(config)
    runner = web.AppRunner(server.app(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
    await site.start()
    host, port = runner.addresses[0][:2]
    print(json.dumps({"url": f"http://{host}:{port}{ROOT}"}), flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(_main(json.loads(sys.stdin.read() or "{}")))

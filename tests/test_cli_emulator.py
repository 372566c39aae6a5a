"""``brightmetrics emulator``: every knob, observed over HTTP against the console script.

Each test starts the installed script on a free port, reads the URL from its first line of
``--json`` output, talks plain HTTP to it, then stops it with Ctrl-C (SIGINT). Nothing here
waits on a timer: the clock-speed tests poll a job or the quota with a high speed and stop as
soon as the emulator's time has moved on.
"""

from __future__ import annotations

import base64
import contextlib
import json
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
from anyio.streams.text import TextReceiveStream
from yarl import URL

from brightmetrics_async.testing import DEMO_API_KEY, DEMO_PASSWORD, DEMO_USER

from ._cli_support import SCRIPT, cli_env, run_cli, sigint_not_ignored

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

AGENT_DETAIL = "6f40b845-fb28-4547-b73b-e11ce29f481b"
SERVICE_SUMMARY = "03bd1235-eb2c-410f-a415-fefacd98df41"


@contextlib.asynccontextmanager
async def started(*args: str, json_out: bool = True) -> AsyncIterator[tuple[Any, str]]:
    """Run ``brightmetrics emulator --port 0 [--json] ARGS``; yield (info, banner text).

    ``info`` is the parsed first line with ``--json``, else None; the banner is everything up
    to "Ctrl-C to stop." without it. Stops the process with SIGINT and checks it exited 0.
    """
    flags = ["--json"] if json_out else []
    with sigint_not_ignored():
        proc = await anyio.open_process(
            [str(SCRIPT), "emulator", "--port", "0", *flags, *args], env=cli_env()
        )
    async with proc:
        assert proc.stdout is not None
        text = ""
        with anyio.fail_after(30):
            async for chunk in TextReceiveStream(proc.stdout):
                text += chunk
                if (json_out and "\n" in text) or "Ctrl-C to stop." in text:
                    break
        info = json.loads(text.splitlines()[0]) if json_out else None
        try:
            yield info, text
        finally:
            proc.send_signal(signal.SIGINT)
            with anyio.fail_after(20):
                code = await proc.wait()
    assert code == 0


def bearer(key: str = DEMO_API_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def fetch(
    url: str, *, headers: dict[str, str] | None = None, method: str = "GET"
) -> tuple[int, dict[str, str], Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, URL(url, encoded=True), headers=headers or bearer()) as resp,
    ):
        body = await resp.read()
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = body
        return resp.status, dict(resp.headers), parsed


async def test_banner_lists_credentials_reset_endpoint_and_knobs() -> None:
    async with started("--quota", "20", "--fault", "delay:0.5", json_out=False) as (_, text):
        url = text.split("serving at ", 1)[1].split()[0]
        status, _, doc = await fetch(url)
    assert status == 200
    assert len(doc["value"]) == 6
    assert f"{DEMO_USER}  password: {DEMO_PASSWORD}  API key: {DEMO_API_KEY}" in text
    assert "apikey" in text  # the Power BI form
    assert f"curl -X POST -H 'Authorization: Bearer {DEMO_API_KEY}' " in text
    assert "/account/reset-api-limit" in text
    for knob in ("--job-seconds 5 s", "--retry-after 5 s", "--quota 20 per 24 h"):
        assert knob in text
    for knob in ("--clock-speed 1x", "--page-days 7 days", "--strict off", "delay:0.5"):
        assert knob in text


async def test_json_banner_lists_the_same() -> None:
    async with started("--strict", "--page-days", "0") as (info, _):
        status, _, _ = await fetch(info["url"])
    assert status == 200
    assert info["reset_url"].endswith("/account/reset-api-limit")
    assert info["knobs"]["strict"] is True
    assert info["knobs"]["page_days"] is None
    assert {c["email"] for c in info["credentials"]} >= {DEMO_USER}


@pytest.mark.parametrize(("seconds", "first_poll"), [("0", 200), ("3600", 202)])
async def test_job_seconds(seconds: str, first_poll: int) -> None:
    async with started("--job-seconds", seconds) as (info, _):
        url = f"{info['url']}/{SERVICE_SUMMARY}"
        status, _, body = await fetch(url, headers={**bearer(), "Prefer": "respond-async"})
        assert status == 202
        status, _, _ = await fetch(body["statusUrl"])
    assert status == first_poll


async def test_retry_after() -> None:
    async with started("--retry-after", "7", "--job-seconds", "3600") as (info, _):
        url = f"{info['url']}/{SERVICE_SUMMARY}"
        status, headers, body = await fetch(url, headers={**bearer(), "Prefer": "respond-async"})
        assert status == 202
        assert headers["Retry-After"] == "7"
        status, headers, _ = await fetch(body["statusUrl"])
    assert status == 202
    assert headers["Retry-After"] == "7"


async def test_quota_and_its_reset() -> None:
    async with started("--quota", "2") as (info, _):
        assert [(await fetch(info["url"]))[0] for _ in range(3)] == [200, 200, 429]
        status, headers, _ = await fetch(info["url"])
        assert status == 429
        assert 86000 < int(headers["Retry-After"]) <= 86400
        status, _, body = await fetch(info["reset_url"], method="POST")
        assert status == 200
        assert body["used"] == 0
        assert (await fetch(info["url"]))[0] == 200
    async with started("--quota", "0") as (info, _):
        assert {(await fetch(info["url"]))[0] for _ in range(5)} == {200}


async def test_clock_speed_runs_a_jobs_half_hour_in_half_a_second() -> None:
    async with started("--clock-speed", "3600", "--job-seconds", "1800", "--quota", "0") as (
        info,
        _,
    ):
        url = f"{info['url']}/{SERVICE_SUMMARY}"
        status, _, body = await fetch(url, headers={**bearer(), "Prefer": "respond-async"})
        assert status == 202
        # At real speed this job would answer 202 for 30 minutes; the deadline is far shorter.
        with anyio.fail_after(20):
            while (answer := await fetch(body["statusUrl"]))[0] == 202:
                await anyio.sleep(0.05)
    assert answer[0] == 200
    assert answer[2]["value"]


async def test_clock_speed_shortens_the_quota_window() -> None:
    # At 86400x, the 24-hour window is one real second, and Retry-After says so.
    async with started("--clock-speed", "86400", "--quota", "1") as (info, _):
        assert (await fetch(info["url"]))[0] == 200
        status, headers, _ = await fetch(info["url"])
        assert status == 429
        assert headers["Retry-After"] == "1"
        with anyio.fail_after(20):
            while (await fetch(info["url"]))[0] == 429:
                await anyio.sleep(0.05)


async def pages(url: str) -> list[Any]:
    out = []
    next_url: str | None = url
    while next_url:
        status, _, body = await fetch(next_url)
        assert status == 200
        out.append(body)
        next_url = body.get("@odata.nextLink")
        assert len(out) < 50
    return out


async def test_page_days() -> None:
    async with started("--page-days", "10") as (info, _):
        ten = await pages(f"{info['url']}/{AGENT_DETAIL}")
    async with started("--page-days", "0") as (info, _):
        one = await pages(f"{info['url']}/{AGENT_DETAIL}")
    assert len(ten) == 3  # the report's 30 default days in 10-day slices
    assert len(one) == 1
    assert [r for p in ten for r in p["value"]] == one[0]["value"]


async def test_accounts_file(tmp_path: Path) -> None:
    path = tmp_path / "accounts.toml"
    path.write_text(
        '[[company]]\nid = "initech"\nname = "Initech"\n'
        '[[company.user]]\nemail = "peter@initech.example"\npassword = "tps-report"\n'
        'api_key = "0123456789abcdef0123456789abcdef"\n'
    )
    async with started("--accounts", str(path)) as (info, _):
        assert info["api_key"] == "0123456789abcdef0123456789abcdef"
        assert info["user"] == "peter@initech.example"
        status, _, doc = await fetch(info["url"], headers=bearer(info["api_key"]))
        assert status == 200
        assert doc["value"]
        basic = base64.b64encode(b"peter@initech.example:*passtps-report").decode()
        assert (await fetch(info["url"], headers={"Authorization": f"Basic {basic}"}))[0] == 200
        assert (await fetch(info["url"]))[0] == 401  # the demo key is not in the file


async def test_bad_accounts_file_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "accounts.toml"
    path.write_text('[[company]]\nid = "x"\n[[company.user]]\nemail = "a@b.c"\n')
    done = await run_cli("emulator", "--port", "0", "--accounts", str(path))
    assert done.code == 2
    assert "missing 'password'" in done.err
    assert str(path) in done.err


async def test_strict() -> None:
    async with started("--strict") as (info, _):
        strict, _, body = await fetch(f"{info['url']}/{SERVICE_SUMMARY}?$top=1")
    async with started() as (info, _):
        lenient, _, rows = await fetch(f"{info['url']}/{SERVICE_SUMMARY}?$top=1")
    assert strict == 400
    assert "not supported" in body["error"]["message"]
    assert lenient == 200
    assert len(rows["value"]) == 1


async def test_fault() -> None:
    async with started("--fault", "server_error", "--fault", "too-many-requests:0.5") as (
        info,
        _,
    ):
        statuses = {(await fetch(info["url"]))[0] for _ in range(5)}
    assert statuses == {503}  # the first rule hits every request
    assert info["knobs"]["faults"] == [
        {"kind": "server_error", "rate": 1.0},
        {"kind": "too_many_requests", "rate": 0.5},
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fault", "gremlins"], "unknown fault"),
        (["--fault", "server_error:2"], "0 < RATE <= 1"),
        (["--job-seconds", "5-1"], "LOW <= HIGH"),
        (["--clock-speed", "0"], "clock-speed"),
    ],
)
async def test_bad_knobs_are_usage_errors(args: list[str], message: str) -> None:
    done = await run_cli("emulator", "--port", "0", *args)
    assert done.code == 2
    assert message in done.err

"""Authentication: every documented credential form works, everything else is a 401."""

from __future__ import annotations

import pytest

from brightmetrics_async.testing import (
    DEMO_ACCOUNT,
    DEMO_API_KEY,
    DEMO_PASSWORD,
    DEMO_PASSWORD_HASH,
    DEMO_USER,
    OTHER_ACCOUNT,
    OTHER_API_KEY,
    hash_password,
)
from tests._emulator_helpers import SERVICE_SUMMARY, basic, running

pytestmark = pytest.mark.anyio


def test_demo_hash_is_the_vendors_example() -> None:
    # The vendor's document gives this exact hash for "password".
    assert DEMO_PASSWORD_HASH == "XohImNooBHFR0OVvjcYpJ3NgPQ1qq73WKhHvch0VQtg="
    assert hash_password("abcd1234") == "6c7nGrky/ehjM40Ivk3p3+OeoEm9r7NCzmWexUULaa4="


@pytest.mark.parametrize(
    "authorization",
    [
        basic(DEMO_USER, DEMO_PASSWORD_HASH),
        basic(DEMO_USER, "*pass" + DEMO_PASSWORD),
        basic(DEMO_USER.upper(), "*pass" + DEMO_PASSWORD),
        basic("apikey", DEMO_API_KEY),
        f"Bearer {DEMO_API_KEY}",
        f"bearer {DEMO_API_KEY}",
    ],
)
async def test_accepted_credentials(authorization: str) -> None:
    async with running() as (server, session, _):
        async with session.get(server.url, headers={"Authorization": authorization}) as resp:
            assert resp.status == 200
            assert (await resp.json())["value"]
        assert server.emulator.requests[-1].account == DEMO_ACCOUNT


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        basic(DEMO_USER, "password"),  # plaintext without *pass is taken as a hash
        basic(DEMO_USER, "*passwrong"),
        basic(DEMO_USER, DEMO_PASSWORD_HASH.lower()),
        basic("nobody@example.com", "*pass" + DEMO_PASSWORD),
        basic("apikey", "0" * 32),
        f"Bearer {DEMO_API_KEY}x",
        f"Token {DEMO_API_KEY}",
        "Basic not-base64!",
        "Basic " + "bm9jb2xvbg==",  # "nocolon"
    ],
)
async def test_rejected_credentials(authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    async with running() as (server, session, _):
        async with session.get(f"{server.url}/{SERVICE_SUMMARY}", headers=headers) as resp:
            assert resp.status == 401
            assert resp.headers["WWW-Authenticate"] == (
                'Basic realm="Brightmetrics", Bearer realm="Brightmetrics"'
            )
            body = await resp.json()
        assert body["error"]["code"] == "Unauthorized"
        assert body["error"]["message"]
        record = server.emulator.requests[-1]
        assert (record.account, record.status) == (None, 401)


async def test_accounts_are_isolated() -> None:
    async with running() as (server, session, _):
        other = {"Authorization": f"Bearer {OTHER_API_KEY}"}
        async with session.get(server.url, headers=other) as resp:
            urls = {item["url"] for item in (await resp.json())["value"]}
        assert SERVICE_SUMMARY not in urls
        assert urls
        async with session.get(f"{server.url}/{SERVICE_SUMMARY}", headers=other) as resp:
            assert resp.status == 404
            assert (await resp.json())["error"]["code"] == "NotFound"
        async with session.get(f"{server.url}/{sorted(urls)[0]}", headers=other) as resp:
            assert resp.status == 200
        assert server.emulator.quota_counts() == {OTHER_ACCOUNT: 3}

"""Bad input from the caller is refused at the call, with a typed error and no request spent:
credentials with control characters, wrong argument types, an export onto a directory, an
integer no property can hold. Plus the default account name and the public way to spend the
reserve."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from aiohttp import web

import brightmetrics_async as bm
from brightmetrics_async.testing import DEMO_API_KEY, VirtualClock

from ._hostile import GUID, hostile, spent_equals_seen, unreachable

pytestmark = pytest.mark.anyio

SECRET = "s3cr3t-Value"
CONTROL = ["\r", "\n", "\x00", "\r\nX-Injected: 1", "\x7f", "\x1b"]


@pytest.mark.parametrize("bad", CONTROL)
def test_credentials_with_control_characters_are_refused_when_built(bad: str) -> None:
    attempts: list[Callable[[], object]] = [
        lambda: bm.ApiKey(SECRET + bad + "tail"),
        lambda: bm.ApiKey(SECRET + bad + "tail", basic=True),
        lambda: bm.BasicAuth(f"user{bad}@example.com", password=SECRET),
        lambda: bm.BasicAuth("user@example.com", password=SECRET + bad),
        lambda: bm.BasicAuth("user@example.com", password=SECRET + bad, send_plaintext=True),
        lambda: bm.BasicAuth("user@example.com", password_hash=SECRET + bad),
    ]
    for attempt in attempts:
        with pytest.raises(bm.ConfigurationError) as info:
            attempt()
        assert SECRET not in str(info.value)
        assert SECRET not in repr(info.value)


def test_credentials_that_are_not_strings_are_type_errors() -> None:
    with pytest.raises(TypeError):
        bm.ApiKey(b"key")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        bm.BasicAuth("user@example.com", password=12345)  # type: ignore[arg-type]


def test_control_characters_in_the_environment_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIGHTMETRICS_API_KEY", SECRET + "\nX: y")
    with pytest.raises(bm.ConfigurationError) as info:
        bm.Session(base_url="http://127.0.0.1:9/OData.ashx", budget=bm.MemoryBudget())
    assert SECRET not in str(info.value)


async def test_wrong_argument_types_are_type_errors_at_the_call(tmp_path: Path) -> None:
    async with hostile(unreachable) as (s, service):
        with pytest.raises(TypeError, match="start"):
            s.rows(GUID, start=123)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="typed"):
            s.rows(GUID, typed="yes")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="check"):
            s.pages(GUID, check="no")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="concurrency"):
            s.pull_many([GUID], concurrency="8")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="concurrency"):
            s.pull_many([GUID], concurrency=None)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="items"):
            s.pull_many(None)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="items"):
            s.pull_many(GUID)
        with pytest.raises(bm.ConfigurationError, match="concurrency"):
            s.pull_many([GUID], concurrency=0)
        with pytest.raises(TypeError, match="path"):
            await s.export(GUID, 42, format="csv")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="use_reserve"):
            bm.Session(bm.ApiKey("k"), base_url=service.url, use_reserve="yes")  # type: ignore[arg-type]
        assert await spent_equals_seen(s, service) == 0


@pytest.mark.parametrize("fmt", ["csv", "json"])
async def test_an_export_onto_a_directory_fails_before_spending(tmp_path: Path, fmt: str) -> None:
    async with hostile(unreachable) as (s, service):
        with pytest.raises(bm.ConfigurationError, match="directory"):
            await s.export(GUID, tmp_path, format=fmt)
        assert await spent_equals_seen(s, service) == 0
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value", [10**400, -(10**38), 10**38, float("inf")])
def test_integers_beyond_any_property_are_refused_like_inf(value: float) -> None:
    with pytest.raises(bm.ConfigurationError):
        bm.where(Calls=value)
    with pytest.raises(bm.ConfigurationError):
        bm.where(Calls=bm.gt(value))


@pytest.mark.parametrize("text", ["Calls eq " + "9" * 400, "Calls gt 1e400", "Calls lt -1e999"])
async def test_huge_numbers_in_text_filters_spend_nothing(text: str) -> None:
    async with hostile(unreachable) as (s, service):
        with pytest.raises(bm.ConfigurationError):
            await s.download(GUID, format="csv", filter=text, check=True)
        assert await spent_equals_seen(s, service) == 0


def test_edm_int64_and_decimal_sized_integers_still_go_through() -> None:
    assert bm.render_filter(bm.where(Calls=2**63 - 1)) == f"Calls eq {2**63 - 1}"
    assert bm.render_filter(bm.where(Calls=-(10**38) + 1)) == f"Calls eq {-(10**38) + 1}"


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("https://example.com/OData.ashx", "https://EXAMPLE.COM/OData.ashx"),
        ("https://example.com/OData.ashx", "https://Example.Com./OData.ashx"),
        ("http://localhost:8080/OData.ashx", "http://127.0.0.1:8080/OData.ashx"),
        ("http://localhost:8080/OData.ashx", "http://[::1]:8080/OData.ashx"),
    ],
)
def test_the_default_account_names_one_host_one_way(one: str, other: str) -> None:
    def account(url: str, user: str) -> str:
        auth = bm.BasicAuth(user, password="pw")
        return bm.Session(auth, base_url=url, budget=bm.MemoryBudget()).account

    assert account(one, "a@acme.com") == account(other, "b@ACME.com")
    assert account(one, "a@acme.com") != account(one, "a@other.com")


async def test_use_reserve_spends_the_reserved_tokens() -> None:
    async def answer(request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"a\n", content_type="text/csv")

    clock = VirtualClock()
    budget = bm.MemoryBudget(limit=3, reserve=2, clock=clock)
    async with hostile(answer, clock=clock, budget=budget, max_wait=0, account="acme") as (
        s,
        service,
    ):
        assert await s.download(GUID, format="csv") == b"a\n"
        with pytest.raises(bm.BudgetExhausted):
            await s.download(GUID, format="csv")
        async with bm.Session(
            bm.ApiKey(DEMO_API_KEY),
            base_url=f"{service.url}/OData.ashx",
            budget=budget,
            clock=clock,
            account="acme",
            max_wait=0,
            use_reserve=True,
        ) as person:
            assert await person.download(GUID, format="csv") == b"a\n"
            assert await person.download(GUID, format="csv") == b"a\n"
            with pytest.raises(bm.BudgetExhausted):
                await person.download(GUID, format="csv")
        assert len(service.recorded.targets) == 3 == (await s.budget_status()).spent

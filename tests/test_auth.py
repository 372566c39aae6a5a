"""The three sign-in forms produce exactly the headers of the vendor's curl examples."""

from __future__ import annotations

import base64
import logging

import pytest

import brightmetrics_async as bm
from brightmetrics_async._auth import auth_from_env

VENDOR_HASH = "XohImNooBHFR0OVvjcYpJ3NgPQ1qq73WKhHvch0VQtg="
KEY = "4df21f67c293413fa988d8f1535cd12f"


def _basic(user: str, secret: str) -> str:
    # What `curl -u "user:secret"` sends.
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


def test_hash_password_matches_vendor_examples() -> None:
    assert bm.hash_password("password") == VENDOR_HASH
    assert bm.hash_password("abcd1234") == "6c7nGrky/ehjM40Ivk3p3+OeoEm9r7NCzmWexUULaa4="


def test_basic_with_password_sends_the_hash_not_the_plaintext() -> None:
    auth = bm.BasicAuth("user@example.com", password="password")
    assert auth.header() == _basic("user@example.com", VENDOR_HASH)
    assert "password" not in base64.b64decode(auth.header().split()[1]).decode().split(":", 1)[1]


def test_basic_with_hash() -> None:
    auth = bm.BasicAuth("user@example.com", password_hash=VENDOR_HASH)
    assert auth.header() == _basic("user@example.com", VENDOR_HASH)


def test_star_pass_only_when_asked() -> None:
    auth = bm.BasicAuth("user@example.com", password="password", send_plaintext=True)
    assert auth.header() == _basic("user@example.com", "*passpassword")
    with pytest.raises(bm.ConfigurationError):
        bm.BasicAuth("user@example.com", password_hash=VENDOR_HASH, send_plaintext=True)


def test_api_key_bearer_and_basic() -> None:
    assert bm.ApiKey(KEY).header() == f"Bearer {KEY}"
    assert bm.ApiKey(KEY, basic=True).header() == _basic("apikey", KEY)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("",), {"password": "x"}),
        (("a:b",), {"password": "x"}),
        (("u@example.com",), {}),
        (("u@example.com", "x"), {"password_hash": "y"}),
    ],
)
def test_basic_rejects_bad_input(args: tuple[str, ...], kwargs: dict[str, str]) -> None:
    with pytest.raises(bm.ConfigurationError):
        bm.BasicAuth(*args, **kwargs)  # type: ignore[arg-type]


def test_reprs_hide_secrets(caplog: pytest.LogCaptureFixture) -> None:
    objects = [
        bm.BasicAuth("user@example.com", password="hunter2-secret"),
        bm.BasicAuth("user@example.com", password_hash=VENDOR_HASH),
        bm.ApiKey(KEY),
        bm.ApiKey(KEY, basic=True),
    ]
    with caplog.at_level(logging.DEBUG):
        for obj in objects:
            logging.getLogger("test").debug("auth %r %s", obj, obj)
    text = " ".join(repr(o) + str(o) for o in objects) + caplog.text
    for secret in ("hunter2-secret", bm.hash_password("hunter2-secret"), VENDOR_HASH, KEY):
        assert secret not in text
    assert "user@example.com" in repr(objects[0])


def test_auth_from_env() -> None:
    assert auth_from_env({}) is None
    key = auth_from_env({"BRIGHTMETRICS_API_KEY": KEY})
    assert isinstance(key, bm.ApiKey)
    assert key.header() == f"Bearer {KEY}"
    pw = auth_from_env(
        {"BRIGHTMETRICS_USER": "u@example.com", "BRIGHTMETRICS_PASSWORD": "password"}
    )
    assert pw is not None
    assert pw.header() == _basic("u@example.com", VENDOR_HASH)
    hashed = auth_from_env(
        {"BRIGHTMETRICS_USER": "u@example.com", "BRIGHTMETRICS_PASSWORD_HASH": VENDOR_HASH}
    )
    assert hashed is not None
    assert hashed.header() == _basic("u@example.com", VENDOR_HASH)
    with pytest.raises(bm.ConfigurationError):
        auth_from_env({"BRIGHTMETRICS_USER": "u@example.com"})


def test_identity_is_not_secret() -> None:
    key = bm.ApiKey(KEY)
    assert KEY not in key.identity
    assert key.identity == bm.ApiKey(KEY, basic=True).identity
    assert key.identity != bm.ApiKey(KEY[::-1]).identity

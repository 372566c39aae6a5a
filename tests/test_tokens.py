"""Resume tokens: versioned JSON, strict decoding, local refusal of expired jobs."""

from __future__ import annotations

import base64
import json
import pickle
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brightmetrics_async._errors import ConfigurationError, InvalidToken
from brightmetrics_async._poll_policy import JOB_LIFETIME, PollPolicy
from brightmetrics_async._polling import JobPoller, Poll
from brightmetrics_async._tokens import (
    TOKEN_VERSION,
    JobToken,
    decode_token,
    encode_token,
    resume_poller,
    token_for,
)

STATUS = "https://webapp.brightmetrics.com/OData.ashx/status/5854e5ec-0ad4-4da2-9329-7c1b0e8648ab"
T0 = 1_700_000_000.0
FIELDS = {
    "v",
    "status_url",
    "report",
    "format",
    "submitted_at",
    "expires_at",
    "retry_after",
    "polls",
    "history_key",
    "last_poll_at",
}


def sample(**changes: Any) -> JobToken:
    values: dict[str, Any] = {
        "status_url": STATUS,
        "report": "0c15c8a5-128b-488b-8758-ef15868c3b5b",
        "format": "csv;formatted",
        "submitted_at": T0,
        "expires_at": T0 + JOB_LIFETIME,
        "retry_after": 5.0,
        "polls": 2,
        "history_key": "0c15c8a5|csv;formatted",
        "last_poll_at": T0 + 15.0,
    }
    values.update(changes)
    return JobToken(**values)


def raw(**changes: Any) -> str:
    """A valid encoded token with some JSON fields replaced (or removed with ...)."""
    document = json.loads(encode_token(sample()))
    for key, value in changes.items():
        if value is ...:
            document.pop(key)
        else:
            document[key] = value
    return json.dumps(document)


def edit(old: str, new: str) -> str:
    """The encoded sample token with ``old`` replaced by ``new`` (which must be there)."""
    text = encode_token(sample())
    assert old in text
    return text.replace(old, new)


def test_encoding_is_compact_sorted_versioned_json() -> None:
    text = encode_token(sample())
    document = json.loads(text)
    assert document["v"] == TOKEN_VERSION == 1
    assert set(document) == FIELDS  # nothing else: no credentials, no headers
    assert list(document) == sorted(document)
    assert text == json.dumps(document, sort_keys=True, separators=(",", ":"))
    assert text.isascii()
    assert encode_token(sample()) == text


def test_non_ascii_survives_as_escapes() -> None:
    token = sample(report="Agent Détail ☎", history_key="k\u2028")
    text = encode_token(token)
    assert text.isascii()
    assert decode_token(text, now=T0) == token


def test_round_trip_with_nulls() -> None:
    token = sample(retry_after=None, history_key=None, last_poll_at=None, polls=0)
    assert decode_token(encode_token(token), now=T0) == token


def test_integers_are_accepted_for_times() -> None:
    token = decode_token(raw(submitted_at=int(T0), expires_at=int(T0) + 3600), now=T0)
    assert token.submitted_at == T0
    assert isinstance(token.submitted_at, float)


def test_unknown_extra_keys_are_ignored() -> None:
    assert decode_token(raw(future_field=[1, 2]), now=T0) == sample()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json",
        "[]",
        "null",
        '"token"',
        "{",
        raw(v=...),
        raw(v=2),
        raw(v=0),
        raw(v="1"),
        raw(v=True),
        raw(v=1.0),
        raw(v=None),
        raw(status_url=...),
        raw(status_url=42),
        raw(status_url=""),
        raw(status_url="status/relative"),
        raw(status_url="ftp://webapp.brightmetrics.com/x"),
        raw(status_url="https://"),
        raw(status_url="https://host:99999/x"),
        raw(report=...),
        raw(report=""),
        raw(report=None),
        raw(format=...),
        raw(format=None),
        raw(format=["csv"]),
        raw(submitted_at=...),
        raw(submitted_at="1700000000"),
        raw(submitted_at=True),
        raw(expires_at=None),
        raw(expires_at=T0),
        raw(expires_at=T0 - 1),
        raw(polls=-1),
        raw(polls=1.5),
        raw(polls=True),
        raw(polls=None),
        raw(retry_after=-1),
        raw(retry_after="5"),
        raw(history_key=5),
        raw(last_poll_at="now"),
        edit('"retry_after":5.0', '"retry_after":NaN'),
        edit('"retry_after":5.0', '"retry_after":Infinity'),
        edit('"retry_after":5.0', '"retry_after":1e400'),
        edit('"polls":2', '"polls":' + "9" * 400),
        raw()[:-1] + ',"v":1}',  # a duplicated key
        raw()[:-1] + ',"padding":"' + "x" * 20_000 + '"}',
        "[" * 50_000,
        base64.b64encode(pickle.dumps(sample())).decode(),
        pickle.dumps({"v": 1}, protocol=0).decode("latin-1"),
    ],
)
def test_malformed_tokens_are_refused(text: str) -> None:
    with pytest.raises(InvalidToken):
        decode_token(text, now=T0)


def test_invalid_token_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        decode_token("{}", now=T0)
    with pytest.raises(ValueError, match="version"):
        decode_token("{}", now=T0)


def test_non_string_input_is_refused() -> None:
    with pytest.raises(InvalidToken):
        decode_token(encode_token(sample()).encode(), now=T0)  # type: ignore[arg-type]


def test_expired_token_is_refused_locally() -> None:
    text = encode_token(sample())
    assert decode_token(text, now=T0 + JOB_LIFETIME - 0.001) == sample()
    with pytest.raises(InvalidToken, match="expired"):
        decode_token(text, now=T0 + JOB_LIFETIME)
    with pytest.raises(InvalidToken, match="expired"):
        decode_token(text, now=T0 + 10 * JOB_LIFETIME)


@pytest.mark.parametrize(
    "changes",
    [
        {"version": 2},
        {"status_url": "file:///etc/passwd"},
        {"submitted_at": float("nan")},
        {"expires_at": float("inf")},
        {"expires_at": T0},
        {"polls": -1},
        {"retry_after": -0.5},
        {"report": ""},
    ],
)
def test_inconsistent_tokens_cannot_be_built(changes: dict[str, Any]) -> None:
    with pytest.raises(InvalidToken):
        sample(**changes)


finite = st.floats(min_value=0, max_value=4e9, allow_nan=False)
tokens = st.builds(
    lambda submitted, life, **rest: JobToken(
        submitted_at=submitted, expires_at=submitted + life, **rest
    ),
    finite,
    st.floats(min_value=1e-3, max_value=JOB_LIFETIME),
    status_url=st.sampled_from([STATUS, "http://127.0.0.1:8080/OData.ashx/status/1?a=%20b"]),
    report=st.text(min_size=1),
    format=st.text(),
    retry_after=st.none() | st.floats(min_value=0, max_value=1e6),
    polls=st.integers(min_value=0, max_value=10**6),
    history_key=st.none() | st.text(),
    last_poll_at=st.none() | finite,
)


@given(tokens)
def test_round_trip(token: JobToken) -> None:
    assert decode_token(encode_token(token), now=token.submitted_at) == token


@given(st.text())
def test_any_string_is_a_token_or_invalid_token(text: str) -> None:
    try:
        token = decode_token(text, now=T0)
    except InvalidToken:
        return
    assert isinstance(token, JobToken)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=10,
)


@given(st.dictionaries(st.sampled_from(sorted(FIELDS)), json_values), st.booleans())
def test_any_json_object_is_a_token_or_invalid_token(
    fields: dict[str, Any], start_valid: bool
) -> None:
    document = json.loads(encode_token(sample())) if start_valid else {}
    document.update(fields)
    try:
        token = decode_token(json.dumps(document), now=T0)
    except InvalidToken:
        return
    assert decode_token(encode_token(token), now=T0) == token


def test_resume_carries_on_where_the_job_left_off() -> None:
    policy = PollPolicy(learn=False)
    moved = STATUS + "-moved"
    poller = JobPoller(STATUS, submitted_at=T0, retry_after=5.0, policy=policy)
    now = T0
    for poll in range(3):
        now = poller.next_poll_at
        assert isinstance(poller.next_action(now), Poll)
        headers = {"Retry-After": "7"} | ({"Location": moved} if poll == 1 else {})
        poller.on_response(202, headers, None, now=now)
    token = token_for(poller, report="Service Summary", format="csv")
    text = encode_token(token)
    assert "Authorization" not in text
    resumed = resume_poller(decode_token(text, now=now + 1), policy=policy)
    assert resumed.status_url == moved
    assert resumed.polls == poller.polls == 3
    assert resumed.retry_after == 7.0
    assert resumed.next_poll_at == poller.next_poll_at
    assert resumed.expires_at == poller.expires_at
    assert resumed.next_action(now + 1) == poller.next_action(now + 1)

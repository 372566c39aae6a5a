"""Property-based fuzzing of every parser that reads server data (or a token a user hands in).

Each parser is fed arbitrary bytes, structurally plausible documents with arbitrary values, and
hand-written hostile inputs. The only outcomes allowed: a normal return, or an error of the
library's tree (``BrightmetricsError``). Anything else - KeyError, TypeError, RecursionError,
a defusedxml or cattrs exception - is a bug.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import brightmetrics_async as bm
from brightmetrics_async._metadata import (
    MAX_METADATA_BYTES,
    parse_filter_metadata,
    parse_root_metadata,
)
from brightmetrics_async._models import FilterSchema, Page, Report
from brightmetrics_async._polling import (
    Accepted,
    Done,
    Expired,
    Failed,
    Immediate,
    JobPoller,
    Pending,
    Poll,
    interpret_submit,
)
from brightmetrics_async._protocol import (
    error_for_status,
    origin_of,
    parse_odata_error,
    parse_page,
    parse_service_document,
)
from brightmetrics_async._retry_after import MAX_RETRY_AFTER, parse_retry_after
from brightmetrics_async._tokens import JobToken, decode_token, encode_token

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NOW = 1_767_225_600.0
BASE = "https://webapp.brightmetrics.com/OData.ashx"

# -- strategies ---------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
KEYS = [
    "value",
    "@odata.nextLink",
    "@nextLink",
    "@odata.context",
    "name",
    "title",
    "kind",
    "url",
    "statusUrl",
    "error",
    "code",
    "message",
]
odata_like = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=5)
report_like = st.fixed_dictionaries(
    {},
    optional=dict.fromkeys(("name", "title", "kind", "url"), scalars),
)
service_docs = st.builds(
    lambda value, extra: {**extra, "value": value},
    st.lists(report_like | json_values, max_size=4),
    odata_like,
)
pages = st.builds(
    lambda rows, link, extra: {**extra, "value": rows, "@odata.nextLink": link},
    st.lists(st.dictionaries(st.text(max_size=8), scalars, max_size=3) | json_values, max_size=4),
    st.none() | st.text(max_size=30) | json_values,
    odata_like,
)


def as_bytes(doc: Any) -> bytes:
    return json.dumps(doc).encode()


bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(as_bytes),
    odata_like.map(as_bytes),
    st.text(max_size=100).map(lambda t: t.encode("utf-8", "surrogatepass")),
)


def allowed(call: Callable[[], Any]) -> Any:
    """Run ``call``; a library error is an allowed outcome (returned as None)."""
    try:
        return call()
    except bm.BrightmetricsError:
        return None


# -- service document and pages ----------------------------------------------------------------


@FUZZ
@given(st.one_of(bodies, service_docs.map(as_bytes)))
def test_service_document(body: bytes) -> None:
    reports = allowed(lambda: parse_service_document(body))
    if reports is not None:
        assert all(isinstance(r, Report) for r in reports)


@FUZZ
@given(st.one_of(bodies, pages.map(as_bytes)))
def test_page(body: bytes) -> None:
    page = allowed(lambda: parse_page(body))
    if page is not None:
        assert isinstance(page, Page)
        assert isinstance(page.rows, list)
        assert page.next_link is None or (isinstance(page.next_link, str) and page.next_link)


def test_deeply_nested_json_is_refused_cleanly() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    for parse in (parse_page, parse_service_document):
        allowed(lambda parse=parse: parse(deep))  # type: ignore[misc]
        allowed(lambda parse=parse: parse(b'{"value": ' + deep + b"}"))  # type: ignore[misc]


# -- CSDL metadata -----------------------------------------------------------------------------

EDMX = "http://docs.oasis-open.org/odata/ns/edmx"
EDM = "http://docs.oasis-open.org/odata/ns/edm"
names = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=12)


def _attr(value: str) -> str:
    return (
        value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
    )


@st.composite
def csdl(draw: st.DrawFn) -> bytes:
    props = draw(st.lists(st.tuples(names, names), max_size=4))
    et_name, ns, set_name, set_type = draw(names), draw(names), draw(names), draw(names)
    with_container = draw(st.booleans())
    prop_xml = "".join(f'<Property Name="{_attr(n)}" Type="{_attr(t)}"/>' for n, t in props)
    container = (
        f'<EntityContainer Name="C"><EntitySet Name="{_attr(set_name)}" '
        f'EntityType="{_attr(set_type)}"/></EntityContainer>'
        if with_container
        else ""
    )
    doc = (
        f'<edmx:Edmx xmlns:edmx="{EDMX}" Version="4.0"><edmx:DataServices>'
        f'<Schema xmlns="{EDM}" Namespace="{_attr(ns)}">'
        f'<EntityType Name="{_attr(et_name)}">{prop_xml}</EntityType>{container}'
        "</Schema></edmx:DataServices></edmx:Edmx>"
    )
    cut = draw(st.none() | st.integers(0, len(doc)))
    return doc.encode()[:cut] if cut is not None else doc.encode()


HOSTILE_XML = [
    # billion laughs
    b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
    b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
    b'<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]><edmx:Edmx xmlns:edmx="'
    + EDMX.encode()
    + b'">&d;</edmx:Edmx>',
    # external entity, parameter entity, external DTD
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd">%p;]><x/>',
    b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://127.0.0.1:9/x.dtd"><x/>',
    # quadratic blowup without nesting
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "'
    + b"a" * 10_000
    + b'">]><x>'
    + b"&a;" * 1000
    + b"</x>",
    # oversized, deep nesting
    b"<edmx:Edmx>" + b" " * (MAX_METADATA_BYTES + 1) + b"</edmx:Edmx>",
    b"<a>" * 50_000 + b"</a>" * 50_000,
    b"",
    b"\x00\xff",
]


@FUZZ
@given(st.one_of(csdl(), st.binary(max_size=300), st.sampled_from(HOSTILE_XML)))
def test_metadata(body: bytes) -> None:
    schema = allowed(lambda: parse_filter_metadata(body))
    if schema is not None:
        assert isinstance(schema, FilterSchema)
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in schema.items())
    sets = allowed(lambda: parse_root_metadata(body))
    if sets is not None:
        assert isinstance(sets, dict)


@pytest.mark.parametrize("body", HOSTILE_XML[:6], ids=lambda b: repr(b[:30]))
def test_hostile_xml_is_always_refused(body: bytes) -> None:
    for parse in (parse_filter_metadata, parse_root_metadata):
        with pytest.raises(bm.UnexpectedResponse):
            parse(body)


# -- Retry-After -------------------------------------------------------------------------------

retry_after_text = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.integers(-(10**15), 10**15).map(str),
    st.floats().map(str),
    st.datetimes().map(lambda d: d.strftime("%a, %d %b %Y %H:%M:%S GMT")),
    st.lists(st.integers(0, 10**6).map(str), min_size=1, max_size=4).map(", ".join),
)


@FUZZ
@given(retry_after_text, st.floats(allow_nan=True, allow_infinity=True) | st.just(NOW))
def test_retry_after_never_raises(value: str | None, now: float) -> None:
    seconds = parse_retry_after(value, now=now)
    assert seconds is None or (math.isfinite(seconds) and 0 <= seconds <= MAX_RETRY_AFTER)


# -- 202 answers and status polls --------------------------------------------------------------

headers = st.dictionaries(
    st.sampled_from(["Location", "Retry-After", "Content-Type", "location", "retry-after", "X"]),
    st.text(max_size=60)
    | st.sampled_from(
        [
            f"{BASE}/status/1",
            "/OData.ashx/status/2",
            "https://evil.example/s",
            "http://[::1",
            "https://u:p@webapp.brightmetrics.com/s",
            "5",
        ]
    ),
    max_size=3,
)
statuses = st.sampled_from(
    [200, 202, 204, 301, 400, 401, 404, 408, 410, 429, 500, 503]
) | st.integers(100, 599)
status_bodies = st.one_of(
    st.none(),
    bodies,
    st.sampled_from(
        [f"{BASE}/status/3", "https://evil.example/s", "", "  ", "/relative", "http://[::1"]
    ).map(lambda u: as_bytes({"statusUrl": u})),
)


@FUZZ
@given(statuses, headers, status_bodies)
def test_submit_answers(status: int, hdrs: dict[str, str], body: bytes | None) -> None:
    result = allowed(lambda: interpret_submit(status, hdrs, body, request_url=f"{BASE}/x", now=NOW))
    if isinstance(result, Accepted):
        assert origin_of(result.status_url) == origin_of(BASE), "never another origin"
    else:
        assert result is None or isinstance(result, Immediate)


@FUZZ
@given(st.lists(st.tuples(statuses, headers, status_bodies), min_size=1, max_size=6))
def test_poll_answers(answers: list[tuple[int, dict[str, str], bytes | None]]) -> None:
    poller = JobPoller(f"{BASE}/status/1", submitted_at=NOW)
    now = NOW
    for status, hdrs, body in answers:
        action = allowed(lambda now=now: poller.next_action(now))  # type: ignore[misc]
        if action is None:
            return  # no longer pending: a library error, as documented
        if not isinstance(action, Poll):
            now = getattr(action, "until", now + 1.0)
            action = allowed(lambda now=now: poller.next_action(now))  # type: ignore[misc]
            if not isinstance(action, Poll):
                return
        outcome = allowed(
            lambda s=status, h=hdrs, b=body, now=now: poller.on_response(s, h, b, now=now)  # type: ignore[misc]
        )
        assert outcome is None or isinstance(outcome, Done | Pending | Expired | Failed)
        assert origin_of(poller.status_url) == origin_of(BASE), "never another origin"


# -- resume tokens -----------------------------------------------------------------------------

VALID_TOKEN = {
    "v": 1,
    "status_url": f"{BASE}/status/1",
    "report": "r",
    "format": "csv",
    "submitted_at": NOW - 60,
    "expires_at": NOW + 3540,
    "retry_after": 5.0,
    "polls": 2,
    "history_key": "r|csv",
    "last_poll_at": NOW - 5,
}
# A valid token with up to two fields replaced or dropped: near misses find the bugs.
token_docs = st.builds(
    lambda changes, drop: {k: v for k, v in {**VALID_TOKEN, **changes}.items() if k not in drop},
    st.dictionaries(st.sampled_from(sorted(VALID_TOKEN)), scalars, max_size=2),
    st.sets(st.sampled_from(sorted(VALID_TOKEN)), max_size=1),
)


@FUZZ
@given(st.one_of(st.text(max_size=300), token_docs.map(json.dumps), json_values.map(json.dumps)))
def test_tokens(text: str) -> None:
    token = allowed(lambda: decode_token(text, now=NOW))
    if token is not None:
        assert isinstance(token, JobToken)
        assert decode_token(encode_token(token), now=NOW) == token


def test_hostile_tokens() -> None:
    for text in ["[" * 100_000, '{"v": 1e999}', '{"v":1,"v":1}', "NaN", "x" * 100_000, "\ud800"]:
        allowed(lambda text=text: decode_token(text, now=NOW))  # type: ignore[misc]


# -- error bodies ------------------------------------------------------------------------------

content_types = (
    st.none()
    | st.sampled_from(
        ["application/json", "text/html", "text/plain", "application/xml", "", "json"]
    )
    | st.text(max_size=20)
)


@FUZZ
@given(bodies, content_types)
def test_odata_error_bodies(body: bytes, ctype: str | None) -> None:
    code, message = parse_odata_error(body, ctype)
    assert code is None or isinstance(code, str)
    assert message is None or (isinstance(message, str) and len(message) <= 300)


@FUZZ
@given(statuses, bodies, content_types, st.none() | st.floats(0, 1e6))
def test_error_for_status(status: int, body: bytes, ctype: str | None, ra: float | None) -> None:
    hdrs = {} if ctype is None else {"Content-Type": ctype}
    error = error_for_status(status, hdrs, body, retry_after=ra)
    if status < 400:
        assert error is None
    else:
        assert isinstance(error, bm.ApiError)
        assert error.status == status
        str(error), repr(error)

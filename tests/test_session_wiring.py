"""``_session_wiring``: the argument checks of ``Session(...)`` and the parts it builds.

Through the public constructor, as users call it: what a session owns (and closes), what it
was given (and leaves open), and the derived settings. No request is sent by any of these.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import brightmetrics_async as bm
from brightmetrics_async import _session_wiring
from brightmetrics_async._session_wiring import DEFAULT_BASE_URL, DEFAULT_MAX_WAIT
from brightmetrics_async.testing import DEMO_API_KEY, VirtualClock

pytestmark = pytest.mark.anyio
KEY = bm.ApiKey(DEMO_API_KEY)
LOCAL = "http://127.0.0.1:1/OData.ashx"


async def test_the_defaults_are_the_vendors_root_and_owned_sqlite_stores(
    isolated_state: Path,
) -> None:
    s = bm.Session(KEY)
    try:
        assert s.base_url == DEFAULT_BASE_URL
        assert isinstance(s.budget, bm.SQLiteBudget)
        assert isinstance(s.knowledge.store, bm.SQLiteKnowledge)
        # The default budget waits DEFAULT_MAX_WAIT for a token, and a job-key claim outlives
        # that wait by two minutes.
        assert s._claim_timeout == DEFAULT_MAX_WAIT + 120.0
        assert s.knowledge.scope == f"{s.account}|{DEFAULT_BASE_URL}"
        assert s._job_scope() == f"{s.account}\n{DEFAULT_BASE_URL}"
        # The default job keys open on first use, in the (isolated) state directory.
        keys = s._keys()
        assert isinstance(keys, bm.SQLiteJobKeys)
        assert s._keys() is keys
        assert str(keys.path).startswith(str(isolated_state))
    finally:
        await s.aclose()
    assert s.requests_sent == 0


class CountedBudget(bm.MemoryBudget):
    closed = 0

    async def aclose(self) -> None:
        self.closed += 1
        await super().aclose()


class CountedKeys(bm.SQLiteJobKeys):
    closed = 0

    async def aclose(self) -> None:
        self.closed += 1
        await super().aclose()


async def test_what_the_caller_passes_is_used_as_given_and_left_open(tmp_path: Path) -> None:
    clock = VirtualClock()
    budget = CountedBudget(clock=clock)
    results = bm.MemoryResultCache()
    keys = CountedKeys(tmp_path / "jobs.sqlite3")
    s = bm.Session(
        KEY,
        base_url=LOCAL + "/",
        budget=budget,
        clock=clock,
        max_wait=None,
        cache=None,
        result_cache=results,
        job_keys=keys,
        account="acme",
    )
    assert (s.base_url, s.account, s.clock, s.budget) == (LOCAL, "acme", clock, budget)
    assert s.knowledge.store is None
    assert s._keys() is keys
    assert s._claim_timeout == 3600.0  # no bound on the wait: a claim lives an hour
    await s.aclose()
    assert (budget.closed, keys.closed) == (0, 0), "the caller's stores are the caller's to close"
    await keys.aclose()


class CountedSQLiteBudget(bm.SQLiteBudget):
    closed = 0

    async def aclose(self) -> None:
        self.closed += 1
        await super().aclose()


async def test_the_stores_a_session_made_are_closed_with_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_session_wiring, "SQLiteJobKeys", CountedKeys)
    monkeypatch.setattr(_session_wiring, "SQLiteBudget", CountedSQLiteBudget)
    s = bm.Session(KEY, base_url=LOCAL, cache=None)
    keys = s._keys()
    assert isinstance(keys, CountedKeys)
    assert isinstance(s.budget, CountedSQLiteBudget)
    assert await keys.live(s._job_scope(), now=0.0) == []  # opens the default file
    await s.aclose()
    assert (s.budget.closed, keys.closed) == (1, 1)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"format_via": "body"}, bm.ConfigurationError, "format_via"),
        ({"base_url": "http://example.com/OData.ashx"}, bm.ConfigurationError, "plain HTTP"),
        ({"cache": "yes"}, TypeError, "cache must be a KnowledgeStore"),
    ],
)
async def test_bad_arguments_are_refused_when_the_session_is_built(
    kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        bm.Session(KEY, budget=bm.MemoryBudget(), **kwargs)  # type: ignore[arg-type]


async def test_no_credentials_is_refused_before_anything_else() -> None:
    # Even with another bad argument, the missing credential is what is reported.
    with pytest.raises(bm.ConfigurationError, match="no credentials"):
        bm.Session(format_via="body")  # type: ignore[arg-type]

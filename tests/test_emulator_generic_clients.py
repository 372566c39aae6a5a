"""Two independent, unpatched OData clients read every report from the emulator's root URL.

python-odata 0.8.1 reflects the root ``$metadata`` into entity classes and follows
``@odata.nextLink`` (the vendor's time slices); sqlalchemy-odata (a shillelagh adapter) lists
the entity sets and pages with its own ``$top`` / ``$skip``. Both request reports by entity-set
name, never by GUID. Each must read exactly the rows ``Session.rows`` reads, row for row.

Normalisation, and why it is faithful: both clients turn ``Edm.DateTimeOffset`` values into
aware ``datetime`` objects (python-odata with dateutil, sqlalchemy-odata through SQLite), so
the library's strings (7 fractional digits, ``Z``) are parsed the same way and compared as
instants with their offset present; every other value (strings, ``Edm.Int32`` ints,
``Edm.Double`` floats) must be equal as is, type included.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import anyio
import pytest

import brightmetrics_async as bm
from brightmetrics_async.testing import (
    DEMO_API_KEY,
    DEMO_PASSWORD,
    DEMO_USER,
    Emulator,
    EmulatorConfig,
    EmulatorServer,
    VirtualClock,
    serve,
)
from brightmetrics_async.testing._reports import default_reports

from ._emulator_helpers import START

pytestmark = [
    pytest.mark.anyio,
    # sqlalchemy-odata 0.2.3's dialect still uses SQLAlchemy's old dbapi() hook.
    pytest.mark.filterwarnings("ignore:The dbapi\\(\\) classmethod:DeprecationWarning"),
]

REPORTS = default_reports()
DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}(Z|[+-]\d\d:\d\d)")


def normalise(row: dict[str, Any], datetime_columns: set[str]) -> dict[str, Any]:
    """The library's raw row with its Edm.DateTimeOffset strings parsed into aware datetimes."""
    out = dict(row)
    for name in datetime_columns:
        text = out[name]
        assert DATETIME.fullmatch(text), text
        out[name] = datetime.fromisoformat(text[:26] + text[27:].replace("Z", "+00:00"))
    return out


def same_rows(expected: list[dict[str, Any]], got: list[dict[str, Any]]) -> None:
    assert len(got) == len(expected)
    for want, have in zip(expected, got, strict=True):
        assert set(have) == set(want)
        for name, value in want.items():
            if isinstance(value, datetime):
                assert isinstance(have[name], datetime)
                assert have[name].utcoffset() is not None, "an aware datetime"
            else:
                assert type(have[name]) is type(value), (name, have[name], value)
            assert have[name] == value, (name, have[name], value)


async def library_rows(server: EmulatorServer) -> dict[str, list[dict[str, Any]]]:
    """Every report's rows as ``Session.rows`` reads them, normalised, by entity-set name."""
    out = {}
    async with bm.Session(
        bm.ApiKey(DEMO_API_KEY), base_url=server.url, budget=bm.MemoryBudget()
    ) as session:
        for report in REPORTS:
            dates = {c.name for c in report.columns if c.type == "Edm.DateTimeOffset"}
            async with session.rows(report.guid) as rows:
                out[report.entity_set] = [normalise(row, dates) async for row in rows]
    return out


def python_odata_rows(url: str) -> dict[str, list[dict[str, Any]]]:
    from odata import ODataService
    from requests.auth import HTTPBasicAuth

    service = ODataService(
        url,
        reflect_entities=True,
        auth=HTTPBasicAuth(DEMO_USER, "*pass" + DEMO_PASSWORD),
        quiet_progress=True,
    )
    out = {}
    for name, entity in service.entities.items():
        out[name] = [
            {prop.name: getattr(item, attr) for attr, prop in item.__odata__.properties}
            for item in service.query(entity)
        ]
    return out


def sqlalchemy_odata_rows(server: EmulatorServer) -> dict[str, list[dict[str, Any]]]:
    import sqlalchemy as sa

    host, _, port = server.origin.removeprefix("http://").rpartition(":")
    url = sa.engine.URL.create(
        "odata",
        username=DEMO_USER,
        password="*pass" + DEMO_PASSWORD,
        host=host,
        port=int(port),
        database=server.url.removeprefix(server.origin + "/"),
    )
    engine = sa.create_engine(url)
    out = {}
    try:
        with engine.connect() as conn:
            for name in sa.inspect(conn).get_table_names():
                everything: Any = sa.select(sa.literal_column("*")).select_from(sa.table(name))
                result = conn.execute(everything)
                out[name] = [dict(row) for row in result.mappings()]
    finally:
        engine.dispose()
    return out


@pytest.fixture
async def server() -> Any:
    clock = VirtualClock(START, autojump=False)  # one fixed "today" for every client
    config = EmulatorConfig(quota_limit=None)
    async with serve(Emulator(config, clock=clock.time)) as running:
        yield running


async def test_python_odata_reads_what_session_rows_reads(server: EmulatorServer) -> None:
    pytest.importorskip("odata")
    expected = await library_rows(server)
    seen = len(server.emulator.requests)
    got = await anyio.to_thread.run_sync(python_odata_rows, server.url)
    assert sorted(got) == sorted(expected)
    for name, rows in expected.items():
        assert rows, name
        same_rows(rows, got[name])
    # Reports were asked for by entity-set name, and the detail ones walked by next links.
    targets = [r.target for r in server.emulator.requests[seen:]]
    assert all(r.status == 200 for r in server.emulator.requests[seen:])
    for report in REPORTS:
        assert f"/OData.ashx/{report.entity_set}" in targets
    assert any("$skiptoken=" in t for t in targets)


async def test_sqlalchemy_odata_reads_what_session_rows_reads(server: EmulatorServer) -> None:
    pytest.importorskip("shillelagh_odata")
    expected = await library_rows(server)
    seen = len(server.emulator.requests)
    got = await anyio.to_thread.run_sync(sqlalchemy_odata_rows, server)
    assert sorted(got) == sorted(expected)
    for name, rows in expected.items():
        assert rows, name
        same_rows(rows, got[name])
    # It pages with $top/$skip by entity-set name: at least one report needed several windows.
    targets = [r.target for r in server.emulator.requests[seen:]]
    assert all(r.status == 200 for r in server.emulator.requests[seen:])
    assert any("%24skip=500" in t for t in targets)
    assert not any("$skiptoken" in t for t in targets)

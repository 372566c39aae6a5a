"""The service document and both CSDL documents."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from defusedxml import ElementTree

from brightmetrics_async.testing._reports import (
    default_reports,
    entity_set_name,
    filter_property_name,
)
from tests._emulator_helpers import AGENT_DETAIL, BEARER, running

pytestmark = pytest.mark.anyio

EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
EDMX = "{http://docs.oasis-open.org/odata/ns/edmx}"
SCHEMAS = Path(__file__).parent / "data" / "odata-schemas"
VENDOR_NAMES = {
    "03bd1235-eb2c-410f-a415-fefacd98df41": "Service_Summary_03bd1235eb2c410fa415fefacd98df41",
    "041cee41-ac5f-4455-a02d-022705afe417": (
        "Agent_Activity_Summary___All__Saved_MSC_Agents__041cee41ac5f4455a02d022705afe417"
    ),
    "0c15c8a5-128b-488b-8758-ef15868c3b5b": (
        "Helpdesk_Workgroup_Service_Level_Summary_w_o_Wait_Time_0c15c8a5128b488b8758ef15868c3b5b"
    ),
}


def test_naming_rules() -> None:
    assert filter_property_name("Time - Call - Total") == "Time_Call_Total"
    assert filter_property_name("Call Date/Time") == "Call_Date_Time"
    assert entity_set_name("A - B (c)", "0c15c8a5-128b-488b-8758-ef15868c3b5b") == (
        "A___B__c__0c15c8a5128b488b8758ef15868c3b5b"
    )


async def test_service_document_matches_the_vendor() -> None:
    async with (
        running() as (server, session, _),
        session.get(server.url + "/", headers=BEARER) as resp,
    ):
        assert resp.status == 200
        assert resp.content_type == "application/json"
        doc = await resp.json()
    # The document's example: the context URL has no service root (/OData.ashx) in it.
    assert doc["@odata.context"] == f"{server.origin}/$metadata"
    assert server.url.startswith("http://127.0.0.1:")
    items = {item["url"]: item for item in doc["value"]}
    for guid, name in VENDOR_NAMES.items():
        assert items[guid]["name"] == name
        assert items[guid]["kind"] == "EntitySet"
    assert items["68c8e362-b2c2-6f6d-498b-af782b253239"]["title"] == "Search by CallerID"
    assert items[AGENT_DETAIL]["title"] == "Agent Detail"
    assert len(items) >= 5
    for item in doc["value"]:
        assert set(item) == {"name", "title", "kind", "url"}


async def test_filter_metadata_has_the_vendors_shape() -> None:
    async with (
        running() as (server, session, _),
        session.get(f"{server.url}/{AGENT_DETAIL}/$metadata", headers=BEARER) as resp,
    ):
        assert resp.status == 200
        assert resp.content_type == "application/xml"
        text = await resp.text()
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?>')
    root = ElementTree.fromstring(text.encode())
    entity_type = root.find(f"{EDMX}DataServices/{EDM}Schema/{EDM}EntityType")
    assert entity_type is not None
    assert entity_type.get("Name") == f"filters_{AGENT_DETAIL}"
    props = [(p.get("Name"), p.get("Type")) for p in entity_type.findall(f"{EDM}Property")]
    assert props == [
        ("Call_Date_Time", "Edm.DateTimeOffset"),
        ("Media_Type", "Edm.String"),
        ("Agent_Name", "Edm.String"),
        ("Agent_Name_by_Queue_Membership", "Edm.String"),
        ("Agent_Name_by_Skill", "Edm.String"),
        ("Agent_Name_by_Group_Membership", "Edm.String"),
        ("Time_Talk_Total", "Edm.Double"),
    ]
    container = root.find(f"{EDMX}DataServices/{EDM}Schema/{EDM}EntityContainer")
    assert container is not None
    assert container.get("Name") == "Saved Reports"
    entity_set = container.find(f"{EDM}EntitySet")
    assert entity_set is not None
    assert entity_set.get("Name") == "Agent_Detail_6f40b845fb284547b73be11ce29f481b_filters"
    assert entity_set.get("EntityType") == f"Brightmetrics.filters_{AGENT_DETAIL}"


VENDOR_QUIRKS = {
    # (element, attribute) the OASIS schema rejects in the vendor's filter document: a GUID
    # with dashes in the EntityType name and in the EntitySet's reference, a space in the
    # container name.
    ("EntityType", "Name"),
    ("EntitySet", "EntityType"),
    ("EntityContainer", "Name"),
}
GUID = re.compile(r"[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}")


def schema_quirks(body: bytes) -> set[tuple[str, str]]:
    """Which (element, attribute) pairs fail the OASIS CSDL schema, checking that those are
    the only failures: with GUID dashes and the container's space replaced, it validates."""
    etree = pytest.importorskip("lxml.etree")
    xsd = etree.XMLSchema(etree.parse(str(SCHEMAS / "edmx.xsd")))
    assert not xsd.validate(etree.fromstring(body))
    found = set()
    for error in xsd.error_log:
        assert error.type_name == "SCHEMAV_CVC_PATTERN_VALID", error.message
        match = re.match(r"Element '\{[^}]+\}(\w+)', attribute '(\w+)'", error.message)
        assert match is not None, error.message
        found.add((match.group(1), match.group(2)))
    text = GUID.sub(lambda m: m[0].replace("-", ""), body.decode())
    fixed = text.replace('Name="Saved Reports"', 'Name="Saved_Reports"').encode()
    assert xsd.validate(etree.fromstring(fixed)), xsd.error_log
    return found


async def test_root_metadata_describes_every_report_with_the_vendors_naming() -> None:
    async with (
        running() as (server, session, _),
        session.get(f"{server.url}/%24metadata", headers=BEARER) as resp,
    ):
        assert resp.status == 200
        assert resp.content_type == "application/xml"
        assert resp.headers["OData-Version"] == "4.0"
        body = await resp.read()
    root = ElementTree.fromstring(body)
    schema = root.find(f"{EDMX}DataServices/{EDM}Schema")
    assert schema is not None
    types = {t.get("Name"): t for t in schema.findall(f"{EDM}EntityType")}
    sets = {s.get("Name"): s.get("EntityType") for s in schema.iter(f"{EDM}EntitySet")}
    container = schema.find(f"{EDM}EntityContainer")
    assert container is not None
    assert container.get("Name") == "Saved Reports"  # as in the filter documents
    for report in default_reports():
        type_name = f"report_{report.guid}"  # dashes kept, like filters_<guid>
        columns = [p.get("Name") for p in types[type_name].findall(f"{EDM}Property")]
        assert columns == [c.name for c in report.columns]
        assert sets[report.entity_set] == f"Brightmetrics.{type_name}"
    # Entity sets are the service document's names, which generic clients request.
    for name in sets:
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,127}", name or "")
    # A strict parser that accepts this document also accepts the filter documents.
    assert schema_quirks(body) == VENDOR_QUIRKS


async def test_filter_metadata_keeps_the_vendors_invalid_names() -> None:
    # The vendor's filter document uses a dash-y EntityType name and a container name with a
    # space: a strict CSDL validator rejects it, and the emulator must reproduce that.
    etree = pytest.importorskip("lxml.etree")
    async with (
        running() as (server, session, _),
        session.get(f"{server.url}/{AGENT_DETAIL}/$metadata", headers=BEARER) as resp,
    ):
        body = await resp.read()
    xsd = etree.XMLSchema(etree.parse(str(SCHEMAS / "edmx.xsd")))
    assert not xsd.validate(etree.fromstring(body))
    # ... on the vendor's three quirks, and on nothing else.
    assert schema_quirks(body) == VENDOR_QUIRKS

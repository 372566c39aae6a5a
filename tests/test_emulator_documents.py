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
    assert doc["@odata.context"] == f"{server.url}/$metadata"
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


async def test_root_metadata_describes_every_report_and_is_valid_csdl() -> None:
    async with (
        running() as (server, session, _),
        session.get(f"{server.url}/%24metadata", headers=BEARER) as resp,
    ):
        assert resp.status == 200
        assert resp.content_type == "application/xml"
        body = await resp.read()
    root = ElementTree.fromstring(body)
    schema = root.find(f"{EDMX}DataServices/{EDM}Schema")
    assert schema is not None
    types = {t.get("Name"): t for t in schema.findall(f"{EDM}EntityType")}
    sets = {s.get("Name"): s.get("EntityType") for s in schema.iter(f"{EDM}EntitySet")}
    for report in default_reports():
        columns = [p.get("Name") for p in types[report.entity_set].findall(f"{EDM}Property")]
        assert columns == [c.name for c in report.columns]
        assert sets[report.entity_set] == f"Brightmetrics.{report.entity_set}"
    for name in list(types) + list(sets):
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,127}", name or "")
    etree = pytest.importorskip("lxml.etree")
    xsd = etree.XMLSchema(etree.parse(str(SCHEMAS / "edmx.xsd")))
    doc = etree.fromstring(body)
    assert xsd.validate(doc), xsd.error_log


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

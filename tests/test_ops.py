"""The session's operation flows, run synchronously: documents once, reports, data requests."""

from __future__ import annotations

import json

import pytest

import brightmetrics_async as bm
from brightmetrics_async._dry_run import Answer, SyncDriver
from brightmetrics_async._fetch import Policy
from brightmetrics_async._ops import Ops
from brightmetrics_async._request import Query, Request, Requests

BASE = "https://webapp.brightmetrics.com/OData.ashx"
CALLER_ID = "68c8e362-b2c2-6f6d-498b-af782b253239"
SERVICE = {
    "@odata.context": f"{BASE}/$metadata",
    "value": [
        {
            "name": "Search_by_CallerID",
            "title": "Search by CallerID",
            "kind": "EntitySet",
            "url": CALLER_ID,
        },
    ],
}
FILTERS = b"""<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
 <edmx:DataServices><Schema Namespace="Filters" xmlns="http://docs.oasis-open.org/odata/ns/edm">
  <EntityType Name="Filter"><Property Name="Call_Type" Type="Edm.String"/></EntityType>
  <EntityContainer Name="C"><EntitySet Name="Filters" EntityType="Filters.Filter"/></EntityContainer>
 </Schema></edmx:DataServices></edmx:Edmx>"""


def respond(request: Request, now: float) -> Answer:
    if request.purpose == "service document":
        return Answer(200, {"Content-Type": "application/json"}, json.dumps(SERVICE).encode())
    if request.purpose == "filter metadata":
        return Answer(200, {"Content-Type": "application/xml"}, FILTERS)
    raise AssertionError(request)


def ops(check: bool = True) -> Ops:
    return Ops(Policy(BASE), Requests(BASE, format_via="header"), check_filters=check)


def test_a_title_costs_the_service_document_once() -> None:
    driver = SyncDriver(respond)
    o = ops()
    assert driver.run(o.report("Search by CallerID")).url == CALLER_ID
    assert driver.run(o.report("Search_by_CallerID")).title == "Search by CallerID"
    assert [r.purpose for r in driver.sent] == ["service document"]


def test_a_guid_costs_nothing() -> None:
    driver = SyncDriver(respond)
    assert driver.run(ops().report(CALLER_ID)).url == CALLER_ID
    assert driver.sent == []


def test_a_filter_is_checked_against_the_schema_fetched_once() -> None:
    driver = SyncDriver(respond)
    o = ops()
    q = Query(CALLER_ID, format="csv", filter="Call_Type eq 'Inbound'")
    first = driver.run(o.data_request(q))
    second = driver.run(o.data_request(q))
    assert first == second
    assert first.url.endswith("?$filter=Call_Type%20eq%20'Inbound'")
    assert [r.purpose for r in driver.sent] == ["filter metadata"]
    with pytest.raises(bm.FilterError):
        driver.run(o.data_request(Query(CALLER_ID, filter="Media_Type eq 'Voice'")))
    assert len(driver.sent) == 1, "a bad filter spends no request"


def test_check_false_sends_the_filter_as_given_and_fetches_no_schema() -> None:
    driver = SyncDriver(respond)
    q = Query(CALLER_ID, filter="whatever  goes", check=False)
    assert driver.run(ops().data_request(q)).url.endswith("?$filter=whatever%20%20goes")
    assert driver.sent == []


def test_bad_references_are_refused_before_any_request() -> None:
    driver = SyncDriver(respond)
    with pytest.raises(bm.ConfigurationError):
        driver.run(ops().report("   "))
    with pytest.raises(bm.NotFound):
        driver.run(ops().report("No such report"))
    assert [r.purpose for r in driver.sent] == ["service document"]

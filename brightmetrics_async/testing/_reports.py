"""The saved reports an account sees: their names, columns, filters and row builders.

A report turns the calls in a time range that pass its filter into rows. Filters always apply to
calls (the facts), never to the aggregated rows, which is what the vendor's report filters do.
Names follow the vendor: the entity-set name replaces each title character outside
``[A-Za-z0-9_]`` by ``_`` one-for-one and appends ``_`` and the GUID's hex; a filter property
name replaces each run of other characters by a single ``_``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import tzinfo
from typing import Any

import attrs

from ._dataset import Call
from ._render import Column

__all__ = [
    "FilterSpec",
    "Report",
    "by_guid",
    "default_reports",
    "entity_set_name",
    "filter_property_name",
    "other_account_reports",
]

Row = dict[str, Any]


def entity_set_name(title: str, guid: str) -> str:
    """The vendor's entity-set name for a report title and GUID."""
    return re.sub(r"[^A-Za-z0-9_]", "_", title) + "_" + guid.replace("-", "")


def filter_property_name(label: str) -> str:
    """The vendor's filter property name for a filter label (``Time - Call - Total`` -> ...)."""
    return re.sub(r"[^A-Za-z0-9]+", "_", label).strip("_")


@attrs.frozen
class FilterSpec:
    """One report filter: its label, Edm type, and the call value it tests."""

    label: str
    type: str
    source: Callable[[Call], object]

    @property
    def name(self) -> str:
        """The OData property name."""
        return filter_property_name(self.label)


@attrs.frozen
class Report:
    """A saved report; ``build`` turns filtered calls into rows (datetimes in ``tz``)."""

    guid: str
    title: str
    columns: tuple[Column, ...]
    filters: tuple[FilterSpec, ...]
    build: Callable[[Sequence[Call], tzinfo], list[Row]]
    include: Callable[[Call], bool] = lambda call: True
    default_days: int = 7
    timezone_aware: bool = False
    detail: bool = False
    date_property: str = "Call_Date_Time"

    @property
    def entity_set(self) -> str:
        """The entity-set name listed in the service document."""
        return entity_set_name(self.title, self.guid)

    @property
    def filter_properties(self) -> dict[str, str]:
        """Filter property name -> Edm type, in the report's order."""
        return {f.name: f.type for f in self.filters}

    def value_getter(self, call: Call) -> Callable[[str], object]:
        """A ``value_of(prop)`` for the filter evaluator, reading ``call``."""
        sources = {f.name: f.source for f in self.filters}
        return lambda prop: sources[prop](call)


def _skills(call: Call) -> frozenset[str]:
    return call.agent.skills if call.agent else frozenset()


def _queues(call: Call) -> frozenset[str]:
    return call.agent.queues if call.agent else frozenset()


def _groups(call: Call) -> frozenset[str]:
    return call.agent.groups if call.agent else frozenset()


def _agent(call: Call) -> str:
    return call.agent.name if call.agent else ""


_DATE = FilterSpec("Call Date/Time", "Edm.DateTimeOffset", lambda c: c.start)
_AGENT_FILTERS = (
    FilterSpec("Agent Name", "Edm.String", _agent),
    FilterSpec("Agent Name by Queue Membership", "Edm.String", _queues),
    FilterSpec("Agent Name by Skill", "Edm.String", _skills),
    FilterSpec("Agent Name by Group Membership", "Edm.String", _groups),
)


def _s(name: str) -> Column:
    return Column(name, "Edm.String")


def _n(name: str, display: str = "number") -> Column:
    return Column(name, "Edm.Double", display)


def _i(name: str) -> Column:
    return Column(name, "Edm.Int32", "count")


def _when(name: str = "Call_Date_Time") -> Column:
    return Column(name, "Edm.DateTimeOffset", "datetime")


def _group(calls: Iterable[Call], key: Callable[[Call], str | None]) -> dict[str, list[Call]]:
    groups: dict[str, list[Call]] = {}
    for call in calls:
        k = key(call)
        if k is not None:
            groups.setdefault(k, []).append(call)
    return dict(sorted(groups.items()))


def _min(seconds: float) -> float:
    # Durations are minutes, as the vendor's "Call_Duration": 2.2833 is.
    return round(seconds / 60, 4)


def _avg(values: Sequence[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


def _service_summary(calls: Sequence[Call], tz: tzinfo) -> list[Row]:
    rows = []
    for queue, group in _group(calls, lambda c: c.queue).items():
        answered = [c for c in group if c.action in ("Answered", "Transfer")]
        within = [c for c in answered if c.wait <= 30]
        rows.append(
            {
                "Queue_Name": queue,
                "Calls_Offered": len(group),
                "Calls_Answered": len(answered),
                "Calls_Abandoned": sum(c.action == "Abandoned" for c in group),
                "Service_Level": round(len(within) / len(group), 4),
                "Time_Wait_Average": _avg([_min(c.wait) for c in group]),
                "Time_Talk_Total": _min(sum(c.talk for c in group)),
            }
        )
    return rows


def _agent_summary(calls: Sequence[Call], tz: tzinfo) -> list[Row]:
    rows = []
    for name, group in _group(calls, lambda c: c.agent.name if c.agent else None).items():
        agent = group[0].agent
        rows.append(
            {
                "Agent_Name": name,
                "Extension": agent.extension if agent else "",
                "Calls_Handled": len(group),
                "Calls_Transferred": sum(c.action == "Transfer" for c in group),
                "Time_Talk_Total": _min(sum(c.talk for c in group)),
                "Time_Talk_Average": _avg([_min(c.talk) for c in group]),
                "Time_Hold_Total": _min(sum(c.hold for c in group)),
            }
        )
    return rows


def _helpdesk_summary(calls: Sequence[Call], tz: tzinfo) -> list[Row]:
    rows = []
    for key, group in _group(calls, lambda c: f"{c.start.date().isoformat()}|{c.queue}").items():
        day, _, queue = key.partition("|")
        answered = [c for c in group if c.action in ("Answered", "Transfer")]
        rows.append(
            {
                "Date": day,
                "Workgroup_Name": queue,
                "Calls_Offered": len(group),
                "Calls_Answered": len(answered),
                "Service_Level": round(sum(c.wait <= 60 for c in answered) / len(group), 4),
            }
        )
    return rows


def _agent_detail(calls: Sequence[Call], tz: tzinfo) -> list[Row]:
    return [
        {
            "Call_Date_Time": c.start.astimezone(tz),
            "Media_Type": c.media_type,
            "Agent_Name": _agent(c),
            "Extension": c.agent.extension if c.agent else "",
            "Queue_Name": c.queue or "",
            "Call_Type": c.call_type,
            "Time_Talk_Total": _min(c.talk),
            "Time_Hold_Total": _min(c.hold),
        }
        for c in calls
    ]


def _caller_search(calls: Sequence[Call], tz: tzinfo) -> list[Row]:
    return [
        {
            "Call_Date_Time": c.start.astimezone(tz),
            "Call_Type": c.call_type,
            "Action": c.action,
            "CallerID": c.caller_id,
            "Workgroup_Call": c.queue or "Non-WG",
            "Trunk": c.trunk,
            "Dialed_Number": c.dialed_number,
            "Party_Name": _agent(c),
            "Extension": c.agent.extension if c.agent else "",
            "Call_Duration": _min(c.duration),
        }
        for c in calls
    ]


def _abandoned_detail(calls: Sequence[Call], tz: tzinfo) -> list[Row]:
    return [
        {
            "Call_Date_Time": c.start.astimezone(tz),
            "Queue_Name": c.queue or "",
            "CallerID": c.caller_id,
            "Time_Abandon_Total": _min(c.wait),
        }
        for c in calls
    ]


SERVICE_SUMMARY = Report(
    guid="03bd1235-eb2c-410f-a415-fefacd98df41",
    title="Service Summary",
    columns=(
        _s("Queue_Name"),
        _i("Calls_Offered"),
        _i("Calls_Answered"),
        _i("Calls_Abandoned"),
        _n("Service_Level", "percent"),
        _n("Time_Wait_Average", "duration"),
        _n("Time_Talk_Total", "duration"),
    ),
    filters=(
        _DATE,
        FilterSpec("Queue Name", "Edm.String", lambda c: c.queue or ""),
        FilterSpec("Media Type", "Edm.String", lambda c: c.media_type),
    ),
    build=_service_summary,
    include=lambda c: c.queue is not None,
)
AGENT_ACTIVITY = Report(
    guid="041cee41-ac5f-4455-a02d-022705afe417",
    title="Agent Activity Summary - All (Saved MSC Agents)",
    columns=(
        _s("Agent_Name"),
        _s("Extension"),
        _i("Calls_Handled"),
        _i("Calls_Transferred"),
        _n("Time_Talk_Total", "duration"),
        _n("Time_Talk_Average", "duration"),
        _n("Time_Hold_Total", "duration"),
    ),
    filters=(_DATE, *_AGENT_FILTERS),
    build=_agent_summary,
    include=lambda c: c.agent is not None,
)
HELPDESK_SERVICE_LEVEL = Report(
    guid="0c15c8a5-128b-488b-8758-ef15868c3b5b",
    title="Helpdesk Workgroup Service-Level Summary w/o Wait Time",
    columns=(
        _s("Date"),
        _s("Workgroup_Name"),
        _i("Calls_Offered"),
        _i("Calls_Answered"),
        _n("Service_Level", "percent"),
    ),
    filters=(
        _DATE,
        FilterSpec("Workgroup Name", "Edm.String", lambda c: c.queue or ""),
        FilterSpec("Time - Call - Total", "Edm.Double", lambda c: _min(c.duration)),
    ),
    build=_helpdesk_summary,
    include=lambda c: c.queue is not None and c.queue.startswith("Helpdesk"),
    default_days=30,
)
AGENT_DETAIL = Report(
    guid="6f40b845-fb28-4547-b73b-e11ce29f481b",
    title="Agent Detail",
    columns=(
        _when(),
        _s("Media_Type"),
        _s("Agent_Name"),
        _s("Extension"),
        _s("Queue_Name"),
        _s("Call_Type"),
        _n("Time_Talk_Total", "duration"),
        _n("Time_Hold_Total", "duration"),
    ),
    filters=(
        _DATE,
        FilterSpec("Media Type", "Edm.String", lambda c: c.media_type),
        *_AGENT_FILTERS,
        FilterSpec("Time - Talk - Total", "Edm.Double", lambda c: _min(c.talk)),
    ),
    build=_agent_detail,
    include=lambda c: c.agent is not None,
    default_days=30,
    timezone_aware=True,
    detail=True,
)
SEARCH_BY_CALLER_ID = Report(
    guid="68c8e362-b2c2-6f6d-498b-af782b253239",
    title="Search by CallerID",
    columns=(
        _when(),
        _s("Call_Type"),
        _s("Action"),
        _s("CallerID"),
        _s("Workgroup_Call"),
        _s("Trunk"),
        _s("Dialed_Number"),
        _s("Party_Name"),
        _s("Extension"),
        _n("Call_Duration", "duration"),
    ),
    filters=(
        _DATE,
        FilterSpec("CallerID", "Edm.String", lambda c: c.caller_id),
        FilterSpec("Call Type", "Edm.String", lambda c: c.call_type),
        FilterSpec("Dialed Number", "Edm.String", lambda c: c.dialed_number),
        FilterSpec("Call Duration", "Edm.Double", lambda c: _min(c.duration)),
    ),
    build=_caller_search,
    default_days=60,
    timezone_aware=True,
    detail=True,
)
ABANDONED_DETAIL = Report(
    guid="b7e2d0a4-5c1f-4e8b-9a3d-2f6c8e1b4d70",
    title="Abandoned Calls Detail (Connect)",
    columns=(
        _when(),
        _s("Queue_Name"),
        _s("CallerID"),
        _n("Time_Abandon_Total", "duration"),
    ),
    filters=(
        _DATE,
        FilterSpec("Queue Name", "Edm.String", lambda c: c.queue or ""),
        FilterSpec("Time - Abandon - Total", "Edm.Double", lambda c: _min(c.wait)),
    ),
    build=_abandoned_detail,
    include=lambda c: c.action == "Abandoned",
    default_days=30,
    detail=True,  # a MiVoice Connect data set: paged, but never shifted to a timezone
)


def default_reports() -> tuple[Report, ...]:
    """Acme's saved reports, in the service document's order."""
    return (
        SERVICE_SUMMARY,
        AGENT_ACTIVITY,
        HELPDESK_SERVICE_LEVEL,
        AGENT_DETAIL,
        SEARCH_BY_CALLER_ID,
        ABANDONED_DETAIL,
    )


def other_account_reports() -> tuple[Report, ...]:
    """The second company's reports: own GUIDs, so Acme's are not reachable from it."""
    return (
        attrs.evolve(SERVICE_SUMMARY, guid="5e0f6b1a-8d2c-4f3e-9b7a-1c2d3e4f5a6b"),
        attrs.evolve(AGENT_DETAIL, guid="a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"),
    )


def by_guid(reports: Iterable[Report]) -> Mapping[str, Report]:
    """Index reports by lower-case GUID."""
    return {r.guid.lower(): r for r in reports}

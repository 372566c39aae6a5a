"""The two CSDL documents: the root ``$metadata`` and a report's filter ``$metadata``.

The filter document copies the vendor's example byte for byte in shape, including the names an
OData schema would reject (a GUID with dashes in the EntityType name, a space in the container
name). The root document describes every report's columns and is kept valid against the OASIS
CSDL XSDs so third-party OData clients can read it: names are SimpleIdentifiers and the
container is ``Saved_Reports``. Rows have no natural key and the XSD does not require one, so
no Key is declared.
"""

from __future__ import annotations

from collections.abc import Iterable
from xml.sax.saxutils import quoteattr

from ._reports import Report

__all__ = ["filter_metadata", "root_metadata"]

_HEAD = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">\n'
    "    <edmx:DataServices>\n"
    '        <Schema Namespace="Brightmetrics" xmlns="http://docs.oasis-open.org/odata/ns/edm">\n'
)
_TAIL = "        </Schema>\n    </edmx:DataServices>\n</edmx:Edmx>\n"


def _property(name: str, edm_type: str) -> str:
    return f"                <Property Name={quoteattr(name)} Type={quoteattr(edm_type)} />\n"


def filter_metadata(report: Report) -> str:
    """The report's filter properties, in the vendor's exact document shape."""
    type_name = f"filters_{report.guid}"
    lines = [_HEAD, f"            <EntityType Name={quoteattr(type_name)}>\n"]
    lines += [_property(name, edm) for name, edm in report.filter_properties.items()]
    lines += [
        "            </EntityType>\n",
        '            <EntityContainer Name="Saved Reports">\n',
        f"                <EntitySet Name={quoteattr(report.entity_set + '_filters')}"
        f" EntityType={quoteattr('Brightmetrics.' + type_name)} />\n",
        "            </EntityContainer>\n",
        _TAIL,
    ]
    return "".join(lines)


def root_metadata(reports: Iterable[Report]) -> str:
    """Every report's columns as an EntityType and EntitySet (valid CSDL 4.0)."""
    reports = list(reports)
    lines = [_HEAD]
    for report in reports:
        lines.append(f"            <EntityType Name={quoteattr(report.entity_set)}>\n")
        lines += [_property(c.name, c.type) for c in report.columns]
        lines.append("            </EntityType>\n")
    lines.append('            <EntityContainer Name="Saved_Reports">\n')
    for report in reports:
        lines.append(
            f"                <EntitySet Name={quoteattr(report.entity_set)}"
            f" EntityType={quoteattr('Brightmetrics.' + report.entity_set)} />\n"
        )
    lines += ["            </EntityContainer>\n", _TAIL]
    return "".join(lines)

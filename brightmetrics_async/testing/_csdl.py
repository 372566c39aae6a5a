"""The two CSDL documents: the root ``$metadata`` and a report's filter ``$metadata``.

The filter document copies the vendor's example byte for byte in shape, including the three
things the OASIS CSDL schema rejects: a GUID with dashes in the EntityType name, the same in the
EntitySet's qualified EntityType, and a space in the container name (``Saved Reports``).

The document shows no root ``$metadata``, so that one is a guess built on the same naming, so a
strict parser that accepts it would also accept the filter documents: each report's columns
are an EntityType ``report_<guid>`` (dashes kept, like ``filters_<guid>``), the EntitySet is
the service document's ``name``, and the container is ``Saved Reports``. It fails the schema
on those three quirks only. Rows have no natural key and the schema does not require one, so no
Key is declared.
"""

from __future__ import annotations

from collections.abc import Iterable
from xml.sax.saxutils import quoteattr

from ._reports import Report

__all__ = ["filter_metadata", "root_entity_type", "root_metadata"]

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


def root_entity_type(report: Report) -> str:
    """The root document's EntityType name for ``report``'s rows (the vendor's naming)."""
    return f"report_{report.guid}"


def root_metadata(reports: Iterable[Report]) -> str:
    """Every report's columns as an EntityType and EntitySet, named as the vendor names."""
    reports = list(reports)
    lines = [_HEAD]
    for report in reports:
        lines.append(f"            <EntityType Name={quoteattr(root_entity_type(report))}>\n")
        lines += [_property(c.name, c.type) for c in report.columns]
        lines.append("            </EntityType>\n")
    lines.append('            <EntityContainer Name="Saved Reports">\n')
    for report in reports:
        qualified = "Brightmetrics." + root_entity_type(report)
        lines.append(
            f"                <EntitySet Name={quoteattr(report.entity_set)}"
            f" EntityType={quoteattr(qualified)} />\n"
        )
    lines += ["            </EntityContainer>\n", _TAIL]
    return "".join(lines)

"""CSDL ``$metadata`` documents: a report's filter schema, and the root's column types.

XML is parsed with defusedxml: no entity expansion, no external entities, no DTD retrieval.
The vendor's documents have quirks that are invalid against the OASIS XSD but real (entity type
names containing ``-``, a container named ``Saved Reports`` with a space): they are accepted, since
nothing here validates identifiers, only reads them.
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from ._errors import UnexpectedResponse
from ._models import FilterSchema

__all__ = ["MAX_METADATA_BYTES", "parse_filter_metadata", "parse_root_metadata"]

#: The default largest ``$metadata`` document (``Limits.metadata``'s default).
MAX_METADATA_BYTES = 8 * 1024 * 1024
_EDM_NAMESPACES = (
    "http://docs.oasis-open.org/odata/ns/edm",
    "http://schemas.microsoft.com/ado/2009/11/edm",  # CSDL v3, tolerated
)


def _parse(body: bytes, *, what: str, limit: int) -> Element:
    if len(body) > limit:
        raise UnexpectedResponse(f"{what}: document larger than Limits.metadata = {limit} bytes")
    try:
        root: Any = SafeET.fromstring(body, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise UnexpectedResponse(f"{what}: refused unsafe XML ({type(exc).__name__})") from exc
    except (SafeET.ParseError, ValueError, TypeError) as exc:
        raise UnexpectedResponse(f"{what}: not well-formed XML") from exc
    if not isinstance(root, Element) or _local(root.tag) != "Edmx":
        raise UnexpectedResponse(f"{what}: not a CSDL (edmx:Edmx) document")
    return root


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _ns(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def _schemas(root: Element) -> list[Element]:
    return [
        el for el in root.iter() if _local(el.tag) == "Schema" and _ns(el.tag) in _EDM_NAMESPACES
    ]


def _children(el: Element, name: str) -> list[Element]:
    return [c for c in el if _local(c.tag) == name]


def _properties(entity_type: Element) -> dict[str, str]:
    props: dict[str, str] = {}
    for prop in _children(entity_type, "Property"):
        name, type_ = prop.get("Name"), prop.get("Type")
        if name and type_:
            props[name] = type_
    return props


def _types(root: Element) -> dict[str, Element]:
    """Entity types by qualified name (``Namespace.Name``) and by alias-qualified name."""
    found: dict[str, Element] = {}
    for schema in _schemas(root):
        prefixes = [p for p in (schema.get("Namespace"), schema.get("Alias")) if p]
        for et in _children(schema, "EntityType"):
            name = et.get("Name")
            if name:
                found[name] = et
                for prefix in prefixes:
                    found[f"{prefix}.{name}"] = et
    return found


def parse_filter_metadata(body: bytes, *, limit: int = MAX_METADATA_BYTES) -> FilterSchema:
    """A report's filter ``$metadata`` as a :class:`FilterSchema` (property -> Edm type).

    ``limit`` is the largest document accepted, in bytes (the session passes its
    ``Limits.metadata``).
    Raises :class:`UnexpectedResponse` for unsafe, malformed, empty or larger documents.
    """
    root = _parse(body, what="filter metadata", limit=limit)
    types = _types(root)
    for schema in _schemas(root):
        for container in _children(schema, "EntityContainer"):
            for es in _children(container, "EntitySet"):
                et = types.get(es.get("EntityType", ""))
                if et is not None:
                    return FilterSchema(
                        properties=_properties(et),
                        entity_type=et.get("Name", ""),
                        entity_set=es.get("Name", ""),
                    )
    # No container: take the single entity type, as the vendor's shape has only one.
    ets = {id(et): et for et in types.values()}
    if len(ets) == 1:
        (et,) = ets.values()
        return FilterSchema(properties=_properties(et), entity_type=et.get("Name", ""))
    raise UnexpectedResponse("filter metadata: no entity type describes the filters")


def parse_root_metadata(
    body: bytes, *, limit: int = MAX_METADATA_BYTES
) -> dict[str, dict[str, str]]:
    """The root ``$metadata``: entity set name -> {column -> Edm type}.

    ``limit`` is the largest document accepted, in bytes (the session passes its
    ``Limits.metadata``).
    Raises :class:`UnexpectedResponse` for unsafe, malformed or larger documents.
    """
    root = _parse(body, what="service metadata", limit=limit)
    types = _types(root)
    sets: dict[str, dict[str, str]] = {}
    for schema in _schemas(root):
        for container in _children(schema, "EntityContainer"):
            for es in _children(container, "EntitySet"):
                name = es.get("Name")
                et = types.get(es.get("EntityType", ""))
                if name and et is not None:
                    sets[name] = _properties(et)
    return sets

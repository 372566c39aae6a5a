"""Report filter labels to OData property names, by the vendor's rule.

The web UI shows a filter as a label ("Time - Call - Total"); the API names it with an
OData SimpleIdentifier ("Time_Call_Total"). The vendor's rule: every run of spaces and
punctuation becomes one ``_``, and the result is trimmed of ``_`` at both ends. Letters
(any script), digits and combining marks are kept as they are.
"""

from __future__ import annotations

import unicodedata

from ._errors import ConfigurationError

__all__ = [
    "MAX_IDENTIFIER_LENGTH",
    "is_identifier_char",
    "is_identifier_start",
    "is_simple_identifier",
    "odata_name",
]

#: CSDL ``TSimpleIdentifier`` is at most 128 characters long.
MAX_IDENTIFIER_LENGTH = 128

# Unicode categories of CSDL's TSimpleIdentifier pattern
# ``[\p{L}\p{Nl}_][\p{L}\p{Nl}\p{Nd}\p{Mn}\p{Mc}\p{Pc}\p{Cf}]*``.
_LEADING = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Nl"})
_FOLLOWING = _LEADING | {"Nd", "Mn", "Mc", "Pc", "Cf"}
# What the vendor rule keeps from a label: letters, digits and marks. Connector
# punctuation (Pc, which includes "_") and format characters (Cf) are punctuation to a
# reader, so they become separators like spaces do.
_KEPT = _LEADING | {"Nd", "Mn", "Mc"}


def is_identifier_start(char: str) -> bool:
    """Tell whether ``char`` may start a SimpleIdentifier (a letter or ``_``). Never raises."""
    return char == "_" or unicodedata.category(char) in _LEADING


def is_identifier_char(char: str) -> bool:
    """Tell whether ``char`` may follow the first one in a SimpleIdentifier. Never raises."""
    return unicodedata.category(char) in _FOLLOWING


def is_simple_identifier(name: str) -> bool:
    """Tell whether ``name`` is a CSDL SimpleIdentifier (1-128 characters, no ``$``).

    Never raises.
    """
    if not isinstance(name, str) or not 0 < len(name) <= MAX_IDENTIFIER_LENGTH:
        return False
    if not is_identifier_start(name[0]):
        return False
    return all(map(is_identifier_char, name[1:]))


def odata_name(label: str) -> str:
    """Turn a report filter label into its OData property name.

    ``"Time - Call - Total"`` gives ``"Time_Call_Total"``; ``"Agent Name (by Skill)"``
    gives ``"Agent_Name_by_Skill"``. Runs of anything other than letters, digits and
    combining marks become a single ``_``; leading and trailing ``_`` are dropped; a
    result that would start with a digit or a mark gets a ``_`` in front so that it is a
    valid identifier. The rule is idempotent: a property name maps to itself.

    Raises ConfigurationError when ``label`` is not a string, has no letter or digit,
    or gives a name longer than 128 characters.
    """
    if not isinstance(label, str):
        raise ConfigurationError(f"a filter label must be a string, not {type(label).__name__}")
    out: list[str] = []
    for char in label:
        if unicodedata.category(char) in _KEPT:
            out.append(char)
        elif out and out[-1] != "_":
            out.append("_")
    name = "".join(out).strip("_")
    if not name:
        raise ConfigurationError(f"the label {label!r} has no letter or digit to name a property")
    if not is_identifier_start(name[0]):
        name = "_" + name
    if len(name) > MAX_IDENTIFIER_LENGTH:
        raise ConfigurationError(
            f"the property name for {label!r} is {len(name)} characters long;"
            f" OData allows at most {MAX_IDENTIFIER_LENGTH}"
        )
    return name

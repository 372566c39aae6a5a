"""Strict request parsing: the raw query string, ``$format`` / ``Accept``, and ``Prefer``.

Each query parameter is percent-decoded only; what a literal ``+`` means is the emulator's
``plus_in_query`` knob, because the document does not say what the real server does with one:
refused (the default, so code that forgets ``%2B`` fails here first), kept as a ``+``, or read as
a space. aiohttp's ``request.query`` would always turn ``+`` into a space, so this module reads
the raw query string itself.
"""

from __future__ import annotations

from urllib.parse import unquote

import attrs

__all__ = [
    "CSV",
    "CSV_FORMATTED",
    "JSON",
    "PDF_LANDSCAPE",
    "PDF_PORTRAIT",
    "XLSX",
    "XLSX_MEDIA_TYPE",
    "BadRequest",
    "ExportFormat",
    "NotAcceptable",
    "negotiate",
    "parse_query",
    "prefers_async",
]

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class BadRequest(Exception):
    """The request is malformed (answer 400)."""


class NotAcceptable(Exception):
    """No supported media type matches ``Accept`` (answer 406)."""


@attrs.frozen
class ExportFormat:
    """A response format: ``kind`` is json, csv, pdf or xlsx; ``variant`` refines it."""

    kind: str
    variant: str = ""


JSON = ExportFormat("json")
CSV = ExportFormat("csv", "unformatted")
CSV_FORMATTED = ExportFormat("csv", "formatted")
PDF_PORTRAIT = ExportFormat("pdf", "portrait")
PDF_LANDSCAPE = ExportFormat("pdf", "landscape")
XLSX = ExportFormat("xlsx")

_DOLLAR_FORMATS = {
    "json": JSON,
    "csv": CSV,
    "csv;unformatted": CSV,
    "csv;formatted": CSV_FORMATTED,
    "pdf": PDF_PORTRAIT,
    "pdf;portrait": PDF_PORTRAIT,
    "pdf;landscape": PDF_LANDSCAPE,
    "xlsx": XLSX,
}
# (type/subtype, flag parameter or "") -> format
_MEDIA_TYPES = {
    ("application/json", ""): JSON,
    ("text/csv", ""): CSV,
    ("text/csv", "unformatted"): CSV,
    ("text/csv", "formatted"): CSV_FORMATTED,
    ("application/pdf", ""): PDF_PORTRAIT,
    ("application/pdf", "portrait"): PDF_PORTRAIT,
    ("application/pdf", "landscape"): PDF_LANDSCAPE,
    (XLSX_MEDIA_TYPE, ""): XLSX,
    ("*/*", ""): JSON,
    ("application/*", ""): JSON,
    ("text/*", ""): CSV,
}
VENDOR_OPTIONS = frozenset({"$filter", "$format", "$skiptoken"})
#: The OData 4.0 options the emulator answers unless told to be strict (see ``_options``).
STANDARD_OPTIONS = frozenset({"$top", "$skip", "$select", "$count", "$orderby"})


def parse_query(
    raw_path: str, *, standard_options: bool = True, plus: str = "reject"
) -> dict[str, str]:
    """The query parameters of a raw request target, each percent-decoded.

    ``standard_options`` admits ``STANDARD_OPTIONS`` besides the vendor's; ``plus`` says what a
    literal ``+`` is (``"reject"``, ``"plus"`` or ``"space"``). Raises BadRequest for a repeated
    parameter, an unsupported ``$`` option, a refused ``+``, or bytes that are not UTF-8.
    """
    _, _, query = raw_path.partition("?")
    allowed = VENDOR_OPTIONS | STANDARD_OPTIONS if standard_options else VENDOR_OPTIONS
    params: dict[str, str] = {}
    for part in query.split("&"):
        if not part:
            continue
        raw_name, _, raw_value = part.partition("=")
        if "+" in part:
            if plus == "reject":
                raise BadRequest(
                    f"a literal '+' in the query ({part!r}) is ambiguous: write %2B for a plus"
                    " sign and %20 for a space"
                )
            if plus == "space":
                raw_name, raw_value = raw_name.replace("+", " "), raw_value.replace("+", " ")
        try:
            name = unquote(raw_name, errors="strict")
            value = unquote(raw_value, errors="strict")
        except UnicodeDecodeError as exc:
            raise BadRequest(f"query parameter is not valid UTF-8: {raw_name!r}") from exc
        if name in params:
            raise BadRequest(f"query parameter {name!r} given more than once")
        if name.startswith("$") and name not in allowed:
            raise BadRequest(f"the query option {name!r} is not supported")
        params[name] = value
    return params


def negotiate(params: dict[str, str], accept: str | None) -> ExportFormat:
    """The response format: ``$format`` wins over ``Accept``; no preference means JSON.

    Raises BadRequest for an unknown ``$format``, NotAcceptable when ``Accept`` names only
    unsupported media types.
    """
    if "$format" in params:
        key = ";".join(p.strip() for p in params["$format"].lower().split(";"))
        if key not in _DOLLAR_FORMATS:
            raise BadRequest(f"unsupported $format value {params['$format']!r}")
        return _DOLLAR_FORMATS[key]
    if accept is None or not accept.strip():
        return JSON
    candidates: list[tuple[float, int, ExportFormat]] = []
    for index, media_range in enumerate(accept.split(",")):
        parsed = _parse_media_range(media_range)
        if parsed is not None:
            quality, fmt = parsed
            if quality > 0:
                candidates.append((-quality, index, fmt))
    if not candidates:
        raise NotAcceptable(f"none of the requested media types is supported: {accept!r}")
    return min(candidates, key=lambda c: (c[0], c[1]))[2]


def _parse_media_range(text: str) -> tuple[float, ExportFormat] | None:
    media, *params = (p.strip() for p in text.split(";"))
    quality = 1.0
    flags = []
    for param in params:
        key, eq, value = param.partition("=")
        if not eq:
            flags.append(key.lower())
        elif key.strip().lower() == "q":
            try:
                quality = float(value)
            except ValueError:
                return None
        # Other key=value parameters (charset, odata.metadata, ...) do not change the format.
    if len(flags) > 1:
        return None
    fmt = _MEDIA_TYPES.get((media.lower(), flags[0] if flags else ""))
    return None if fmt is None else (quality, fmt)


def prefers_async(prefer_headers: list[str]) -> bool:
    """Whether any ``Prefer`` header value asks for ``respond-async``."""
    for header in prefer_headers:
        for preference in header.split(","):
            name = preference.split(";")[0].split("=")[0].strip().lower()
            if name == "respond-async":
                return True
    return False

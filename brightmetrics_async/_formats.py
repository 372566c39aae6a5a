"""The vendor's export formats: media types for ``Accept``, values for ``$format``."""

from __future__ import annotations

import enum
import os
from pathlib import PurePath

from ._errors import ConfigurationError

__all__ = ["Format", "format_for_path", "parse_format"]

_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class Format(enum.Enum):
    """An export format. The value is the vendor's ``$format`` spelling."""

    JSON = "json"
    CSV = "csv"
    CSV_FORMATTED = "csv;formatted"
    PDF = "pdf"
    PDF_LANDSCAPE = "pdf;landscape"
    XLSX = "xlsx"

    @property
    def media_type(self) -> str:
        """The value to send in ``Accept`` (the vendor's table)."""
        return _MEDIA[self]

    @property
    def main_type(self) -> str:
        """The ``type/subtype`` the response's Content-Type must have."""
        return _MEDIA[self].split(";", 1)[0].strip()

    @property
    def extension(self) -> str:
        """A file name extension for this format."""
        return _EXT[self]

    def matches(self, content_type: str | None) -> bool:
        """Whether a response Content-Type is this format (parameters are ignored)."""
        if not content_type:
            return False
        return content_type.split(";", 1)[0].strip().lower() == self.main_type


_MEDIA = {
    Format.JSON: "application/json",
    Format.CSV: "text/csv",
    Format.CSV_FORMATTED: "text/csv; formatted",
    Format.PDF: "application/pdf",
    Format.PDF_LANDSCAPE: "application/pdf; landscape",
    Format.XLSX: _XLSX,
}
_EXT = {
    Format.JSON: "json",
    Format.CSV: "csv",
    Format.CSV_FORMATTED: "csv",
    Format.PDF: "pdf",
    Format.PDF_LANDSCAPE: "pdf",
    Format.XLSX: "xlsx",
}
_ALIASES: dict[str, Format] = {
    "json": Format.JSON,
    "application/json": Format.JSON,
    "csv": Format.CSV,
    "csv;unformatted": Format.CSV,
    "text/csv": Format.CSV,
    "text/csv;unformatted": Format.CSV,
    "csv;formatted": Format.CSV_FORMATTED,
    "text/csv;formatted": Format.CSV_FORMATTED,
    "pdf": Format.PDF,
    "pdf;portrait": Format.PDF,
    "application/pdf": Format.PDF,
    "application/pdf;portrait": Format.PDF,
    "pdf;landscape": Format.PDF_LANDSCAPE,
    "application/pdf;landscape": Format.PDF_LANDSCAPE,
    "xlsx": Format.XLSX,
    _XLSX: Format.XLSX,
}


def parse_format(value: str | Format) -> Format:
    """Accept a :class:`Format`, a ``$format`` value or a media type (spaces ignored).

    Raises :class:`ConfigurationError` for anything else.
    """
    if isinstance(value, Format):
        return value
    key = "".join(str(value).split()).lower()
    try:
        return _ALIASES[key]
    except KeyError:
        known = ", ".join(sorted({k for k in _ALIASES if "/" not in k}))
        raise ConfigurationError(f"unknown format {value!r}; use one of: {known}") from None


#: File suffixes that name a format (``.csv`` also fits ``csv;formatted``, ``.pdf`` landscape).
_SUFFIXES: dict[str, Format] = {
    ".csv": Format.CSV,
    ".json": Format.JSON,
    ".pdf": Format.PDF,
    ".xlsx": Format.XLSX,
}


def format_for_path(
    path: str | os.PathLike[str],
    format: Format | str | None = None,  # noqa: A002
) -> Format:
    """The format to write ``path`` in: ``format`` if given, else the one its suffix names.

    ``report.xlsx`` gives XLSX; a suffix no format claims (``.txt``, none) gives CSV. An
    explicit ``format`` must agree with a known suffix (``csv;formatted`` fits ``.csv``).

    Raises :class:`ConfigurationError` when they contradict (nothing is requested then).
    """
    suffix = PurePath(os.fspath(path)).suffix.lower()
    implied = _SUFFIXES.get(suffix)
    if format is None:
        return implied or Format.CSV
    fmt = parse_format(format)
    if implied is not None and implied.extension != fmt.extension:
        raise ConfigurationError(
            f"format {fmt.value!r} contradicts the file suffix {suffix!r} "
            f"(which means {implied.value!r}): change one of them"
        )
    return fmt

"""What to pull and where to: targets from arguments or a TOML plan, and their file names.

A :class:`Target` is one report in one output format written to one file. Every format
but two is the vendor's and goes through the library as is; ``json`` and ``parquet`` are
pulled as JSON rows, then written by the CLI (a JSON array of rows, or typed Parquet).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

import brightmetrics_async as bm

__all__ = ["FORMAT_CHOICES", "Target", "file_name", "format_for_path", "inside", "read_plan"]

#: Output formats the CLI writes: the vendor's, plus parquet.
FORMAT_CHOICES = ("csv", "csv;formatted", "pdf", "pdf;landscape", "xlsx", "json", "parquet")

_SUFFIXES = {".csv": "csv", ".pdf": "pdf", ".xlsx": "xlsx", ".json": "json", ".parquet": "parquet"}
_PLAN_KEYS = frozenset({"report", "format", "filter", "timezone", "async", "file"})


def normalize_format(value: str) -> str:
    """``"CSV; Formatted"`` -> ``"csv;formatted"``; ``parquet`` passes.

    Raises :class:`ConfigurationError` for an unknown format.
    """
    key = "".join(value.split()).lower()
    if key == "parquet":
        return key
    return _parse(key).value


def _parse(key: str) -> bm.Format:
    return bm.parse_format(key)


def format_for_path(path: Path, given: str | None = None) -> str:
    """The format to write ``path`` in: ``given`` (normalized) or the one its suffix names.

    ``report.xlsx`` -> ``xlsx``; an unknown suffix -> ``csv``. Raises
    :class:`ConfigurationError` when ``given`` contradicts a known suffix.
    """
    implied = _SUFFIXES.get(path.suffix.lower())
    if given is None:
        return implied or "csv"
    fmt = normalize_format(given)
    if implied is not None and implied != fmt.split(";")[0]:
        raise bm.ConfigurationError(
            f"format {fmt!r} contradicts the file suffix {path.suffix!r} (which means "
            f"{implied!r}): change one of them"
        )
    return fmt


def inside(out_dir: Path, file: str, where: str) -> Path:
    """``out_dir / file``, refused unless it stays inside ``out_dir``.

    Raises :class:`ConfigurationError` for an absolute path, a ``..`` part, or a path that
    leaves ``out_dir`` through a symbolic link.
    """
    rel = Path(file)
    if rel.is_absolute() or rel.anchor or ".." in rel.parts or not rel.parts:
        raise bm.ConfigurationError(
            f"{where}: file {file!r} must be a relative path inside the output directory "
            "(no absolute path, no '..')"
        )
    target = out_dir / rel
    base = out_dir.resolve()
    if not target.resolve().is_relative_to(base):
        raise bm.ConfigurationError(
            f"{where}: file {file!r} leads outside the output directory {out_dir} "
            "(through a symbolic link)"
        )
    return target


@attrs.frozen
class Target:
    """One report, one format, one file. ``use_async``: True or False forces the way, None
    (default) lets the pull choose the one predicted to cost fewer requests."""

    report: bm.Report | str
    format: str
    path: Path
    filter: str | None = None
    timezone: str | None = None
    use_async: bool | None = None

    @property
    def label(self) -> str:
        """A short name for displays: the title (or reference) and the format."""
        if isinstance(self.report, bm.Report):
            name = self.report.title or self.report.url
        else:
            name = self.report
        return f"{name} [{self.format}{', async' if self.use_async else ''}]"

    #: True when the pull is journaled: JSON rows then go to their file page by page.
    journaled: bool = False

    @property
    def in_memory(self) -> bool:
        """True when pulled as rows and written by the CLI: parquet, and json unless a
        journaled pull not forced to run as a job writes it in the library (pages with
        checkpoints, or the export its way chose, resumed from the journal)."""
        if self.format == "json":
            return self.use_async is True or not self.journaled
        return self.format == "parquet"

    @property
    def rows_known(self) -> bool:
        """True when the row count is known: rows were read (json, parquet)."""
        return self.format in ("json", "parquet")

    def pull_item(self) -> bm.PullItem:
        """The library's item for this target (rows in memory for json/parquet)."""
        fmt = "json" if self.format in ("json", "parquet") else self.format
        return bm.PullItem(
            self.report,
            format=fmt,
            filter=self.filter,
            timezone=self.timezone,
            path=None if self.in_memory else self.path,
            use_async=self.use_async,
            label=self.label,
        )


def _slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
    return slug or "report"


def file_name(report: bm.Report | str, fmt: str) -> str:
    """A default file name: the report's title as a slug, a format qualifier, the suffix."""
    base = _slug(report.title or report.url) if isinstance(report, bm.Report) else _slug(report)
    if fmt == "parquet":
        return f"{base}.parquet"
    parsed = _parse(fmt)
    qualifier = {"csv;formatted": ".formatted", "pdf;landscape": ".landscape"}.get(fmt, "")
    return f"{base}{qualifier}.{parsed.extension}"


def check_unique(targets: Iterable[Target]) -> list[Target]:
    """The targets, checked to write distinct files.

    Raises :class:`ConfigurationError` when two targets write the same file.
    """
    seen: dict[Path, Target] = {}
    out = []
    for t in targets:
        key = t.path.resolve()
        if key in seen:
            raise bm.ConfigurationError(
                f"{seen[key].label} and {t.label} would both write {t.path}: set 'file'"
            )
        seen[key] = t
        out.append(t)
    return out


def _entry(index: int, raw: Mapping[str, Any], out_dir: Path, where: str) -> Target:
    unknown = sorted(set(raw) - _PLAN_KEYS)
    if unknown:
        raise bm.ConfigurationError(
            f"{where}: report #{index + 1} has unknown keys {', '.join(unknown)} "
            f"(known: {', '.join(sorted(_PLAN_KEYS))})"
        )
    report = raw.get("report")
    if not isinstance(report, str) or not report.strip():
        raise bm.ConfigurationError(f'{where}: report #{index + 1} needs report = "title or GUID"')
    for key in ("format", "filter", "timezone", "file"):
        if key in raw and not isinstance(raw[key], str):
            raise bm.ConfigurationError(f"{where}: report #{index + 1}: {key} must be a string")
    if "async" in raw and not isinstance(raw["async"], bool):
        raise bm.ConfigurationError(f"{where}: report #{index + 1}: async must be true or false")
    file = raw.get("file")
    label = f"{where}: report #{index + 1}"
    if file:
        path = inside(out_dir, file, label)
        fmt = format_for_path(path, raw.get("format"))
    else:
        fmt = normalize_format(raw.get("format") or "csv")
        path = out_dir / file_name(report, fmt)
    return Target(
        report=report.strip(),
        format=fmt,
        path=path,
        filter=raw.get("filter"),
        timezone=raw.get("timezone"),
        use_async=raw.get("async"),  # absent: the pull chooses
    )


def read_plan(path: Path, out_dir: Path) -> tuple[list[Target], int | None]:
    """Targets of a TOML plan (``[[report]]`` tables) and its optional ``parallel``.

    Raises :class:`ConfigurationError` for an unreadable or invalid plan.
    """
    where = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise bm.ConfigurationError(f"cannot read plan {where}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise bm.ConfigurationError(f"plan {where} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"report", "parallel"})
    if unknown:
        raise bm.ConfigurationError(f"{where}: unknown top-level keys {', '.join(unknown)}")
    entries = data.get("report")
    if not isinstance(entries, list) or not entries:
        raise bm.ConfigurationError(f"{where}: no [[report]] tables")
    parallel = data.get("parallel")
    if parallel is not None and (not isinstance(parallel, int) or parallel < 1):
        raise bm.ConfigurationError(f"{where}: parallel must be an integer >= 1")
    targets = [_entry(i, e, out_dir, where) for i, e in enumerate(entries)]
    return check_unique(targets), parallel

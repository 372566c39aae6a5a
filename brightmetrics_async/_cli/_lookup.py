"""Report names as people type them: exact, else case-insensitive when unambiguous, else
the closest titles as suggestions.

A GUID (or a report URL) needs no lookup and costs no request; any other name costs the
service document once per session (the library caches it).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

import brightmetrics_async as bm

__all__ = ["is_guid", "match_report", "resolve", "resolve_all"]

_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def is_guid(ref: str) -> bool:
    """True for a report GUID or a URL (the library takes both without a lookup)."""
    ref = ref.strip()
    return bool(_GUID.match(ref)) or ref.startswith(("http://", "https://"))


def match_report(ref: str, reports: Sequence[bm.Report]) -> bm.Report:
    """The report ``ref`` names among ``reports``.

    Raises :class:`NotFound` naming the candidates when ``ref`` is ambiguous, or the closest
    titles when nothing matches.
    """
    want = ref.strip()
    for r in reports:
        if want in (r.title, r.name, r.url):
            return r
    folded = want.casefold()
    loose = [r for r in reports if folded in (r.title.casefold(), r.name.casefold())]
    if len(loose) == 1:
        return loose[0]
    if loose:
        names = ", ".join(f"{r.title!r} ({r.url})" for r in loose)
        raise bm.NotFound(
            f"{ref!r} matches several reports: {names}; give the exact title or the GUID",
            status=404,
        )
    by_fold = {r.title.casefold(): r.title for r in reports if r.title}
    close = difflib.get_close_matches(folded, list(by_fold), n=3, cutoff=0.6)
    hint = (
        f"; did you mean {' or '.join(repr(by_fold[c]) for c in close)}?"
        if close
        else "; 'brightmetrics reports' lists the titles"
    )
    raise bm.NotFound(f"no report titled {ref!r}{hint}", status=404)


async def resolve(session: bm.Session, ref: str) -> bm.Report | str:
    """``ref`` as the library should get it: a GUID as is, a name matched (see above)."""
    if is_guid(ref):
        return ref.strip()
    return match_report(ref, await session.reports())


async def resolve_all(
    session: bm.Session, refs: Sequence[bm.Report | str]
) -> list[bm.Report | str]:
    """Every reference resolved; GUIDs become their :class:`Report` (with its title) when the
    service document is fetched anyway for a name."""
    if all(isinstance(r, bm.Report) or is_guid(r) for r in refs):
        return list(refs)
    reports = await session.reports()
    by_guid = {r.url.lower(): r for r in reports}
    out: list[bm.Report | str] = []
    for ref in refs:
        if isinstance(ref, bm.Report):
            out.append(ref)
        elif is_guid(ref):
            out.append(by_guid.get(ref.strip().lower(), ref.strip()))
        else:
            out.append(match_report(ref, reports))
    return out

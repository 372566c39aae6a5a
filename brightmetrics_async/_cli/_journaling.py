"""``pull``'s use of the library's crash journal: what an earlier run left, and forgetting it.

``pull`` journals by default (``bm.Journal()``, beside the budget file). Rerunning the same
command after Ctrl-C or a crash continues: written files are skipped, live jobs resumed, JSON
pulls continue from their last page. Once every item of a pull succeeded its entries are
forgotten, so the same command tomorrow pulls fresh data; ``--fresh`` forgets them first.
Entries are matched to targets by what the library records: the item's label and path.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import attrs

import brightmetrics_async as bm

from ._display import plural
from ._targets import Target

__all__ = ["Earlier", "earlier_run", "forget"]


def _key(target: Target) -> tuple[str, str | None]:
    item = target.pull_item()
    return item.name, None if item.path is None else str(item.path)


async def _matching(journal: bm.Journal, targets: Sequence[Target]) -> list[bm.JournalEntry]:
    wanted = {_key(t) for t in targets}
    return [e for e in await journal.entries() if (e.label, e.path) in wanted]


@attrs.frozen
class Earlier:
    """What an earlier run of the same pull left in the journal."""

    done: int = 0
    jobs: int = 0
    paging: int = 0

    def __bool__(self) -> bool:
        return bool(self.done or self.jobs or self.paging)

    def text(self) -> str:
        """One line saying how this run continues."""
        parts = []
        if self.done:
            parts.append(f"{plural(self.done, 'file')} already written (skipped)")
        if self.jobs:
            parts.append(f"{plural(self.jobs, 'job')} to resume")
        if self.paging:
            parts.append(f"{plural(self.paging, 'JSON pull')} to continue from a checkpoint")
        return f"Continuing an earlier run of this pull: {', '.join(parts)}. (--fresh starts over.)"


def _exists(path: str) -> bool:
    return Path(path).exists()


async def earlier_run(journal: bm.Journal, targets: Sequence[Target]) -> Earlier:
    """Count what the journal holds for ``targets`` (no request)."""
    entries = await _matching(journal, targets)
    done = sum(1 for e in entries if e.state == "done" and e.path and _exists(e.path))
    jobs = sum(1 for e in entries if e.state == "submitted" and e.token)
    paging = sum(1 for e in entries if e.state == "paging")
    return Earlier(done, jobs, paging)


async def forget(journal: bm.Journal, targets: Sequence[Target]) -> None:
    """Forget the journal entries of ``targets``."""
    for entry in await _matching(journal, targets):
        await journal.forget(entry.key)

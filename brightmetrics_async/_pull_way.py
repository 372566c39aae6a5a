"""The way each item of a bulk pull takes, and its journal entry (#12).

An item given ``use_async=True`` or ``False`` takes that way. An item left to choose
(``None``) takes the way its journal entry recorded when an earlier run started it and got
somewhere (a job to resume, a page checkpoint, a file written), so that work is never
orphaned by a different choice; else the way the dry run predicts to cost fewer requests
(``Session.choose_way``, no request). Entries are keyed by the item as given
(:func:`~._pull_items.item_key`); a journal of the earlier format keyed an item left to
choose by the way it took, and is found under those keys (:func:`legacy_item_keys`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import attrs

from ._atomic import part_files
from ._pull_items import PullItem, item_key, legacy_item_keys

if TYPE_CHECKING:
    from ._journal import Journal, JournalEntry

__all__ = ["begin", "recorded_way"]


class Chooser(Protocol):
    """What deciding a way needs of a session (``Session`` is one)."""

    async def choose_way(self, item: PullItem) -> PullItem: ...


async def begin(
    session: Chooser, journal: Journal | None, item: PullItem
) -> tuple[str | None, JournalEntry | None, PullItem]:
    """The item's journal key and entry (files and async jobs only, else None) and the item
    with its way decided (see the module docstring)."""
    if journal is None:
        return None, None, await session.choose_way(item)
    key, way = await _found(journal, item)
    decided = attrs.evolve(item, use_async=way)
    if way is None:
        decided = await session.choose_way(item)
    if decided.path is None and not decided.use_async:
        return None, None, decided
    entry = await _start(journal, key, decided)
    return key, entry, decided


async def recorded_way(journal: Journal, item: PullItem) -> bool | None:
    """The way ``item`` will take by its journal: as given, else as an earlier run that got
    somewhere recorded it; None when the pull will choose. No request."""
    return (await _found(journal, item))[1]


async def _found(journal: Journal, item: PullItem) -> tuple[str, bool | None]:
    """The item's journal key (as given, or the earlier format's) and its way, if decided."""
    key = item_key(item)  # as given: the way chosen is recorded, not keyed
    if item.use_async is not None:
        return key, item.use_async
    found = await journal.get(key)
    if found is not None and _in_progress(found):
        return key, found.use_async
    if found is None:
        for legacy, legacy_way in legacy_item_keys(item):  # journal schema 1: keyed the way
            old = await journal.get(legacy)
            if old is not None and _in_progress(old):
                return legacy, legacy_way
    return key, None


async def _start(journal: Journal, key: str, item: PullItem) -> JournalEntry:
    """Journal the item under ``key`` with its way; clean what a crash left behind."""
    path = str(item.path) if item.path is not None else None
    way = item.use_async
    entry = await journal.start(key, label=item.name, path=path, use_async=way)
    if entry.state == "done" and (item.path is None or not item.path.exists()):
        await journal.reset(key)  # the output went away: do it again
        entry = await journal.start(key, label=item.name, path=path, use_async=way)
    if item.path is not None and entry.state != "done":
        # Temporary files of a killed run, except the one the checkpoint points to.
        for stale in part_files(item.path):
            if str(stale) != entry.part:
                stale.unlink(missing_ok=True)
    return entry


def _in_progress(entry: JournalEntry) -> bool:
    """True when an earlier run got somewhere with the entry: its way must stay."""
    return entry.state != "started"

"""Progress of a pull, shown three ways, driven by the library's ``PullEvent`` stream.

* live (stdout is a terminal): a rich display with one bar per running item (bytes or pages
  so far), a spinner with the countdown to the next poll for waiting jobs, and an overall bar;
  finished items scroll above it as lines;
* lines (not a terminal): one plain line when an item starts, a job is submitted or polled,
  and when an item ends;
* quiet (``--quiet``): one line per finished item; json (``--json``): nothing.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Literal

from rich.filesize import decimal
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

import brightmetrics_async as bm

from ._run import Ctx

__all__ = ["Display", "Mode", "human_bytes", "plural"]

Mode = Literal["live", "lines", "quiet", "json"]


def human_bytes(n: int) -> str:
    """``1234567`` -> ``1.2 MB``."""
    return decimal(n)


def plural(n: int, word: str) -> str:
    """``1 poll``, ``2 polls``, ``0 rows``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def _counters(ev: bm.PullEvent) -> str:
    if ev.pages:
        return f"{plural(ev.pages, 'page')}, {plural(ev.rows, 'row')}"
    if ev.bytes:
        return human_bytes(ev.bytes)
    return ""


class _Status(ProgressColumn):
    """Bytes or pages so far, or the countdown to a waiting job's next poll."""

    def render(self, task: Task) -> Text:
        if task.fields.get("overall"):
            return Text(f"{task.completed:.0f}/{task.total:.0f} done")
        at = task.fields.get("next_poll_at")
        if at is not None:
            polls = task.fields.get("polls", 0)
            wait = at - time.time()
            if wait <= 0:
                return Text(f"polling (poll {polls + 1})", style="yellow")
            return Text(f"waiting: poll {polls + 1} in {wait:.0f} s", style="yellow")
        return Text(str(task.fields.get("info", "")))


class Display:
    """``with Display(ctx, n) as d:``, feed ``d.on_event`` and ``d.finished``."""

    def __init__(self, ctx: Ctx, total: int, *, title: str = "pull") -> None:
        self.ctx = ctx
        self.mode: Mode = (
            "json"
            if ctx.settings.json
            else "quiet"
            if ctx.settings.quiet
            else "live"
            if ctx.live
            else "lines"
        )
        self._total = total
        self._title = title
        self._progress: Progress | None = None
        self._overall: TaskID | None = None
        self._tasks: dict[int, TaskID] = {}

    def __enter__(self) -> Display:
        if self.mode == "live":
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}", style="bold"),
                BarColumn(bar_width=30),
                _Status(),
                TimeElapsedColumn(),
                console=self.ctx.out,
                refresh_per_second=8,
            )
            self._progress.start()
            self._overall = self._progress.add_task(
                f"{self._title} (all)", total=self._total, overall=True
            )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    # -- events ----------------------------------------------------------------------

    def on_event(self, ev: bm.PullEvent) -> None:
        """Show one library progress event."""
        if self.mode == "live":
            self._live_event(ev)
        elif self.mode == "lines":
            self._line_event(ev)

    def _live_event(self, ev: bm.PullEvent) -> None:
        assert self._progress is not None
        progress = self._progress
        task = self._tasks.get(ev.index)
        if task is None:
            task = self._tasks[ev.index] = progress.add_task(
                ev.item.name, total=None, info="starting", next_poll_at=None, polls=0
            )
        if ev.kind in ("submitted", "resumed", "polled"):
            progress.update(task, next_poll_at=ev.next_poll_at, polls=ev.polls)
        elif ev.kind in ("page", "bytes"):
            progress.update(
                task, info=_counters(ev), next_poll_at=None, completed=ev.bytes or ev.pages
            )
        elif ev.kind in ("done", "failed"):
            progress.update(task, info="finishing", next_poll_at=None)

    def _line_event(self, ev: bm.PullEvent) -> None:
        name = ev.item.name
        if ev.kind == "started":
            self.ctx.line(f"started    {name}")
        elif ev.kind == "submitted":
            self.ctx.line(f"submitted  {name}: async job, {self._next(ev)}")
        elif ev.kind == "resumed":
            self.ctx.line(f"resumed    {name}: async job of an earlier run, {self._next(ev)}")
        elif ev.kind == "skipped":
            self.ctx.line(f"skipped    {name}: written by an earlier run")
        elif ev.kind == "polled":
            self.ctx.line(f"polled     {name}: poll {ev.polls}, {self._next(ev)}")

    @staticmethod
    def _next(ev: bm.PullEvent) -> str:
        if ev.next_poll_at is None:
            return "result ready"
        return f"next poll in {max(0.0, ev.next_poll_at - time.time()):.1f} s"

    def finished(self, index: int, *, ok: bool, text: str) -> None:
        """An item ended (its files are written): one line, and the overall bar moves."""
        mark = "done   " if ok else "FAILED "
        if self.mode == "live":
            assert self._progress is not None
            task = self._tasks.pop(index, None)
            if task is not None:
                self._progress.remove_task(task)
            if self._overall is not None:
                self._progress.advance(self._overall)
            style = "green" if ok else "red"
            self._progress.console.print(Text(f"{'✓' if ok else '✗'} {text}", style=style))
        elif self.mode in ("lines", "quiet"):
            self.ctx.line(f"{mark}    {text}")

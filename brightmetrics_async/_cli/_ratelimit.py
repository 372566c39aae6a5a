"""Saying what a 429 means: until when, why, and what to do about it.

The server's quota is the company account's 150 requests per 24 hours, shared by every user
and tool of the company; the budget on this machine remembers a 429's block. Both surface as
``BudgetExhausted`` (``next_free_at`` set) or ``RateLimited`` (``retry_after`` set).
"""

from __future__ import annotations

import datetime as dt
import time

import brightmetrics_async as bm

__all__ = ["duration", "explain_429", "local_when"]


def duration(seconds: float) -> str:
    """``86223`` -> ``23 h 57 min``; ``75`` -> ``1 min 15 s``; ``9`` -> ``9 s``; two days
    and more -> ``2 d 3 h``."""
    s = max(0, round(seconds))
    if s >= 2 * 86400:
        days, rest = divmod(s, 86400)
        return f"{days} d {rest // 3600} h"
    hours, rest = divmod(s, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s" if secs and minutes < 10 else f"{minutes} min"
    return f"{secs} s"


def local_when(at: float, now: float | None = None) -> str:
    """A time in local time: ``09:41 today``, ``09:41 tomorrow`` or ``2026-12-01 09:41``."""
    now = time.time() if now is None else now
    then = dt.datetime.fromtimestamp(at).astimezone()
    today = dt.datetime.fromtimestamp(now).astimezone().date()
    clock = then.strftime("%H:%M")
    if then.date() == today:
        return f"{clock} today"
    if then.date() == today + dt.timedelta(days=1):
        return f"{clock} tomorrow"
    return then.strftime("%Y-%m-%d %H:%M")


def _blocked_until(error: bm.BrightmetricsError, now: float) -> float | None:
    if isinstance(error, bm.RateLimited):
        return now + (error.retry_after if error.retry_after is not None else 60.0)
    if isinstance(error, bm.BudgetExhausted) and error.next_free_at is not None:
        server = isinstance(error.__cause__, bm.RateLimited)
        if server or "blocked by the server" in error.message:
            return error.next_free_at
    return None


def explain_429(error: bm.BrightmetricsError, now: float | None = None) -> str | None:
    """The readable message for a server block (429), or None for any other error."""
    now = time.time() if now is None else now
    until = _blocked_until(error, now)
    if until is None:
        return None
    return (
        f"the service refused requests (HTTP 429): blocked until {local_when(until, now)}, "
        f"in {duration(until - now)}. The company account may send 150 requests in 24 "
        "hours, shared with every other user and tool of the company. To go on sooner, "
        "press the reset button under My Account in the Brightmetrics web app, then run "
        "'brightmetrics budget reset'."
    )

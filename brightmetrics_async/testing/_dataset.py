"""A deterministic, seeded contact-center dataset: queues, agents and calls.

Everything comes from the seed, so the same seed, size and anchor time give the same calls.
The history (``calls`` calls from one ``random.Random(seed)``) is spread over ``days`` days
ending at ``now`` (the emulator's clock at construction), weighted towards weekdays and business
hours in the company's local zone, and kept sorted by start time so a time range is two
bisections.

Calls keep arriving: with a ``clock``, every local day after the anchor's day gets its own
calls, drawn from ``random.Random(f"{seed}:{day}")`` at the history's average daily rate, and a
call exists once the clock has passed its start. So when a test's ``VirtualClock`` moves on a
day, a day of new calls is there, the same ones on every run; a test that keeps its clock keeps
its data. Arrivals start at the first local midnight after the anchor (the rest of the anchor's
day stays quiet), so a test on the real clock sees its data change only across that midnight.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import attrs

__all__ = ["Agent", "Call", "Dataset", "Queue"]

_LOCAL = ZoneInfo("America/New_York")  # where the fictional contact center works
# Relative call volume per local hour 0..23: quiet nights, a morning and an afternoon peak.
_HOUR_WEIGHTS = (1, 1, 1, 1, 1, 1, 2, 4, 10, 14, 15, 13, 11, 13, 14, 13, 11, 8, 5, 3, 2, 2, 1, 1)
_FIRST = ("Alex", "Sam", "Jordan", "Maria", "Wei", "Priya", "Liam", "Noor", "Kofi", "Ana")
_LAST = ("Smith", "Garcia", "Chen", "Patel", "Okafor", "Novak", "Kim", "Silva", "Berg", "Rossi")
_SKILLS = ("English", "Spanish", "Billing", "Technical", "Sales")
_GROUPS = ("Front Office", "Back Office", "Night Shift", "Supervisors")
_TRUNKS = ("PRI (4)", "SIP (1)", "SIP (2)", "Analog (7)")
_QUEUES = (
    ("Customer Service", "5001", False),
    ("Sales", "5002", False),
    ("Billing", "5003", False),
    ("Helpdesk Tier 1", "5101", True),
    ("Helpdesk Tier 2", "5102", True),
    ("Soporte Español", "5201", False),  # non-ASCII on purpose
)


@attrs.frozen
class Queue:
    """A queue (workgroup); ``helpdesk`` marks the ones the helpdesk report covers."""

    name: str
    extension: str
    helpdesk: bool


@attrs.frozen
class Agent:
    """An agent with an extension, skills, and queue and group memberships."""

    name: str
    extension: str
    skills: frozenset[str]
    queues: frozenset[str]
    groups: frozenset[str]


@attrs.frozen
class Call:
    """One call leg. Times are seconds; ``start`` is an aware UTC datetime."""

    start: datetime
    media_type: str
    call_type: str
    action: str
    caller_id: str
    dialed_number: str
    trunk: str
    queue: str | None
    agent: Agent | None
    wait: float
    talk: float
    hold: float

    @property
    def duration(self) -> float:
        """Total seconds from start to hang-up."""
        return self.wait + self.talk + self.hold


class Dataset:
    """Queues, agents and calls built from ``seed``; see the module docstring."""

    def __init__(
        self,
        *,
        seed: int,
        now: float,
        calls: int = 3000,
        days: int = 120,
        clock: Callable[[], float] | None = None,
    ) -> None:
        rng = random.Random(seed)
        self.now = datetime.fromtimestamp(now, UTC)
        self.queues: tuple[Queue, ...] = tuple(Queue(n, e, h) for n, e, h in _QUEUES)
        self.agents: tuple[Agent, ...] = self._make_agents(rng)
        built = [c for c in (self._make_call(rng, days) for _ in range(calls)) if c is not None]
        built.sort(key=lambda c: c.start)
        self._history: tuple[Call, ...] = tuple(built)
        self._starts = [c.start for c in built]
        self._seed = seed
        self._clock = clock
        self._daily = calls / max(days, 1)
        self._arrived: list[Call] = []  # calls after the anchor, in time order
        self._arrived_starts: list[datetime] = []
        # The first day not generated yet: the anchor's own day stays as the history left it.
        self._next_day = self.now.astimezone(_LOCAL).date() + timedelta(days=1)

    @property
    def calls(self) -> tuple[Call, ...]:
        """Every call that exists now: the history, then the calls that arrived since."""
        return self._history + tuple(self._arrived[: self._arrived_count()])

    def between(self, start: datetime, stop: datetime) -> Sequence[Call]:
        """Calls with ``start <= call.start < stop`` that exist now, in time order."""
        lo = bisect.bisect_left(self._starts, start)
        hi = bisect.bisect_left(self._starts, stop)
        found = self._history[lo:hi]
        if self._clock is None or stop <= self.now:
            return found
        count = self._arrived_count()
        lo = bisect.bisect_left(self._arrived_starts, start, hi=count)
        hi = bisect.bisect_left(self._arrived_starts, stop, hi=count)
        return (*found, *self._arrived[lo:hi])

    def _arrived_count(self) -> int:
        """How many arrived calls exist at the clock's time (generating days as needed)."""
        if self._clock is None:
            return 0
        moment = datetime.fromtimestamp(self._clock(), UTC)
        last_day = moment.astimezone(_LOCAL).date()
        while self._next_day <= last_day:
            self._arrive(self._next_day)
            self._next_day += timedelta(days=1)
        return bisect.bisect_right(self._arrived_starts, moment)

    def _arrive(self, day: date) -> None:
        rng = random.Random(f"{self._seed}:{day.isoformat()}")
        weight = 0.4 if day.weekday() >= 5 else 1.2
        count = round(self._daily * weight * rng.uniform(0.8, 1.2))
        drawn = [self._call_on(rng, day, latest=None) for _ in range(count)]
        new = [c for c in drawn if c is not None and c.start > self.now]
        new.sort(key=lambda c: c.start)
        self._arrived += new
        self._arrived_starts += [c.start for c in new]

    def _make_agents(self, rng: random.Random) -> tuple[Agent, ...]:
        names = [
            f"{f} {last}" for f, last in zip(_FIRST, rng.sample(_LAST, len(_LAST)), strict=True)
        ]
        # Quotes and spare seats are what filters trip over, so they are always present.
        names += ["Pat O'Brien", "Agent Spare 1"]
        agents = []
        for i, name in enumerate(names):
            agents.append(
                Agent(
                    name=name,
                    extension=str(3001 + i),
                    skills=frozenset(rng.sample(_SKILLS, rng.randint(1, 3))),
                    queues=frozenset(q[0] for q in rng.sample(_QUEUES, rng.randint(1, 3))),
                    groups=frozenset(rng.sample(_GROUPS, rng.randint(1, 2))),
                )
            )
        return tuple(agents)

    def _make_call(self, rng: random.Random, days: int) -> Call | None:
        day = self.now.astimezone(_LOCAL).date() - timedelta(days=rng.randrange(days))
        if day.weekday() >= 5 and rng.random() < 0.7:  # weekends are quieter
            day -= timedelta(days=day.weekday() - 4)
        return self._call_on(rng, day, latest=self.now)

    def _call_on(self, rng: random.Random, day: date, *, latest: datetime | None) -> Call | None:
        # The history's draws stop at a call after ``latest``: keep that order (seeded data).
        hour = rng.choices(range(24), weights=_HOUR_WEIGHTS)[0]
        local = datetime(day.year, day.month, day.day, hour, tzinfo=_LOCAL) + timedelta(
            seconds=rng.randrange(3600)
        )
        start = local.astimezone(UTC)
        if latest is not None and start > latest:
            return None
        media = rng.choices(("Voice", "Chat", "Email"), weights=(8, 1.5, 0.5))[0]
        call_type = rng.choices(("Inbound", "Outbound", "Internal"), weights=(7, 2, 1))[0]
        queue: str | None = None
        wait = 0.0
        if call_type == "Inbound" and rng.random() < 0.8:
            queue = rng.choice(self.queues).name
            wait = round(rng.expovariate(1 / 40), 1)
        action = rng.choices(("Answered", "Transfer", "Abandoned", "Voicemail"), (14, 3, 2, 1))[0]
        if queue is None and action == "Abandoned":
            action = "Answered"
        agent: Agent | None = None
        talk = hold = 0.0
        if action in ("Answered", "Transfer"):
            members = [a for a in self.agents if queue in a.queues] if queue else []
            agent = rng.choice(members or self.agents)
            talk = round(rng.lognormvariate(5.0, 0.7), 1)
            hold = round(rng.expovariate(1 / 20), 1) if rng.random() < 0.3 else 0.0
        return Call(
            start=start,
            media_type=media,
            call_type=call_type,
            action=action,
            caller_id=f"+1555{rng.randrange(10**7):07d}",
            dialed_number=f"1555{rng.randrange(10**7):07d}",
            trunk=rng.choice(_TRUNKS),
            queue=queue,
            agent=agent,
            wait=wait,
            talk=talk,
            hold=hold,
        )

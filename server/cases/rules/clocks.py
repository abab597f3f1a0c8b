"""The clock engine for legislated deadlines on complaint files. Pure.

A clock counts calendar days or Alberta business days (weekends and the statutory holidays
the ``holidays`` package lists for the province), in the agency's time zone; it is due at
the end of its last day. It can pause (the file waits on the complainant) and resume with
the days it had left, be extended to a later date, be met, or stop counting (the file went
to another body, or ended).

Its *state* is kept apart from the file's stage. The states that are not overdue (paused,
extended before its new date, referred, met, stopped) are never shown as overdue, however
long ago the first due date passed: trackers that count "waiting on the complainant" as late
are the most common complaint about them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

import holidays

__all__ = [
    "NOT_OVERDUE",
    "Calendar",
    "Clock",
    "ClockPolicy",
    "ClockState",
    "DayKind",
    "Limitation",
    "days_left",
    "due_at",
    "extend",
    "extension_due",
    "is_business_day",
    "limitation",
    "meet",
    "next_turn",
    "overdue_by",
    "pause",
    "renew",
    "restart",
    "resume",
    "start",
    "state",
    "stop",
    "warning_from",
]

DayKind = Literal["business", "calendar"]
ClockState = Literal["running", "warning", "overdue", "paused", "extended", "referred", "met", "stopped"]
NOT_OVERDUE: frozenset[ClockState] = frozenset({"paused", "extended", "referred", "met", "stopped"})


@dataclass(frozen=True, slots=True)
class Calendar:
    tz: str = "America/Edmonton"
    country: str = "CA"
    subdiv: str = "AB"


@dataclass(frozen=True, slots=True)
class ClockPolicy:
    days: int
    day_kind: DayKind
    warn_days: int = 0  # a warning from 00:00 of the day this many days before the due day; 0: none
    recurring: bool = False  # meeting it starts the next period (the status update)
    pauses: bool = True  # it stops counting while the file waits on the complainant


@dataclass(frozen=True, slots=True)
class Clock:
    name: str
    started_at: int  # ms
    due_at: int  # ms: the end of the last day, local time
    day_kind: DayKind
    paused_at: int | None = None
    remaining: int = 0  # days of its kind left when it was paused
    extended_at: int | None = None
    original_due: int | None = None  # before the first extension
    met_at: int | None = None
    stopped: str = ""  # why it no longer counts: "referred", "closed", "withdrawn", "dismissed"


@lru_cache(maxsize=8)
def _holidays(country: str, subdiv: str) -> holidays.HolidayBase:
    return holidays.country_holidays(country, subdiv=subdiv or None)


@lru_cache(maxsize=8)
def _zone(tz: str) -> ZoneInfo:
    return ZoneInfo(tz)


def is_business_day(day: dt.date, cal: Calendar = Calendar()) -> bool:
    return day.weekday() < 5 and day not in _holidays(cal.country, cal.subdiv)


def _day(ms: int, cal: Calendar) -> dt.date:
    return dt.datetime.fromtimestamp(ms / 1000, _zone(cal.tz)).date()


def _end_of(day: dt.date, cal: Calendar) -> int:
    end = dt.datetime.combine(day, dt.time(23, 59, 59, 999000), tzinfo=_zone(cal.tz))
    return int(end.timestamp() * 1000)


def _start_of(day: dt.date, cal: Calendar) -> int:
    return int(dt.datetime.combine(day, dt.time(), tzinfo=_zone(cal.tz)).timestamp() * 1000)


def _counts(day: dt.date, kind: DayKind, cal: Calendar) -> bool:
    return kind == "calendar" or is_business_day(day, cal)


def _add(day: dt.date, days: int, kind: DayKind, cal: Calendar) -> dt.date:
    """The ``days``-th day of its kind after ``day`` (backwards for a negative count)."""
    step = dt.timedelta(days=1 if days >= 0 else -1)
    left = abs(days)
    while left > 0:
        day += step
        if _counts(day, kind, cal):
            left -= 1
    return day


def due_at(start_ms: int, days: int, kind: DayKind, cal: Calendar = Calendar()) -> int:
    """The end of the ``days``-th day of its kind after the local day of ``start_ms``.

    Received on a Saturday with 2 business days: due at the end of Tuesday (Monday is day one)."""
    return _end_of(_add(_day(start_ms, cal), days, kind, cal), cal)


def days_left(from_ms: int, due_ms: int, kind: DayKind, cal: Calendar = Calendar()) -> int:
    """The days of its kind in (the day of ``from_ms``, the due day]; 0 once the due day has come."""
    day, last = _day(from_ms, cal), _day(due_ms, cal)
    n = 0
    while day < last:
        day += dt.timedelta(days=1)
        if _counts(day, kind, cal):
            n += 1
    return n


def start(name: str, at_ms: int, policy: ClockPolicy, cal: Calendar = Calendar()) -> Clock:
    return Clock(name, at_ms, due_at(at_ms, policy.days, policy.day_kind, cal), policy.day_kind)


def pause(clock: Clock, at_ms: int, cal: Calendar = Calendar()) -> Clock:
    """Stop counting, keeping the days left (none if it is already past due: it stays late)."""
    if clock.paused_at is not None or clock.met_at is not None or clock.stopped:
        return clock
    return dataclasses.replace(clock, paused_at=at_ms, remaining=days_left(at_ms, clock.due_at, clock.day_kind, cal))


def resume(clock: Clock, at_ms: int, cal: Calendar = Calendar()) -> Clock:
    """Count again with the days it had left. Paused and resumed the same day: due as before. A
    clock that was overdue when paused keeps its due date: waiting did not make it less late."""
    if clock.paused_at is None:
        return clock
    if clock.paused_at > clock.due_at or _day(at_ms, cal) == _day(clock.paused_at, cal):
        return dataclasses.replace(clock, paused_at=None, remaining=0)
    due = due_at(at_ms, clock.remaining, clock.day_kind, cal)
    return dataclasses.replace(clock, paused_at=None, remaining=0, due_at=max(due, clock.due_at))


def extend(clock: Clock, new_due_ms: int, at_ms: int) -> Clock:
    if clock.met_at is not None or clock.stopped:
        raise ValueError("This clock is no longer counting: there is nothing to extend.")
    if new_due_ms <= clock.due_at:
        raise ValueError("An extension must move the due date later.")
    original = clock.original_due if clock.original_due is not None else clock.due_at
    return dataclasses.replace(clock, due_at=new_due_ms, extended_at=at_ms, original_due=original)


def extension_due(clock: Clock, extra_days: int, cal: Calendar = Calendar()) -> int:
    """The due date ``extra_days`` days (of the clock's kind) after its current due day."""
    return _end_of(_add(_day(clock.due_at, cal), extra_days, clock.day_kind, cal), cal)


def meet(clock: Clock, at_ms: int) -> Clock:
    return dataclasses.replace(clock, met_at=at_ms, paused_at=None)


def renew(clock: Clock, at_ms: int, policy: ClockPolicy, cal: Calendar = Calendar()) -> Clock:
    """The next period of a recurring clock, from now."""
    return Clock(clock.name, at_ms, due_at(at_ms, policy.days, policy.day_kind, cal), policy.day_kind)


def stop(clock: Clock, why: str) -> Clock:
    return dataclasses.replace(clock, stopped=why)


def restart(clock: Clock) -> Clock:
    return dataclasses.replace(clock, stopped="")


def warning_from(clock: Clock, policy: ClockPolicy, cal: Calendar = Calendar()) -> int | None:
    """00:00 of the day ``warn_days`` days (of its kind) before the due day; None if no warning."""
    if policy.warn_days <= 0:
        return None
    return _start_of(_add(_day(clock.due_at, cal), -policy.warn_days, clock.day_kind, cal), cal)


def state(clock: Clock, now_ms: int, policy: ClockPolicy, cal: Calendar = Calendar()) -> ClockState:
    if clock.met_at is not None:
        return "met"
    if clock.stopped == "referred":
        return "referred"
    if clock.stopped:
        return "stopped"
    if clock.paused_at is not None:
        return "paused"
    if now_ms > clock.due_at:
        return "overdue"  # an extended clock past its new date too: the extension itself was missed
    if clock.extended_at is not None:
        return "extended"
    warn = warning_from(clock, policy, cal)
    if warn is not None and now_ms >= warn:
        return "warning"
    return "running"


def next_turn(
    clock: Clock, now_ms: int, policy: ClockPolicy, cal: Calendar = Calendar()
) -> tuple[int, ClockState] | None:
    """When its state next changes by time alone, and to what; None if it never will."""
    now = state(clock, now_ms, policy, cal)
    if now in ("met", "stopped", "referred", "paused", "overdue"):
        return None
    warn = warning_from(clock, policy, cal)
    if now == "running" and warn is not None and warn > now_ms:
        return warn, "warning"
    return clock.due_at + 1, "overdue"


def overdue_by(clock: Clock, now_ms: int, policy: ClockPolicy, cal: Calendar = Calendar()) -> int:
    """Whole days of its kind past due (0 unless overdue)."""
    if state(clock, now_ms, policy, cal) != "overdue":
        return 0
    return days_left(clock.due_at, now_ms, clock.day_kind, cal)


@dataclass(frozen=True, slots=True)
class Limitation:
    deadline: dt.date | None  # the last day to file; None when the incident date is unknown
    within: bool | None
    days_past: int
    may_extend: bool


def limitation(
    occurred_on: dt.date | None,
    received_ms: int,
    days: int = 365,
    may_extend: bool = True,
    cal: Calendar = Calendar(),
) -> Limitation:
    """Whether a complaint came in within the limitation period after the incident."""
    if occurred_on is None:
        return Limitation(None, None, 0, may_extend)
    deadline = occurred_on + dt.timedelta(days=days)
    received = _day(received_ms, cal)
    past = max(0, (received - deadline).days)
    return Limitation(deadline, received <= deadline, past, may_extend)

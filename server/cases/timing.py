"""The agency's clocks for complaint files: each clock's rule from the policy, and a stored clock
turned into the engine's and back (``server/cases/rules/clocks.py`` does the counting)."""

from __future__ import annotations

from functools import lru_cache

from server.agency.policy import Complaints, Policy
from server.cases.rules import clocks as engine
from server.records.cases import ClockRow

__all__ = [
    "ACKNOWLEDGE",
    "DECISION",
    "REFERRAL",
    "STATUS_UPDATE",
    "TERMS",
    "clock_of",
    "next_turn",
    "policy_for",
    "row_of",
    "stored",
    "view",
]

ACKNOWLEDGE = "acknowledge"
STATUS_UPDATE = "status_update"
DECISION = "decision"
REFERRAL = "referral"  # one per referral out: "referral-1", "referral-2"...

_DEFAULTS = {
    STATUS_UPDATE: engine.ClockPolicy(60, "calendar", warn_days=7, recurring=True),
    DECISION: engine.ClockPolicy(180, "calendar", warn_days=30),
    REFERRAL: engine.ClockPolicy(30, "calendar", warn_days=5, pauses=False),
}


def TERMS(policy: Policy) -> engine.Calendar:  # noqa: N802 - reads as a constant of the policy
    return _calendar(policy.complaints.timezone, policy.complaints.holidays_country, policy.complaints.holidays_subdiv)


@lru_cache(maxsize=8)
def _calendar(tz: str, country: str, subdiv: str) -> engine.Calendar:
    return engine.Calendar(tz, country, subdiv)


def _kind(name: str) -> str:
    return REFERRAL if name.startswith(REFERRAL) else name


def policy_for(policy: Policy, name: str) -> engine.ClockPolicy:
    rules: Complaints = policy.complaints
    if name == ACKNOWLEDGE:
        return engine.ClockPolicy(rules.acknowledge_days, rules.acknowledge_day_kind, warn_days=1, pauses=False)
    kind = _kind(name)
    given = rules.clocks.get(kind)
    if given is None:
        return _DEFAULTS.get(kind, _DEFAULTS[DECISION])
    return engine.ClockPolicy(given.days, given.day_kind, given.warn_days, given.recurring, given.pauses)


def clock_of(row: ClockRow) -> engine.Clock:
    return engine.Clock(
        name=row.name,
        started_at=row.started_at,
        due_at=row.due_at,
        day_kind="business" if row.day_kind == "business" else "calendar",
        paused_at=row.paused_at,
        remaining=row.remaining,
        extended_at=row.extended_at,
        original_due=row.original_due,
        met_at=row.met_at,
        stopped=row.stopped,
    )


def stored(clock: engine.Clock, rule: engine.ClockPolicy, cal: engine.Calendar, was: ClockRow | None) -> ClockRow:
    """The stored form of a clock under its rule: what was announced is kept unless its due date
    moved or a new period began (a status update sent), and what was said of its delay is kept."""
    same = was is not None and was.due_at == clock.due_at and was.started_at == clock.started_at
    return ClockRow(
        name=clock.name,
        started_at=clock.started_at,
        due_at=clock.due_at,
        day_kind=clock.day_kind,
        warn_at=engine.warning_from(clock, rule, cal),
        paused_at=clock.paused_at,
        remaining=clock.remaining,
        extended_at=clock.extended_at,
        original_due=clock.original_due,
        met_at=clock.met_at,
        stopped=clock.stopped,
        announced=was.announced if was is not None and same else "running",
        delay_reason=was.delay_reason if was is not None else "",
        extension=was.extension if was is not None else "",
        delay_expected=was.delay_expected if was is not None else "",
        delay_action=was.delay_action if was is not None else "",
    )


def row_of(clock: engine.Clock, policy: Policy, was: ClockRow | None = None) -> ClockRow:
    """The stored form of a case clock (its rule from the policy)."""
    return stored(clock, policy_for(policy, clock.name), TERMS(policy), was)


def next_turn(row: ClockRow, rule: engine.ClockPolicy, cal: engine.Calendar, now_ms: int) -> int | None:
    """When a stored clock must next be looked at: now, if it is warning or overdue and that has
    not been announced (received late, a turn missed while Redis was away); else when it next
    turns; None if it never will by time alone."""
    clock = clock_of(row)
    current = engine.state(clock, now_ms, rule, cal)
    if current in ("warning", "overdue") and row.announced != current:
        return now_ms
    turn = engine.next_turn(clock, now_ms, rule, cal)
    return turn[0] if turn is not None else None


def view(row: ClockRow, policy: Policy, now_ms: int) -> tuple[str, int]:
    """A clock's state now, and whole days overdue."""
    clock, rule = clock_of(row), policy_for(policy, row.name)
    cal = TERMS(policy)
    return engine.state(clock, now_ms, rule, cal), engine.overdue_by(clock, now_ms, rule, cal)

"""Dispatch rules as pure functions: life cycles, availability, recommendations,
coverage, welfare timers, response-time reports. No I/O; the policy is an argument.
"""

from __future__ import annotations

import enum
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec

from protocol.messages import PullableUnit, RankedUnit
from protocol.state import Incident, Position, UnitState
from server.policy import Policy

__all__ = [
    "INCIDENT_TRANSITIONS",
    "KEEPS_CALL",
    "ON_CALL_STATUSES",
    "IncidentStatus",
    "ResponseReport",
    "ResponseRow",
    "ResponseSummary",
    "availability_of",
    "coverage_warnings",
    "incident_progress",
    "incident_transition_allowed",
    "is_open",
    "pullable_units",
    "rank_units",
    "response_time_report",
    "status_limit_s",
    "unit_transition_allowed",
    "welfare_deadlines",
    "welfare_state",
]


class IncidentStatus(enum.StrEnum):
    PENDING = "pending"
    ASSIGNED = "assigned"
    ENROUTE = "enroute"
    ONSCENE = "onscene"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    REOPENED = "reopened"


_S = IncidentStatus
_OPEN = {_S.PENDING, _S.ASSIGNED, _S.ENROUTE, _S.ONSCENE, _S.REOPENED}

INCIDENT_TRANSITIONS: dict[IncidentStatus, frozenset[IncidentStatus]] = {
    # Reopened is only for a call that was closed or cancelled.
    **{s: frozenset(_OPEN | {_S.CLOSED, _S.CANCELLED}) - {s, _S.REOPENED} for s in _OPEN},
    _S.CLOSED: frozenset({_S.REOPENED}),
    _S.CANCELLED: frozenset({_S.REOPENED}),
}

# EIDO incident status registry names, for exchange.
EIDO_INCIDENT_STATUS = {
    _S.PENDING: "New",
    _S.ASSIGNED: "ResourcesAssigned",
    _S.ENROUTE: "ResourcesEnroute",
    _S.ONSCENE: "ResourcesOnscene",
    _S.CLOSED: "Closed",
    _S.CANCELLED: "Cancelled",
    _S.REOPENED: "ReOpened",
}

ON_CALL_STATUSES = frozenset({"dispatched", "enroute", "onscene", "transporting"})
# Statuses in which a unit stays on its call: on it, or in distress at it.
KEEPS_CALL = ON_CALL_STATUSES | {"emergency"}
_PROGRESS = {
    "dispatched": _S.ASSIGNED,
    "enroute": _S.ENROUTE,
    "onscene": _S.ONSCENE,
    "transporting": _S.ONSCENE,
}
_RANK = {_S.PENDING: 0, _S.REOPENED: 0, _S.ASSIGNED: 1, _S.ENROUTE: 2, _S.ONSCENE: 3}


def is_open(status: str) -> bool:
    return status in _OPEN


def incident_transition_allowed(current: str, new: str) -> bool:
    try:
        return IncidentStatus(new) in INCIDENT_TRANSITIONS[IncidentStatus(current)]
    except (ValueError, KeyError):
        return False


def incident_progress(current: str, unit_status: str) -> str:
    """The incident's status once one of its units reports ``unit_status``: it only moves forward."""
    target = _PROGRESS.get(unit_status)
    if target is None or current not in _RANK:
        return current
    return target.value if _RANK[target] > _RANK[IncidentStatus(current)] else current


def unit_transition_allowed(policy: Policy, current: str, new: str) -> bool:
    if new not in policy.unit_statuses:
        return False
    if new == "emergency" or not current or current == new:
        return True
    rule = policy.unit_statuses.get(current)
    return rule is not None and ("*" in rule.next or new in rule.next)


def availability_of(policy: Policy, status: str) -> str:
    rule = policy.unit_statuses.get(status)
    return rule.availability if rule is not None else "not_available"


@dataclass(frozen=True, slots=True)
class Candidate:
    unit: UnitState
    position: Position | None
    distance_m: float | None  # None: the unit has no position, or the call has no coordinates


def _capable(c: Candidate, needs: Sequence[str]) -> bool:
    return set(needs) <= {*c.unit.capabilities, *c.unit.equipment}


def _distance_key(c: Candidate) -> float:
    return c.distance_m if c.distance_m is not None else float("inf")


def rank_units(policy: Policy, candidates: Iterable[Candidate], needs: Sequence[str], now_ms: int) -> list[RankedUnit]:
    """Units to send, best first: available before conditionally available, fresh
    positions before stale, then nearest. Units lacking a needed capability,
    not available, or beyond the distance limit are left out. A call with no
    coordinates ranks no one by distance (every distance is unknown, never 0)."""
    stale_ms = policy.positions.stale_after_s * 1000
    ranked = []
    for c in candidates:
        availability = availability_of(policy, c.unit.status)
        if availability == "not_available":
            continue
        if c.distance_m is not None and c.distance_m > policy.recommend.max_distance_m:
            continue  # a unit with no position at all is still listed, last, as stale
        if not _capable(c, needs):
            continue
        stale = c.position is None or now_ms - c.position.at > stale_ms
        key = (availability != "available", stale, _distance_key(c))
        ranked.append(
            (
                key,
                RankedUnit(
                    unit=c.unit.id,
                    distance_m=round(c.distance_m, 1) if c.distance_m is not None else None,
                    status=c.unit.status,
                    availability=availability,
                    stale=stale,
                    district=c.unit.district,
                    capabilities=sorted({*c.unit.capabilities, *c.unit.equipment}),
                ),
            )
        )
    ranked.sort(key=lambda pair: pair[0])
    return [r for _, r in ranked[: policy.recommend.count]]


def pullable_units(
    policy: Policy,
    candidates: Iterable[Candidate],
    needs: Sequence[str],
    call_priority: int,
    priority_of: dict[str, int],
    limit: int = 3,
) -> list[PullableUnit]:
    """Units committed to a lower-priority call (a larger number) that could be pulled to this
    one, nearest first: what a dispatcher reaches for when nothing is free. ``priority_of``
    maps the open incidents the candidates are on to their priorities."""
    found = []
    for c in candidates:
        on = c.unit.incident
        if on is None or on not in priority_of or priority_of[on] <= call_priority:
            continue
        if c.unit.status in ("emergency", "off_duty", "out_of_service") or not _capable(c, needs):
            continue
        if c.distance_m is not None and c.distance_m > policy.recommend.max_distance_m:
            continue
        found.append(
            PullableUnit(
                unit=c.unit.id,
                incident=on,
                priority=priority_of[on],
                status=c.unit.status,
                distance_m=round(c.distance_m, 1) if c.distance_m is not None else None,
                district=c.unit.district,
            )
        )
    # nearest first; among equals, the least urgent call gives its unit up first
    found.sort(key=lambda p: (p.distance_m if p.distance_m is not None else float("inf"), -p.priority))
    return found[:limit]


def coverage_warnings(policy: Policy, units: Iterable[UnitState], sending: str) -> list[str]:
    """Warn when sending this unit leaves its district with no available unit."""
    units = list(units)
    chosen = next((u for u in units if u.id == sending), None)
    if chosen is None or not chosen.district:
        return []
    left = [
        u
        for u in units
        if u.id != sending and u.district == chosen.district and availability_of(policy, u.status) == "available"
    ]
    if left:
        return []
    return [f"sending {sending} leaves {chosen.district} with no available unit"]


def welfare_deadlines(
    policy: Policy, unit: UnitState, call_type: str | None = None, priority: int | None = None
) -> tuple[int, int] | None:
    """(warning at, critical at) for a unit, from its last contact, or None when it is not on duty.

    On a call: the call type's interval (first check, then `welfare_every_s` after a check-in),
    else the priority's, else welfare.on_call_s. Off a call: welfare.idle_s."""
    if unit.status in ("off_duty", "out_of_service"):
        return None
    if unit.status in KEEPS_CALL and call_type is not None:
        interval = policy.welfare.on_call_s
        level = policy.priorities.get(priority) if priority is not None else None
        if level is not None and level.welfare_s:
            interval = level.welfare_s
        ct = policy.call_types.get(call_type.upper())
        checked_in_since = unit.last_contact > unit.since  # a check-in after the last status change
        if ct is not None and checked_in_since and ct.welfare_every_s:
            interval = ct.welfare_every_s
        elif ct is not None and ct.welfare_s:
            interval = ct.welfare_s
    elif unit.status in KEEPS_CALL:
        interval = policy.welfare.on_call_s
    else:
        interval = policy.welfare.idle_s
    warn = unit.last_contact + interval * 1000
    return warn, warn + policy.welfare.critical_after_s * 1000


def status_limit_s(policy: Policy, status: str, priority: int | None) -> int:
    """How long a unit may stay in a status before an alarm (0: no limit); the call's priority may say."""
    level = policy.priorities.get(priority) if priority is not None else None
    if level is not None and status in level.status_alarm_s:
        return level.status_alarm_s[status]
    rule = policy.unit_statuses.get(status)
    return rule.max_s if rule is not None else 0


def welfare_state(now_ms: int, warn_at: int | None, critical_at: int | None) -> str:
    if warn_at is None or now_ms < warn_at:
        return "green"
    if critical_at is None or now_ms < critical_at:
        return "warning"
    return "critical"


@dataclass(frozen=True, slots=True)
class ResponseRow:
    """One incident, as the report needs it."""

    priority: int
    call_type: str
    created_at: int
    first_dispatch_at: int | None


class ResponseSummary(msgspec.Struct, omit_defaults=True):
    """Calls and the time to their first dispatch (seconds): percentiles, and against a priority's target."""

    calls: int
    dispatched: int
    p50_s: float | None = None
    p90_s: float | None = None
    p95_s: float | None = None
    max_s: float | None = None
    target_s: float | None = None
    within_target: float | None = None  # the share of calls dispatched within the target


class ResponseReport(msgspec.Struct):
    by_priority: dict[str, ResponseSummary]  # "P1", "P2", ...
    by_day: dict[str, ResponseSummary]  # "2026-11-23", ... (UTC)
    by_type: dict[str, ResponseSummary]


def _summary(policy: Policy, rows: list[ResponseRow], priority: int | None) -> ResponseSummary:
    waits = sorted((r.first_dispatch_at - r.created_at) / 1000 for r in rows if r.first_dispatch_at)
    out = ResponseSummary(calls=len(rows), dispatched=len(waits))
    if waits:
        q = statistics.quantiles(waits, n=100, method="inclusive") if len(waits) > 1 else [waits[0]] * 99
        out.p50_s, out.p90_s, out.p95_s = round(q[49], 1), round(q[89], 1), round(q[94], 1)
        out.max_s = round(waits[-1], 1)
    if priority is not None and priority in policy.priorities:
        target = policy.priority(priority).target_dispatch_s
        within = sum(1 for w in waits if w <= target)
        out.target_s = target
        out.within_target = round(within / len(rows), 3) if rows else None
    return out


def response_time_report(policy: Policy, rows: Sequence[ResponseRow]) -> ResponseReport:
    """Time from call to first dispatch, per priority (against its target), per day and per type.

    A call never dispatched counts against the share within target."""
    by_priority: dict[int, list[ResponseRow]] = defaultdict(list)
    by_day: dict[str, list[ResponseRow]] = defaultdict(list)
    by_type: dict[str, list[ResponseRow]] = defaultdict(list)
    for r in rows:
        by_priority[r.priority].append(r)
        by_day[datetime.fromtimestamp(r.created_at / 1000, UTC).date().isoformat()].append(r)
        by_type[r.call_type].append(r)
    return ResponseReport(
        by_priority={f"P{p}": _summary(policy, rs, p) for p, rs in sorted(by_priority.items())},
        by_day={d: _summary(policy, rs, None) for d, rs in sorted(by_day.items())},
        by_type={t: _summary(policy, rs, None) for t, rs in sorted(by_type.items())},
    )


def primary_of(incident: Incident) -> str | None:
    return next((a.unit for a in incident.units if a.primary and a.cleared_at is None), None)

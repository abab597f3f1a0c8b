"""Dispatch rules as pure functions: statuses and the transitions allowed.

The thin slice of the hub core; the full dispatch domain (priorities,
timers, recommendations) builds on these.
"""

from __future__ import annotations

import enum

__all__ = [
    "INCIDENT_TRANSITIONS",
    "IncidentStatus",
    "UnitStatus",
    "incident_transition_allowed",
    "parse_unit_status",
]


class UnitStatus(enum.StrEnum):
    AVAILABLE = "available"
    DISPATCHED = "dispatched"
    ENROUTE = "enroute"
    ONSCENE = "onscene"
    TRANSPORTING = "transporting"
    BUSY = "busy"
    BREAK = "break"
    COURT = "court"
    OUT_OF_SERVICE = "out_of_service"
    OFF_DUTY = "off_duty"
    EMERGENCY = "emergency"


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
    **{s: frozenset(_OPEN | {_S.CLOSED, _S.CANCELLED}) - {s} for s in _OPEN},
    _S.CLOSED: frozenset({_S.REOPENED}),
    _S.CANCELLED: frozenset({_S.REOPENED}),
}


def parse_unit_status(value: str) -> UnitStatus | None:
    try:
        return UnitStatus(value)
    except ValueError:
        return None


def incident_transition_allowed(current: str, new: str) -> bool:
    try:
        return IncidentStatus(new) in INCIDENT_TRANSITIONS[IncidentStatus(current)]
    except (ValueError, KeyError):
        return False

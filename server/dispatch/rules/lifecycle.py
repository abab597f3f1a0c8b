"""Life cycles as pure functions: incident and unit statuses, the transitions allowed between
them, how a unit's status moves its call on, what a status means for availability, and what a
unit is once it enters a status."""

from __future__ import annotations

import enum

import msgspec

from protocol.state import Availability, CoreUnitStatus, Incident, IncidentStatus, UnitState
from server.agency.policy import Policy

__all__ = [
    "EIDO_INCIDENT_STATUS",
    "INCIDENT_TRANSITIONS",
    "KEEPS_CALL",
    "ON_CALL_STATUSES",
    "SAME_CALL",
    "IncidentStatus",
    "SameCall",
    "availability_of",
    "enter_status",
    "incident_progress",
    "incident_transition_allowed",
    "is_open",
    "primary_of",
    "unit_transition_allowed",
]

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

_U = CoreUnitStatus
ON_CALL_STATUSES = frozenset({_U.DISPATCHED, _U.ENROUTE, _U.ONSCENE, _U.TRANSPORTING})
# Statuses in which a unit stays on its call: on it, or in distress at it.
KEEPS_CALL = ON_CALL_STATUSES | {_U.EMERGENCY}
_PROGRESS: dict[str, IncidentStatus] = {
    _U.DISPATCHED: _S.ASSIGNED,
    _U.ENROUTE: _S.ENROUTE,
    _U.ONSCENE: _S.ONSCENE,
    _U.TRANSPORTING: _S.ONSCENE,
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
    if new == _U.EMERGENCY or not current or current == new:
        return True
    rule = policy.unit_statuses.get(current)
    return rule is not None and ("*" in rule.next or new in rule.next)


def availability_of(policy: Policy, status: str) -> Availability:
    rule = policy.unit_statuses.get(status)
    return rule.availability if rule is not None else Availability.NOT_AVAILABLE


class SameCall(enum.Enum):
    """A unit entering a status stays on the call it is on (or on none)."""

    SAME_CALL = "same call"


SAME_CALL = SameCall.SAME_CALL


def enter_status(
    policy: Policy,
    unit: UnitState,
    status: str,
    *,
    at: int,
    by: str,
    call: str | None | SameCall = SAME_CALL,
    contact: bool = True,
) -> UnitState:
    """The unit once it enters ``status`` at ``at``, by ``by``: its time in the status starts
    over, its availability is the status's (policy), and it joins ``call``, leaves its call
    (``None``) or stays on it (``SAME_CALL``). A status change is contact with the officer
    (welfare timers run from it) unless ``contact`` is False: a missed check-in is none.

    What follows is the caller's, in the same plan: the unit's timers start over
    (``server.dispatch.timers.restart_unit_timers``) and the boards hear of it
    (``server.dispatch.live.status_entered``)."""
    changes: dict[str, object] = {
        "status": status,
        "since": at,
        "updated_by": by,
        "availability": availability_of(policy, status),
    }
    if contact:
        changes["last_contact"] = at
    if not isinstance(call, SameCall):
        changes["incident"] = call
    return msgspec.structs.replace(unit, **changes)


def primary_of(incident: Incident) -> str | None:
    return next((a.unit for a in incident.units if a.primary and a.cleared_at is None), None)

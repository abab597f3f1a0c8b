"""Life cycles as pure functions: incident and unit statuses, the transitions allowed between
them, how a unit's status moves its call on, and what a status means for availability."""

from __future__ import annotations

import enum

from protocol.state import Incident
from server.agency.policy import Policy


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


def primary_of(incident: Incident) -> str | None:
    return next((a.unit for a in incident.units if a.primary and a.cleared_at is None), None)

"""Dispatch rules as pure functions: life cycles, availability, recommendations, coverage, welfare
timers, response-time reports. No I/O; the policy is an argument. Nothing here may import
``bus``, ``records``, ``realtime`` or a driver (import-linter checks it).

Each concept has its module; their names are gathered here so a caller imports
``server.dispatch.rules``.
"""

from server.dispatch.rules.lifecycle import (
    INCIDENT_TRANSITIONS,
    KEEPS_CALL,
    ON_CALL_STATUSES,
    SAME_CALL,
    IncidentStatus,
    SameCall,
    availability_of,
    enter_status,
    incident_progress,
    incident_transition_allowed,
    is_open,
    primary_of,
    unit_transition_allowed,
)
from server.dispatch.rules.recommendation import Candidate, coverage_warnings, pullable_units, rank_units
from server.dispatch.rules.response_times import ResponseReport, ResponseRow, ResponseSummary, response_time_report
from server.dispatch.rules.welfare import status_limit_s, welfare_deadlines, welfare_state

__all__ = [
    "INCIDENT_TRANSITIONS",
    "KEEPS_CALL",
    "ON_CALL_STATUSES",
    "SAME_CALL",
    "Candidate",
    "IncidentStatus",
    "ResponseReport",
    "ResponseRow",
    "ResponseSummary",
    "SameCall",
    "availability_of",
    "coverage_warnings",
    "enter_status",
    "incident_progress",
    "incident_transition_allowed",
    "is_open",
    "primary_of",
    "pullable_units",
    "rank_units",
    "response_time_report",
    "status_limit_s",
    "unit_transition_allowed",
    "welfare_deadlines",
    "welfare_state",
]

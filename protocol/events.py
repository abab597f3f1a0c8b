"""Domain events: what a command did, as appended to a topic stream.

An event is the payload of an ``event`` frame. ``ts`` is the hub's clock in
milliseconds when the command was applied (latency is measured from it);
``by`` is the user who caused it.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from protocol.limits import MAX_LIST, MAX_NAME
from protocol.state import (
    Alarm,
    Incident,
    Name,
    Position,
    RadioEntry,
    Resource,
    Text,
    TimelineEntry,
    TrafficMode,
    UnitState,
)

__all__ = [
    "AlarmRaised",
    "AlarmUpdated",
    "CaseChanged",
    "CaseClockTurned",
    "CaseLetterChanged",
    "CaseWarningRaised",
    "AccessChanged",
    "Event",
    "IncidentCreated",
    "IncidentUpdated",
    "Notified",
    "PositionReported",
    "RadioLogged",
    "ResourceUpdated",
    "TrafficModeChanged",
    "UnitStatusChanged",
    "UnitUpdated",
]


class _EventBase(msgspec.Struct, tag_field="kind", omit_defaults=True):
    ts: int
    by: Name


class IncidentCreated(_EventBase, tag="incident.created"):
    incident: Incident
    entry: TimelineEntry | None = None


class IncidentUpdated(_EventBase, tag="incident.updated"):
    incident: Incident
    changed: Annotated[list[Annotated[str, Meta(max_length=MAX_NAME)]], Meta(max_length=MAX_LIST)] = []
    entry: TimelineEntry | None = None  # the line this change added to the timeline


class UnitStatusChanged(_EventBase, tag="unit.status"):
    unit: UnitState
    previous: Name = ""


class UnitUpdated(_EventBase, tag="unit.updated"):
    """Roster details, a check-in, or welfare timers changed."""

    unit: UnitState
    reason: Name = ""


class PositionReported(_EventBase, tag="unit.position", gc=False):
    position: Position


class RadioLogged(_EventBase, tag="radio.logged"):
    entry: RadioEntry


class AlarmRaised(_EventBase, tag="alarm.raised"):
    alarm: Alarm


class AlarmUpdated(_EventBase, tag="alarm.updated"):
    """Cover units added, located, acknowledged, cancelled, resolved, or police support requested."""

    alarm: Alarm
    action: Name


class ResourceUpdated(_EventBase, tag="resource.updated"):
    resource: Resource


class TrafficModeChanged(_EventBase, tag="traffic.mode"):
    mode: TrafficMode


class Notified(_EventBase, tag="notify"):
    """A message for everyone holding ``role`` (a supervisor, say)."""

    role: Name
    text: Text
    alarm: Name | None = None
    incident: Name | None = None


class CaseChanged(_EventBase, tag="case.changed"):
    """A complaint file was filed or changed (on the intake lane, for case staff only). It names the
    file and where it is, never what the person told us: the workspace reads the file itself."""

    file: Name
    version: int
    stage: Name
    act: Name
    assignee: Name = ""
    route: Name = ""
    acting_for: Name = ""  # the team lead a coordinator acted for


class CaseClockTurned(_EventBase, tag="case.clock"):
    """A legislated clock on a file turned warning or overdue (announced once, by one hub)."""

    file: Name
    clock: Name
    state: Name
    due_at: int
    assignee: Name = ""


class CaseLetterChanged(_EventBase, tag="case.letter"):
    """A letter on a file drafted, edited, submitted, returned or issued (never its text)."""

    file: Name
    letter: int
    letter_kind: Name
    state: Name
    author: Name
    number: Name = ""


class CaseWarningRaised(_EventBase, tag="case.warning"):
    """An officer crossed an early-warning threshold: a flag for the team lead (officer by register id)."""

    warning: int
    officer: int
    rule: Annotated[str, Meta(max_length=200)]
    count: int
    service: Annotated[str, Meta(max_length=200)] = ""


class AccessChanged(_EventBase, tag="access.changed"):
    """An access-to-information request received or changed, or its clock turned (never its content)."""

    request: Name
    version: int
    stage: Name
    act: Name
    assignee: Name = ""


Event = (
    IncidentCreated
    | IncidentUpdated
    | UnitStatusChanged
    | UnitUpdated
    | PositionReported
    | RadioLogged
    | AlarmRaised
    | AlarmUpdated
    | TrafficModeChanged
    | Notified
    | ResourceUpdated
    | CaseChanged
    | CaseClockTurned
    | CaseLetterChanged
    | CaseWarningRaised
    | AccessChanged
)

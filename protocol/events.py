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
from protocol.state import Alarm, Incident, Name, Position, RadioEntry, UnitState

__all__ = [
    "AlarmRaised",
    "Event",
    "IncidentCreated",
    "IncidentUpdated",
    "PositionReported",
    "RadioLogged",
    "UnitStatusChanged",
]


class _EventBase(msgspec.Struct, tag_field="kind", omit_defaults=True):
    ts: int
    by: Name


class IncidentCreated(_EventBase, tag="incident.created"):
    incident: Incident


class IncidentUpdated(_EventBase, tag="incident.updated"):
    incident: Incident
    changed: Annotated[list[Annotated[str, Meta(max_length=MAX_NAME)]], Meta(max_length=MAX_LIST)] = []


class UnitStatusChanged(_EventBase, tag="unit.status"):
    unit: UnitState
    previous: Name = ""


class PositionReported(_EventBase, tag="unit.position", gc=False):
    position: Position


class RadioLogged(_EventBase, tag="radio.logged"):
    entry: RadioEntry


class AlarmRaised(_EventBase, tag="alarm.raised"):
    alarm: Alarm


Event = IncidentCreated | IncidentUpdated | UnitStatusChanged | PositionReported | RadioLogged | AlarmRaised

"""The live objects that events carry and snapshots list.

Each is tagged by ``kind`` so a snapshot list is self-describing. New fields
get defaults and go last (see docs/protocol.md, "Evolution").
"""

from __future__ import annotations

import enum
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from protocol.limits import MAX_ID, MAX_LIST, MAX_NAME, MAX_TEXT

__all__ = [
    "TRAFFIC_MODE_ID",
    "Alarm",
    "AlarmKind",
    "Assignment",
    "Availability",
    "CoreUnitStatus",
    "Id",
    "Incident",
    "IncidentStatus",
    "Lat",
    "Location",
    "Lon",
    "Ids",
    "Millis",
    "Name",
    "Names",
    "Position",
    "RadioEntry",
    "Resource",
    "Text",
    "TimelineEntry",
    "TrafficMode",
    "UnitState",
]

Id = Annotated[str, Meta(min_length=1, max_length=MAX_ID, pattern=r"^[A-Za-z0-9._:-]+$")]
Name = Annotated[str, Meta(max_length=MAX_NAME)]
Text = Annotated[str, Meta(max_length=MAX_TEXT)]
Lat = Annotated[float, Meta(ge=-90.0, le=90.0)]
# Where Redis can index a point (GEOADD refuses latitudes nearer the poles than this).
MappableLat = Annotated[float, Meta(ge=-85.05112878, le=85.05112878)]
Lon = Annotated[float, Meta(ge=-180.0, le=180.0)]
Millis = Annotated[int, Meta(ge=0)]
Names = Annotated[list[Name], Meta(max_length=MAX_LIST)]
Ids = Annotated[list[Id], Meta(max_length=MAX_LIST)]


class IncidentStatus(enum.StrEnum):
    """An incident's status: the whole life cycle (the rules say which move is allowed)."""

    PENDING = "pending"
    ASSIGNED = "assigned"
    ENROUTE = "enroute"
    ONSCENE = "onscene"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    REOPENED = "reopened"


class CoreUnitStatus(enum.StrEnum):
    """The unit statuses the hub and its clients act on. The agency's policy defines every unit
    status (these and its own, such as ``busy`` or ``court``) and must define each of these."""

    AVAILABLE = "available"
    DISPATCHED = "dispatched"
    ENROUTE = "enroute"
    ONSCENE = "onscene"
    TRANSPORTING = "transporting"
    EMERGENCY = "emergency"
    OUT_OF_SERVICE = "out_of_service"
    OFF_DUTY = "off_duty"


class Availability(enum.StrEnum):
    """What a unit status means for sending the unit (each policy status names one)."""

    AVAILABLE = "available"
    CONDITIONAL = "conditional"  # may be sent when no unit is available
    NOT_AVAILABLE = "not_available"


class Location(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    address: Name = ""
    lat: Lat | None = None
    lon: Lon | None = None
    # Set by the hub: is the point inside the service area, and in which district.
    inside: bool | None = None
    district: Name | None = None


class Assignment(msgspec.Struct, omit_defaults=True):
    """A unit on an incident. Several per incident; at most one primary."""

    unit: Id
    assigned_at: Millis
    assigned_by: Name
    primary: bool = False
    acknowledged_at: Millis | None = None
    cleared_at: Millis | None = None


class Incident(msgspec.Struct, tag="incident", tag_field="kind", omit_defaults=True):
    id: Id
    call_type: Name
    priority: Annotated[int, Meta(ge=1, le=5)]
    status: Name
    location: Location
    narrative: Text = ""
    caller: Name = ""
    callback: Name = ""
    source: Name = "phone"
    units: Annotated[list[Assignment], Meta(max_length=MAX_LIST)] = []
    created_at: Millis = 0
    updated_at: Millis = 0
    updated_by: Name = ""
    needs: Names = []
    linked: Ids = []
    merged_into: Id | None = None
    disposition: Name | None = None
    closing_note: Text = ""
    cancel_reason: Name = ""
    first_dispatch_at: Millis | None = None
    closed_at: Millis | None = None
    created_by: Name = ""


class TimelineEntry(msgspec.Struct, tag="timeline", tag_field="kind", omit_defaults=True):
    """One line of an incident's history: who did what, when."""

    at: Millis
    by: Name
    action: Name
    detail: Text = ""
    unit: Id | None = None


class UnitState(msgspec.Struct, tag="unit", tag_field="kind", omit_defaults=True):
    id: Id
    status: Name
    since: Millis = 0
    incident: Id | None = None
    updated_by: Name = ""
    call_sign: Name = ""
    district: Name = ""
    shift: Name = ""
    capabilities: Names = []
    officers: Names = []
    availability: Name = Availability.AVAILABLE
    last_contact: Millis = 0  # last check-in or status change: welfare timers run from here
    welfare_warn_at: Millis | None = None
    welfare_critical_at: Millis | None = None
    equipment: Names = []  # capabilities lent by the resources assigned to it


class Position(msgspec.Struct, tag="position", tag_field="kind", gc=False, omit_defaults=True):
    unit: Id
    lat: Lat
    lon: Lon
    at: Millis
    heading: Annotated[float, Meta(ge=0.0, lt=360.0)] | None = None
    speed: Annotated[float, Meta(ge=0.0, le=100.0)] | None = None
    accuracy: Annotated[float, Meta(ge=0.0, le=100000.0)] | None = None


class RadioEntry(msgspec.Struct, tag="radio_entry", tag_field="kind", omit_defaults=True):
    channel: Name
    text: Text
    at: Millis
    by: Name
    unit: Id | None = None
    incident: Id | None = None


AlarmKind = Literal["panic", "welfare_missed", "welfare_warning", "unassigned", "status_overdue"]
AlarmState = Literal["active", "acknowledged", "cancelled", "resolved"]


class Alarm(msgspec.Struct, tag="alarm", tag_field="kind", omit_defaults=True):
    """An alarm on every board. Latching alarms stay until a dispatcher acknowledges them."""

    id: Id
    unit: Id | None
    reason: Name
    raised_at: Millis
    raised_by: Name
    position: Position | None = None
    alarm: AlarmKind = "panic"
    latching: bool = True
    state: AlarmState = "active"
    incident: Id | None = None
    acked_by: Name | None = None
    acked_at: Millis | None = None
    cancelled_by: Name | None = None
    cancel_reason: Name = ""
    police_requested_by: Name | None = None
    police_requested_at: Millis | None = None
    cover: Ids = []  # recommended cover units, nearest first
    previous_status: Name = ""  # the unit's status before the alarm put it in emergency


class Resource(msgspec.Struct, tag="resource", tag_field="kind", omit_defaults=True):
    """A vehicle, boat, ATV, K9 or piece of (seasonal) equipment in the inventory."""

    id: Id
    category: Literal["vehicle", "boat", "atv", "k9", "equipment", "seasonal"]
    name: Name
    capabilities: Names = []  # what it lends the unit that has it ("boat", "atv", "first_aid"...)
    available: bool = True  # in service (not in repair, not out of season)
    unit: Id | None = None  # the unit it is assigned to
    note: Name = ""
    updated_at: Millis = 0
    updated_by: Name = ""


TRAFFIC_MODE_ID = "emergency-traffic"  # where the mode is kept among the alarms' records


class TrafficMode(msgspec.Struct, tag="traffic_mode", tag_field="kind", omit_defaults=True):
    """Emergency traffic only: set and cleared by dispatch."""

    emergency_only: bool
    set_by: Name
    set_at: Millis
    unit: Id | None = None
    reason: Name = ""

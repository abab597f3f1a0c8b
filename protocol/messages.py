"""Every frame on the wire, as msgspec Structs tagged by ``type``.

Client frames (``ClientFrame``): ``hello``, ``subscribe``, ``unsubscribe``,
``ping`` and the commands. Every command carries a client-chosen ``id``; the
hub answers it with ``ack`` (``ref`` = that id, and the event's offset) or
``error``. Server frames (``ServerFrame``): ``welcome``, ``ack``, ``error``,
``event``, ``positions``, ``resync``, ``pong``.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from protocol.events import Event
from protocol.limits import MAX_ID, MAX_TOPICS
from protocol.state import (
    Alarm,
    Id,
    Ids,
    Incident,
    Location,
    Lon,
    MappableLat,
    Name,
    Names,
    Position,
    RadioEntry,
    Resource,
    Text,
    TrafficMode,
    UnitState,
)

__all__ = [
    "COMMANDS",
    "Ack",
    "AlarmAcknowledge",
    "AlarmCancel",
    "AlarmPolice",
    "IncidentAssign",
    "IncidentCancel",
    "IncidentClose",
    "IncidentLink",
    "IncidentMerge",
    "IncidentNote",
    "IncidentPolice",
    "IncidentReopen",
    "IncidentUnassign",
    "PullableUnit",
    "RankedUnit",
    "ResourceAssign",
    "ResourceUpsert",
    "Recommend",
    "Recommendation",
    "TrafficEmergency",
    "UnitAcknowledge",
    "UnitCheckIn",
    "UnitRoster",
    "ClientFrame",
    "Command",
    "Error",
    "EventFrame",
    "Hello",
    "IncidentCreate",
    "IncidentUpdate",
    "Offset",
    "Ping",
    "Pong",
    "PositionsFrame",
    "RadioAppend",
    "Resync",
    "ServerFrame",
    "SnapshotItem",
    "Subscribe",
    "TopicName",
    "TopicOffset",
    "UnitPanic",
    "UnitPosition",
    "UnitStatus",
    "Unsubscribe",
    "Welcome",
]

TopicName = Annotated[str, Meta(min_length=1, max_length=MAX_ID, pattern=r"^[a-z0-9_.:-]+$")]
# A stream id, "<ms>-<seq>", the position of an event in its topic.
Offset = Annotated[str, Meta(max_length=MAX_ID, pattern=r"^[0-9]+-[0-9]+$")]
Token = Annotated[str, Meta(min_length=1, max_length=4096)]
Source = Literal["phone", "radio", "emergency_phone", "alarm", "panic", "cctv", "email", "311", "officer", "walk_in"]


class _Frame(msgspec.Struct, tag_field="type", forbid_unknown_fields=True, omit_defaults=True):
    pass


# ---- client -> hub ---------------------------------------------------------


class Hello(_Frame, tag="hello"):
    """Authenticate when no Bearer header or cookie was sent."""

    token: Token
    id: Id | None = None


class TopicOffset(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A topic to follow, and where this client left off (omit both for a snapshot)."""

    topic: TopicName
    offset: Offset | None = None
    epoch: Annotated[str, Meta(max_length=MAX_ID)] | None = None


class Subscribe(_Frame, tag="subscribe"):
    id: Id
    topics: Annotated[list[TopicOffset], Meta(min_length=1, max_length=MAX_TOPICS)]


class Unsubscribe(_Frame, tag="unsubscribe"):
    id: Id
    topics: Annotated[list[TopicName], Meta(min_length=1, max_length=MAX_TOPICS)]


class Ping(_Frame, tag="ping"):
    id: Id | None = None


class IncidentCreate(_Frame, tag="incident.create"):
    """A new call. ``priority`` defaults from the call type in the policy."""

    id: Id
    call_type: Name
    location: Location
    priority: Annotated[int, Meta(ge=1, le=5)] | None = None
    narrative: Text = ""
    caller: Name = ""
    callback: Name = ""
    source: Source = "phone"
    needs: Names = []
    linked: Ids = []


class IncidentUpdate(_Frame, tag="incident.update"):
    """Change some fields of an incident; omitted fields stay as they are."""

    id: Id
    incident: Id
    call_type: Name | None = None
    priority: Annotated[int, Meta(ge=1, le=5)] | None = None
    location: Location | None = None
    narrative: Text | None = None
    caller: Name | None = None
    callback: Name | None = None
    status: Name | None = None  # a manual override, still checked against the life cycle
    needs: Names | None = None


class IncidentAssign(_Frame, tag="incident.assign"):
    """Put a unit on a call: the unit is dispatched at once. ``from_incident``: the unit is on that
    call, of lower priority, and is pulled from it to this one in the same step (a reassignment)."""

    id: Id
    incident: Id
    unit: Id
    primary: bool = False
    from_incident: Id | None = None


class IncidentUnassign(_Frame, tag="incident.unassign"):
    id: Id
    incident: Id
    unit: Id
    reason: Name = ""


class IncidentClose(_Frame, tag="incident.close"):
    id: Id
    incident: Id
    disposition: Name
    note: Text = ""


class IncidentCancel(_Frame, tag="incident.cancel"):
    id: Id
    incident: Id
    reason: Annotated[str, Meta(min_length=1, max_length=200)]


class IncidentReopen(_Frame, tag="incident.reopen"):
    id: Id
    incident: Id
    reason: Annotated[str, Meta(min_length=1, max_length=200)]


class IncidentMerge(_Frame, tag="incident.merge"):
    """``incident`` is a duplicate of ``into``: it is closed as such and its units move over."""

    id: Id
    incident: Id
    into: Id


class IncidentLink(_Frame, tag="incident.link"):
    id: Id
    incident: Id
    other: Id


class IncidentNote(_Frame, tag="incident.note"):
    """A line on the timeline: a note, or an observation from CCTV."""

    id: Id
    incident: Id
    text: Annotated[str, Meta(min_length=1, max_length=4000)]
    source: Literal["note", "cctv", "phone", "radio", "email"] = "note"


class IncidentPolice(_Frame, tag="incident.police"):
    """Request police support (EPS) for a call, not tied to an alarm: on its timeline, and the
    supervisors are notified."""

    id: Id
    incident: Id
    note: Name = ""


class Recommend(_Frame, tag="incident.recommend"):
    """Ask for the units to send, nearest available first (answered in the ack)."""

    id: Id
    incident: Id


class UnitRoster(_Frame, tag="unit.roster"):
    """Put a unit on the roster, or change its details."""

    id: Id
    unit: Id
    call_sign: Name = ""
    district: Name = ""
    shift: Name = ""
    capabilities: Names = []
    officers: Names = []
    status: Name = "available"


class ResourceUpsert(_Frame, tag="resource.upsert"):
    """Add a resource to the inventory or change it (availability, season, note)."""

    id: Id
    resource: Id
    category: Literal["vehicle", "boat", "atv", "k9", "equipment", "seasonal"]
    name: Name
    capabilities: Names = []
    available: bool = True
    note: Name = ""


class ResourceAssign(_Frame, tag="resource.assign"):
    """Give a resource to a unit (it gains the resource's capabilities), or take it back (no unit)."""

    id: Id
    resource: Id
    unit: Id | None = None


class UnitStatus(_Frame, tag="unit.status"):
    id: Id
    unit: Id
    status: Name
    incident: Id | None = None


class UnitAcknowledge(_Frame, tag="unit.ack"):
    """The officer has the assignment."""

    id: Id
    unit: Id
    incident: Id


class UnitPosition(_Frame, tag="unit.position", gc=False):
    id: Id
    unit: Id
    lat: MappableLat
    lon: Lon
    heading: Annotated[float, Meta(ge=0.0, lt=360.0)] | None = None
    speed: Annotated[float, Meta(ge=0.0, le=100.0)] | None = None
    accuracy: Annotated[float, Meta(ge=0.0, le=100000.0)] | None = None


class UnitCheckIn(_Frame, tag="unit.checkin"):
    """A welfare check-in: resets the unit's timer."""

    id: Id
    unit: Id


class RadioAppend(_Frame, tag="radio.append"):
    id: Id
    channel: Name
    text: Annotated[str, Meta(min_length=1, max_length=4000)]
    unit: Id | None = None
    incident: Id | None = None


class UnitPanic(_Frame, tag="unit.panic"):
    """An officer's emergency button: raised on the alarms lane, latched until acknowledged."""

    id: Id
    unit: Id
    reason: Name = "panic button"


class AlarmAcknowledge(_Frame, tag="alarm.ack"):
    id: Id
    alarm: Id


class AlarmCancel(_Frame, tag="alarm.cancel"):
    """Cancel with a reason (accidental activations are common)."""

    id: Id
    alarm: Id
    reason: Annotated[str, Meta(min_length=1, max_length=200)]


class AlarmPolice(_Frame, tag="alarm.police"):
    """Request police support for an alarm; logged, and supervisors are notified."""

    id: Id
    alarm: Id
    note: Name = ""


class TrafficEmergency(_Frame, tag="traffic.emergency"):
    """Declare (on) or clear (off) emergency traffic only."""

    id: Id
    on: bool
    unit: Id | None = None
    reason: Name = ""


Command = (
    IncidentCreate
    | IncidentUpdate
    | IncidentAssign
    | IncidentUnassign
    | IncidentClose
    | IncidentCancel
    | IncidentReopen
    | IncidentMerge
    | IncidentLink
    | IncidentNote
    | IncidentPolice
    | Recommend
    | UnitRoster
    | UnitStatus
    | UnitAcknowledge
    | UnitPosition
    | UnitCheckIn
    | RadioAppend
    | UnitPanic
    | AlarmAcknowledge
    | AlarmCancel
    | AlarmPolice
    | TrafficEmergency
    | ResourceUpsert
    | ResourceAssign
)
ClientFrame = Hello | Subscribe | Unsubscribe | Ping | Command

COMMANDS: tuple[type[_Frame], ...] = Command.__args__  # type: ignore[attr-defined]


# ---- hub -> client ---------------------------------------------------------


class Welcome(_Frame, tag="welcome"):
    session: str
    user: str
    role: str
    server_time: int
    heartbeat_s: float
    unit: str | None = None
    topics: list[str] = []


class RankedUnit(msgspec.Struct, omit_defaults=True):
    unit: str
    distance_m: float | None  # None: the unit has reported no position
    status: str
    availability: str
    stale: bool = False
    district: str = ""
    capabilities: list[str] = []


class PullableUnit(msgspec.Struct, omit_defaults=True):
    """A unit on a lower-priority call that may be pulled to this one (``incident.assign`` with
    ``from_incident``)."""

    unit: str
    incident: str  # the call it is on now
    priority: int  # that call's priority
    status: str
    distance_m: float | None  # None: no position, or this call has no coordinates
    district: str = ""


class Recommendation(msgspec.Struct, omit_defaults=True):
    incident: str
    units: list[RankedUnit]
    warnings: list[str] = []
    pullable: list[PullableUnit] = []  # when the call is more urgent than calls units are on


class Ack(_Frame, tag="ack"):
    ref: str
    topic: str | None = None
    offset: str | None = None
    result: dict[str, str] | None = None
    recommendation: Recommendation | None = None


class Error(_Frame, tag="error"):
    code: str
    message: str
    ref: str | None = None


class EventFrame(_Frame, tag="event"):
    topic: str
    offset: str
    epoch: str
    payload: Event


class PositionsFrame(_Frame, tag="positions", gc=False):
    """Latest position per unit since the last frame (conflated, batched per tick)."""

    topic: str
    offset: str
    epoch: str
    items: list[Position]


SnapshotItem = Incident | UnitState | Position | RadioEntry | Alarm | TrafficMode | Resource


class Resync(_Frame, tag="resync"):
    """Throw away what you hold for ``topic``: here is the current state.

    ``reason``: ``initial`` (no offset given), ``gap`` (offset older than the
    kept history), ``epoch`` (the stream was lost and started again), or
    ``state`` (positions are always resumed from a snapshot). Live events
    follow from ``offset``.
    """

    topic: str
    epoch: str
    offset: str
    reason: Literal["initial", "gap", "epoch", "state"]
    snapshot: list[SnapshotItem]


class Pong(_Frame, tag="pong"):
    server_time: int
    ref: str | None = None


ServerFrame = Welcome | Ack | Error | EventFrame | PositionsFrame | Resync | Pong

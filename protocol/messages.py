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
    Incident,
    Lat,
    Location,
    Lon,
    Name,
    Position,
    RadioEntry,
    Text,
    UnitState,
)

__all__ = [
    "COMMANDS",
    "Ack",
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
    id: Id
    call_type: Name
    priority: Annotated[int, Meta(ge=1, le=5)]
    location: Location
    narrative: Text = ""
    caller: Name = ""
    callback: Name = ""
    source: Name = "phone"


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
    status: Name | None = None


class UnitStatus(_Frame, tag="unit.status"):
    id: Id
    unit: Id
    status: Name
    incident: Id | None = None


class UnitPosition(_Frame, tag="unit.position", gc=False):
    id: Id
    unit: Id
    lat: Lat
    lon: Lon
    heading: Annotated[float, Meta(ge=0.0, lt=360.0)] | None = None
    speed: Annotated[float, Meta(ge=0.0, le=100.0)] | None = None
    accuracy: Annotated[float, Meta(ge=0.0, le=100000.0)] | None = None


class RadioAppend(_Frame, tag="radio.append"):
    id: Id
    channel: Name
    text: Annotated[str, Meta(min_length=1, max_length=4000)]
    unit: Id | None = None
    incident: Id | None = None


class UnitPanic(_Frame, tag="unit.panic"):
    """An officer's emergency button: raised on the alarms lane."""

    id: Id
    unit: Id
    reason: Name = "panic button"


Command = IncidentCreate | IncidentUpdate | UnitStatus | UnitPosition | RadioAppend | UnitPanic
ClientFrame = Hello | Subscribe | Unsubscribe | Ping | Command

COMMANDS: tuple[type[_Frame], ...] = (
    IncidentCreate,
    IncidentUpdate,
    UnitStatus,
    UnitPosition,
    RadioAppend,
    UnitPanic,
)


# ---- hub -> client ---------------------------------------------------------


class Welcome(_Frame, tag="welcome"):
    session: str
    user: str
    role: str
    server_time: int
    heartbeat_s: float
    unit: str | None = None
    topics: list[str] = []


class Ack(_Frame, tag="ack"):
    ref: str
    topic: str | None = None
    offset: str | None = None
    result: dict[str, str] | None = None


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


SnapshotItem = Incident | UnitState | Position | RadioEntry | Alarm


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

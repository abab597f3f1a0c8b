"""The live objects that events carry and snapshots list.

Each is tagged by ``kind`` so a snapshot list is self-describing. New fields
get defaults and go last (see docs/protocol.md, "Evolution").
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from protocol.limits import MAX_ID, MAX_LIST, MAX_NAME, MAX_TEXT

__all__ = [
    "Alarm",
    "Id",
    "Incident",
    "Lat",
    "Location",
    "Lon",
    "Name",
    "Position",
    "RadioEntry",
    "Text",
    "UnitState",
]

Id = Annotated[str, Meta(min_length=1, max_length=MAX_ID, pattern=r"^[A-Za-z0-9._:-]+$")]
Name = Annotated[str, Meta(max_length=MAX_NAME)]
Text = Annotated[str, Meta(max_length=MAX_TEXT)]
Lat = Annotated[float, Meta(ge=-90.0, le=90.0)]
Lon = Annotated[float, Meta(ge=-180.0, le=180.0)]
Millis = Annotated[int, Meta(ge=0)]


class Location(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    address: Name = ""
    lat: Lat | None = None
    lon: Lon | None = None


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
    units: Annotated[list[Id], Meta(max_length=MAX_LIST)] = []
    created_at: Millis = 0
    updated_at: Millis = 0
    updated_by: Name = ""


class UnitState(msgspec.Struct, tag="unit", tag_field="kind", omit_defaults=True):
    id: Id
    status: Name
    since: Millis = 0
    incident: Id | None = None
    updated_by: Name = ""


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


class Alarm(msgspec.Struct, tag="alarm", tag_field="kind", omit_defaults=True):
    id: Id
    unit: Id
    reason: Name
    raised_at: Millis
    raised_by: Name
    position: Position | None = None

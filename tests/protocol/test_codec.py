"""The wire protocol: both formats, bounds, errors that name the path, evolution."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from protocol.codec import FrameError, WireFormat, codec_for, negotiate
from protocol.events import IncidentCreated
from protocol.limits import MAX_LIST, MAX_TEXT, MAX_TOPICS
from protocol.messages import (
    Ack,
    ClientFrame,
    Error,
    EventFrame,
    IncidentCreate,
    Ping,
    PositionsFrame,
    Resync,
    ServerFrame,
    Subscribe,
    TopicOffset,
    UnitPosition,
    Welcome,
)
from protocol.schema import json_schema
from protocol.state import Incident, Location, Position

JSON = codec_for(WireFormat.JSON)
MSGPACK = codec_for(WireFormat.MSGPACK)
FIXTURES = Path(__file__).parent / "fixtures" / "v1_frames.jsonl"

CLIENT_SAMPLES = [
    Subscribe(id="s1", topics=[TopicOffset("incidents", "1-0", "ep"), TopicOffset("positions")]),
    IncidentCreate(id="c1", call_type="NOISE", priority=2, location=Location("Churchill Sq", 53.54, -113.49)),
    UnitPosition(id="c2", unit="U7", lat=53.5, lon=-113.5, heading=90.0),
    Ping(id="p"),
]

_INCIDENT = Incident(id="I1", call_type="NOISE", priority=3, status="pending", location=Location("x", 53.5, -113.5))
SERVER_SAMPLES = [
    Welcome(session="s", user="ana", role="dispatcher", server_time=1, heartbeat_s=20.0, topics=["alarms"]),
    Ack(ref="c1", topic="incidents", offset="5-0", result={"incident": "I1"}),
    Error(code="forbidden", message="no", ref="c1"),
    EventFrame("incidents", "5-0", "ep", IncidentCreated(ts=1, by="ana", incident=_INCIDENT)),
    PositionsFrame("positions", "9-1", "ep", [Position("U7", 53.5, -113.5, 7)]),
    Resync("incidents", "ep", "5-0", "gap", [_INCIDENT]),
]


@pytest.mark.parametrize("fmt", list(WireFormat))
@pytest.mark.parametrize("frame", CLIENT_SAMPLES, ids=lambda f: type(f).__name__)
def test_client_frames_round_trip(fmt: WireFormat, frame: object) -> None:
    """Every client frame decodes back to itself in both wire formats."""
    codec = codec_for(fmt)
    assert codec.decode_client(codec.encode(frame)) == frame


@pytest.mark.parametrize("fmt", list(WireFormat))
@pytest.mark.parametrize("frame", SERVER_SAMPLES, ids=lambda f: type(f).__name__)
def test_server_frames_round_trip(fmt: WireFormat, frame: object) -> None:
    """Every server frame decodes back to itself in both wire formats."""
    codec = codec_for(fmt)
    assert codec.decode_server(codec.encode(frame)) == frame


def test_json_frames_are_tagged_by_type() -> None:
    """The JSON form carries the frame type, and events their kind."""
    wire = json.loads(JSON.encode(SERVER_SAMPLES[3]))
    assert wire["type"] == "event"
    assert wire["payload"]["kind"] == "incident.created"
    assert wire["payload"]["incident"]["kind"] == "incident"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            b'{"type":"unit.position","id":"a","unit":"U1","lat":"x","lon":1}',
            "Expected `float`, got `str` - at `$.lat`",
        ),
        (
            b'{"type":"unit.position","id":"a","unit":"U1","lat":91,"lon":1}',
            "Expected `float` <= 85.05112878 - at `$.lat`",
        ),
        (b'{"type":"teleport","id":"a"}', "Invalid value 'teleport' - at `$.type`"),
        (b'{"id":"a"}', "Object missing required field `type`"),
        (b'{"type":"ping","id":"a","extra":1}', "Object contains unknown field `extra`"),
        (b'{"type":"unit.status","id":"bad id!","unit":"U1","status":"x"}', "- at `$.id`"),
    ],
)
def test_invalid_frames_name_what_is_wrong(raw: bytes, message: str) -> None:
    """Decoding errors say what was wrong and where."""
    with pytest.raises(FrameError) as info:
        JSON.decode_client(raw)
    assert message in str(info.value)


def test_malformed_json_is_a_frame_error() -> None:
    """Bytes that are not JSON at all raise FrameError, not a crash."""
    with pytest.raises(FrameError, match="malformed"):
        JSON.decode_client(b"{nope")


def test_bounds_on_strings_and_lists() -> None:
    """Over-long text and over-long lists are refused at decode time."""
    text = "x" * (MAX_TEXT + 1)
    with pytest.raises(FrameError, match=r"\$.text"):
        JSON.decode_client(json.dumps({"type": "radio.append", "id": "a", "channel": "m", "text": text}))
    topics = [{"topic": "incidents"}] * (MAX_TOPICS + 1)
    with pytest.raises(FrameError, match=r"\$.topics"):
        JSON.decode_client(json.dumps({"type": "subscribe", "id": "a", "topics": topics}))
    assert MAX_LIST >= MAX_TOPICS


def test_negotiate_picks_a_known_subprotocol() -> None:
    """No offer means JSON; the first known offer wins; only unknown offers means refuse."""
    assert negotiate([]) is WireFormat.JSON
    assert negotiate(["chat", "dispatch.v1.msgpack"]) is WireFormat.MSGPACK
    assert negotiate(["chat"]) is None


def test_old_frames_keep_decoding() -> None:
    """Frames written by v1 clients (kept as fixtures) still decode: new fields must have defaults."""
    lines = FIXTURES.read_text().splitlines()
    assert len(lines) == 10
    decoded = [JSON.decode_client(line) for line in lines]
    assert {type(f).__struct_config__.tag for f in decoded} == {
        "hello",
        "subscribe",
        "unsubscribe",
        "ping",
        "incident.create",
        "incident.update",
        "unit.status",
        "unit.position",
        "radio.append",
        "unit.panic",
    }


def test_schema_covers_every_frame() -> None:
    """The exported JSON Schema names every client and server frame type."""
    schema = json_schema()
    text = json.dumps(schema)
    for union in (ClientFrame, ServerFrame):
        for cls in union.__args__:  # type: ignore[attr-defined]
            assert cls.__name__ in schema["$defs"], cls.__name__
            assert json.dumps(cls.__struct_config__.tag) in text

"""Random frames: every one is answered or closed with a documented code; the hub stays up."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from protocol.codes import CloseCode
from protocol.messages import COMMANDS
from server.bus.valkey import EmbeddedValkey
from tests.helpers import HubProcess, S, start_hub_process, test_token

DOCUMENTED_CLOSES = {CloseCode.UNSUPPORTED_DATA, CloseCode.INVALID_FRAME_DATA, CloseCode.MESSAGE_TOO_BIG}
TAGS = ["hello", "subscribe", "unsubscribe", "ping"] + [c.__struct_config__.tag for c in COMMANDS]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
field_names = st.sampled_from(
    [
        "id",
        "unit",
        "lat",
        "lon",
        "status",
        "topics",
        "topic",
        "offset",
        "text",
        "channel",
        "priority",
        "call_type",
        "location",
        "incident",
        "token",
        "heading",
    ]
) | st.text(max_size=8)
shaped = st.builds(
    lambda tag, fields: json.dumps({"type": tag, **fields}),
    st.sampled_from(TAGS) | st.text(max_size=12),
    st.dictionaries(field_names, json_values, max_size=6),
)
frames = shaped | st.text(max_size=200) | st.binary(max_size=200)


def _nested(depth: int, kind: str) -> str:
    return ("[" * depth + "]" * depth) if kind == "array" else ('{"a":' * depth + "1" + "}" * depth)


def _deep_frame(tag: str, name: str, depth: int, kind: str, tag_last: bool, ref: str) -> tuple[str, str]:
    """A small frame with one field nested ``depth`` levels, before or after its type tag. -> (frame, its id)."""
    deep = f'"{name}":{_nested(depth, kind)}'
    if tag_last:
        return f'{{"id":"{ref}",{deep},"type":"{tag}"}}', ref
    return f'{{"type":"{tag}","id":"{ref}",{deep}}}', ref


deep_frames = st.builds(
    _deep_frame,
    st.sampled_from(TAGS),
    st.from_regex(r"\A[a-z_]{1,10}\Z").filter(lambda n: n not in ("id", "type")),
    st.integers(600, 3000),
    st.sampled_from(["array", "object"]),
    st.booleans(),
    st.from_regex(r"\A[a-z0-9]{1,12}\Z"),
)


@pytest.fixture(scope="module")
def hub_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    valkey = EmbeddedValkey(tmp_path_factory.mktemp("fuzz-valkey"))
    valkey.start()
    hub = start_hub_process(Path(tmp_path_factory.mktemp("fuzz-hub")), redis_url=valkey.url)
    try:
        hub.wait_healthy()
        yield hub
    finally:
        hub.stop()
        valkey.stop()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=frames)
def test_random_frames_are_answered_or_closed_with_a_documented_code(
    hub_process: HubProcess, frame: str | bytes
) -> None:
    """Whatever arrives gets a frame back (error, ack, pong, resync...) or a documented close."""
    token = test_token("fuzzer")
    with connect(
        hub_process.url,
        additional_headers={"Authorization": f"Bearer {token}"},
        subprotocols=["dispatch.v1.json"],
        open_timeout=5 * S,
    ) as ws:
        assert json.loads(ws.recv(5 * S))["type"] == "welcome"
        ws.send(frame)
        try:
            reply = json.loads(ws.recv(5 * S))
            assert reply["type"] in {"error", "ack", "pong", "resync", "event"}, reply
        except ConnectionClosed as exc:
            assert exc.rcvd is not None and exc.rcvd.code in DOCUMENTED_CLOSES, exc


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sample=deep_frames)
def test_deeply_nested_frames_are_all_answered_with_their_id(hub_process: HubProcess, sample: tuple[str, str]) -> None:
    """Nested thousands deep in any field: every such command is answered invalid_frame, naming its id."""
    frame, ref = sample
    with connect(
        hub_process.url,
        additional_headers={"Authorization": f"Bearer {test_token('fuzzer')}"},
        subprotocols=["dispatch.v1.json"],
        open_timeout=5 * S,
    ) as ws:
        assert json.loads(ws.recv(5 * S))["type"] == "welcome"
        ws.send(frame)
        reply = json.loads(ws.recv(5 * S))
    assert (reply["type"], reply["code"], reply.get("ref")) == ("error", "invalid_frame", ref), frame[:60]


def test_hub_healthy_after_fuzzing(hub_process: HubProcess) -> None:
    """After the random frames, health is still green and the process still runs."""
    assert hub_process.proc.poll() is None
    assert httpx.get(hub_process.http + "/healthz").status_code == 200

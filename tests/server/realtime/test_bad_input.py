"""Bad input gets an error frame or a documented close code, and the hub stays healthy."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from protocol.codes import CloseCode
from protocol.limits import MAX_FRAME_BYTES
from server.access.roles import Role
from server.bus.partition import Partition
from server.bus.topics import topic_named
from server.bus.valkey import EmbeddedValkey
from tests.helpers import RunningHub, hub_in_process

RADIO_STREAM = Partition().keys(topic_named("radio")).stream  # type: ignore[arg-type]
RADIO_EPOCH = Partition().keys(topic_named("radio")).epoch  # type: ignore[arg-type]

JSON_PROTO = [websockets.Subprotocol("dispatch.v1.json")]


async def _open(hub: RunningHub, token: str | None = None) -> ClientConnection:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    ws = await connect(hub.url, additional_headers=headers, subprotocols=JSON_PROTO, compression=None)
    if token:
        assert json.loads(await ws.recv())["type"] == "welcome"
    return ws


async def _reply(ws: ClientConnection) -> dict:
    return json.loads(await ws.recv())


async def _close_code(ws: ClientConnection) -> int:
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await ws.recv()
    assert info.value.rcvd is not None
    return info.value.rcvd.code


async def _healthy(hub: RunningHub) -> bool:
    async with httpx.AsyncClient() as http:
        return (await http.get(hub.http + "/healthz")).status_code == 200


@pytest.mark.parametrize(
    ("frame", "code", "says"),
    [
        ("{not json", "invalid_frame", "malformed"),
        ('{"type":"teleport","id":"x"}', "invalid_frame", "$.type"),
        ('{"type":"unit.status","id":"x","unit":7,"status":"enroute"}', "invalid_frame", "$.unit"),
        ('{"type":"unit.position","id":"x","unit":"U1","lat":123,"lon":0}', "invalid_frame", "$.lat"),
        # beyond where Redis can index a point: refused alone, never in a batch with others' reports
        ('{"type":"unit.position","id":"x","unit":"U1","lat":89,"lon":0}', "invalid_frame", "$.lat"),
        (
            '{"type":"unit.status","id":"x","unit":"U1","status":"teleporting"}',
            "invalid_transition",
            "teleporting",
        ),
        ('{"type":"incident.update","id":"x","incident":"nope"}', "not_found", "nope"),
        ('{"type":"subscribe","id":"x","topics":[{"topic":"gossip"}]}', "unknown_topic", "gossip"),
    ],
)
async def test_bad_frames_get_error_frames(hub: RunningHub, frame: str, code: str, says: str) -> None:
    """Each bad frame is answered with an error naming the problem; the connection stays usable."""
    ws = await _open(hub, hub.token())
    await ws.send(frame)
    reply = await _reply(ws)
    assert reply["type"] == "error" and reply["code"] == code, reply
    assert says in reply["message"]
    if says != "malformed":  # a frame that names its id has its error answer it, so the sender can settle it
        assert reply["ref"] == "x", reply
    await ws.send('{"type":"ping","id":"after"}')
    assert (await _reply(ws))["type"] == "pong"
    await ws.close()
    assert await _healthy(hub)


async def test_forbidden_command_for_role(hub: RunningHub) -> None:
    """An officer may not write the radio log, nor move another unit."""
    ws = await _open(hub, hub.token("u7", Role.OFFICER, "U7"))
    await ws.send('{"type":"radio.append","id":"r","channel":"main","text":"hi"}')
    assert (await _reply(ws))["code"] == "forbidden"
    await ws.send('{"type":"unit.position","id":"p","unit":"U8","lat":53.5,"lon":-113.5}')
    reply = await _reply(ws)
    assert reply["code"] == "forbidden" and reply["ref"] == "p"
    await ws.send('{"type":"subscribe","id":"s","topics":[{"topic":"radio"}]}')
    assert (await _reply(ws))["code"] == "forbidden"
    await ws.close()


async def test_oversized_frame_closes_1009(hub: RunningHub) -> None:
    """A frame over the size limit closes the connection with 1009."""
    ws = await _open(hub, hub.token())
    await ws.send("x" * (MAX_FRAME_BYTES + 1))
    assert await _close_code(ws) == CloseCode.MESSAGE_TOO_BIG
    assert await _healthy(hub)


async def test_binary_frame_on_json_closes_1003(hub: RunningHub) -> None:
    """The JSON subprotocol takes text frames only."""
    ws = await _open(hub, hub.token())
    await ws.send(b'{"type":"ping"}')
    assert await _close_code(ws) == CloseCode.UNSUPPORTED_DATA


async def test_command_before_auth_then_timeout_closes_4001(
    redis: aioredis.Redis, valkey: EmbeddedValkey, tmp_path: Path
) -> None:
    """Without a token a command gets 'unauthenticated', and no hello in time closes 4001."""
    async with hub_in_process(valkey.url, tmp_path, hello_timeout_s=0.5) as hub:
        ws = await _open(hub)
        await ws.send('{"type":"radio.append","id":"r","channel":"main","text":"hi"}')
        reply = await _reply(ws)
        assert reply["code"] == "unauthenticated" and reply["ref"] == "r"
        assert await _close_code(ws) == CloseCode.UNAUTHENTICATED
        assert await redis.xlen(RADIO_STREAM) == 0


async def test_bad_token_closes_4001(hub: RunningHub) -> None:
    """A forged or expired token is refused with 4001, by header and by hello."""
    ws = await connect(hub.url, additional_headers={"Authorization": "Bearer forged"}, subprotocols=JSON_PROTO)
    assert await _close_code(ws) == CloseCode.UNAUTHENTICATED
    ws = await _open(hub)
    await ws.send('{"type":"hello","token":"forged"}')
    assert await _close_code(ws) == CloseCode.UNAUTHENTICATED


async def test_hello_and_cookie_authenticate(hub: RunningHub) -> None:
    """A hello frame, or the HttpOnly cookie a browser holds, authenticates like the header."""
    ws = await _open(hub)
    await ws.send(json.dumps({"type": "hello", "token": hub.token("u7", Role.OFFICER, "U7")}))
    welcome = await _reply(ws)
    assert welcome["type"] == "welcome" and welcome["unit"] == "U7"
    await ws.close()
    ws = await connect(
        hub.url,
        additional_headers={"Cookie": f"dispatch_token={hub.token('cookie-user')}"},
        subprotocols=JSON_PROTO,
    )
    assert (await _reply(ws))["user"] == "cookie-user"
    await ws.close()


async def test_unknown_subprotocol_is_refused(hub: RunningHub) -> None:
    """Offering only subprotocols we do not speak fails the handshake."""
    with pytest.raises(websockets.exceptions.InvalidStatus):
        await connect(hub.url, subprotocols=[websockets.Subprotocol("chat")])


async def test_too_many_commands_are_rate_limited(
    redis: aioredis.Redis, valkey: EmbeddedValkey, tmp_path: Path
) -> None:
    """Past the burst, commands are answered 'rate_limited' and not applied."""
    async with hub_in_process(valkey.url, tmp_path, commands_per_s=1.0, commands_burst=5) as hub:
        ws = await _open(hub, hub.token())
        for i in range(8):
            await ws.send(json.dumps({"type": "radio.append", "id": f"r{i}", "channel": "m", "text": "x"}))
        codes = [(await _reply(ws)).get("code", "ack") for _ in range(8)]
        assert codes.count("rate_limited") >= 2
        assert await redis.xlen(RADIO_STREAM) == codes.count("ack")


def _deep(depth: int = 1000) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    "frame",
    [
        '{"id":"x","text":' + _deep() + ',"type":"radio.append","channel":"m"}',  # before the type tag
        '{"id":"x","location":{"address":' + _deep(3000) + '},"type":"incident.create","call_type":"N"}',
        '{"type":"ping","id":"x","extra":' + '{"a":' * 1500 + "1" + "}" * 1500 + "}",
        '{"zzz":' + _deep(5000) + ',"id":"x","type":"ping"}',
    ],
    ids=["array-before-tag", "inside-a-field", "deep-object", "deep-before-id"],
)
async def test_deeply_nested_frames_are_answered_with_their_ref(hub: RunningHub, frame: str) -> None:
    """A small frame nested thousands of levels deep, in any field: answered invalid_frame with its id,
    the connection open, nothing logged as a crash."""
    ws = await _open(hub, hub.token())
    await ws.send(frame)
    reply = await _reply(ws)
    assert (reply["type"], reply["code"], reply["ref"]) == ("error", "invalid_frame", "x"), reply
    await ws.send('{"type":"ping","id":"after"}')
    assert (await _reply(ws))["type"] == "pong"
    await ws.close()


async def test_deeply_nested_msgpack_and_id_are_answered(hub: RunningHub) -> None:
    """The same in msgpack, and a frame whose id itself is nested deep (answered, with no ref)."""
    import msgspec

    ws = await connect(
        hub.url,
        additional_headers={"Authorization": f"Bearer {hub.token()}"},
        subprotocols=[websockets.Subprotocol("dispatch.v1.msgpack")],
        compression=None,
    )
    msgspec.msgpack.decode(await ws.recv())  # welcome
    deep = b"\x91" * 3000 + b"\xc0"
    enc = msgspec.msgpack.encode
    await ws.send(b"\x83" + enc("extra") + deep + enc("id") + enc("m1") + enc("type") + enc("ping"))
    first = msgspec.msgpack.decode(await ws.recv())
    await ws.send(b"\x82" + enc("id") + deep + enc("type") + enc("ping"))
    second = msgspec.msgpack.decode(await ws.recv())
    assert (first["code"], first["ref"]) == ("invalid_frame", "m1")
    assert (second["code"], second.get("ref")) == ("invalid_frame", None)
    await ws.close()
    ws = await _open(hub, hub.token())
    await ws.send('{"type":"ping","id":' + _deep(5000) + "}")
    reply = await _reply(ws)
    assert reply["code"] == "invalid_frame" and reply.get("ref") is None
    await ws.close()
    assert await _healthy(hub)


async def test_frames_before_hello_are_answered_with_their_ref(hub: RunningHub) -> None:
    """An invalid frame sent before signing in keeps its id in the error."""
    ws = await _open(hub)
    await ws.send('{"type":"radio.append","id":"early","channel":7}')
    reply = await _reply(ws)
    assert (reply["code"], reply["ref"]) == ("invalid_frame", "early")
    await ws.close()


async def test_only_undecodable_frames_count_toward_1007_and_the_last_is_answered(hub: RunningHub) -> None:
    """Thirty frames of the wrong shape are each answered and the session stays; twenty-one that are not
    JSON at all are each answered too, the last one included, and then the session closes 1007."""
    async with hub_in_process(
        hub.settings.redis_url, hub.settings.data_dir, commands_per_s=1e6, commands_burst=10**6
    ) as fast:
        ws = await _open(fast, fast.token())
        for i in range(30):
            await ws.send(f'{{"type":"unit.status","id":"w{i}","unit":7}}')
        assert [(await _reply(ws))["ref"] for _ in range(30)] == [f"w{i}" for i in range(30)]
        for _ in range(21):
            await ws.send("{not json")
        answers = [(await _reply(ws))["code"] for _ in range(21)]
        assert answers == ["invalid_frame"] * 21
        assert await _close_code(ws) == CloseCode.INVALID_FRAME_DATA


async def test_unsubscribing_from_an_unknown_topic_is_refused_as_subscribing_is(hub: RunningHub) -> None:
    ws = await _open(hub, hub.token())
    await ws.send('{"type":"unsubscribe","id":"u1","topics":["gossip"]}')
    reply = await _reply(ws)
    assert (reply["type"], reply["code"], reply["ref"]) == ("error", "unknown_topic", "u1")
    await ws.send('{"type":"unsubscribe","id":"u2","topics":["radio"]}')
    assert (await _reply(ws))["type"] == "ack"
    await ws.close()

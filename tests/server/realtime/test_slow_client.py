"""A client that stops reading is closed 4108 (slow consumer); nobody else is slowed."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest
import redis.asyncio as aioredis
import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from clients.connection import Connection
from protocol.codes import CloseCode
from protocol.messages import EventFrame, RadioAppend
from server.bus.valkey import EmbeddedValkey
from tests.helpers import RunningHub, hub_in_process, wait_for


async def _stalled_reader(hub: RunningHub) -> ClientConnection:
    """A radio subscriber with a tiny receive buffer that reads nothing until told to."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", hub.settings.port))
    stalled = await connect(
        hub.url,
        sock=sock,
        additional_headers={"Authorization": f"Bearer {hub.token('stalled')}"},
        subprotocols=[websockets.Subprotocol("dispatch.v1.json")],
        max_queue=1,
        compression=None,
    )
    await stalled.send('{"type":"subscribe","id":"s","topics":[{"topic":"radio"}]}')
    return stalled


async def test_stalled_reader_closed_as_slow_while_others_keep_receiving(
    redis: aioredis.Redis, valkey: EmbeddedValkey, tmp_path: Path
) -> None:
    """The stalled client's queue overflows and it gets 4108 (slow consumer); a healthy board gets every event."""
    overrides = dict(queue_max_messages=100, queue_max_bytes=256 * 1024, commands_per_s=1e6, commands_burst=10**6)
    async with hub_in_process(valkey.url, tmp_path, **overrides) as hub:
        stalled = await _stalled_reader(hub)
        healthy = Connection(hub.url, token=hub.token("board"), topics=["radio"])
        await healthy.start()
        async with Connection(hub.url, token=hub.token("ana")) as desk:
            sent = []
            # Kernel socket buffers absorb a few MB first; send until the hub gives up on it.
            for i in range(5000):
                ack = await desk.command(RadioAppend(id=desk.next_id(), channel="main", text=f"{i:04d} " + "x" * 3000))
                sent.append(ack.offset)
                if hub.ctx.metrics.slow_closes._value.get():
                    break
            for i in range(50):  # and the healthy board keeps getting more after the close
                ack = await desk.command(RadioAppend(id=desk.next_id(), channel="main", text=f"after {i}"))
                sent.append(ack.offset)
        got = []
        while len(got) < len(sent):
            frame = await healthy.next_frame(10)
            if isinstance(frame, EventFrame):
                got.append(frame.offset)
        assert got == sent
        assert healthy.stats.connects == 1
        assert hub.ctx.metrics.slow_closes._value.get() == 1
        # Now the stalled client reads what was buffered, then the close frame.
        with pytest.raises(ConnectionClosed) as info:
            async with asyncio.timeout(20):
                while True:
                    await stalled.recv()
        assert info.value.rcvd is not None and info.value.rcvd.code == CloseCode.SLOW_CONSUMER
        await wait_for(lambda: len(hub.ctx.hub.sessions) == 1)
        await healthy.close()


async def test_client_that_never_reads_again_is_cut_and_forgotten(
    redis: aioredis.Redis, valkey: EmbeddedValkey, tmp_path: Path
) -> None:
    """After its 4108 the stalled client reads nothing, so its close frame cannot get through:
    the hub cuts the connection within its close bound and forgets the session (it no longer
    counts against the account, nor is it walked by the fan-out)."""
    overrides = dict(queue_max_messages=50, queue_max_bytes=128 * 1024, commands_per_s=1e6, commands_burst=10**6)
    async with hub_in_process(valkey.url, tmp_path, **overrides) as hub:
        stalled = await _stalled_reader(hub)
        await wait_for(lambda: len(hub.ctx.hub.subs["radio"]) == 1)
        async with Connection(hub.url, token=hub.token("ana")) as desk:
            for i in range(5000):
                await desk.command(RadioAppend(id=desk.next_id(), channel="main", text=f"{i:04d} " + "x" * 3000))
                if hub.ctx.metrics.slow_closes._value.get():
                    break
            assert hub.ctx.metrics.slow_closes._value.get() == 1
            # Only the desk is left, although the stalled client never read another byte.
            await wait_for(lambda: len(hub.ctx.hub.sessions) == 1 and not hub.ctx.hub.subs["radio"], 20)
        stalled.transport.abort()


async def _radio_log(hub: RunningHub, entries: int, size: int) -> None:
    async with Connection(hub.url, token=hub.token("ana")) as desk:
        for i in range(entries):
            await desk.command(RadioAppend(id=desk.next_id(), channel="main", text=f"{i:04d} " + "x" * size))


async def test_subscribe_storm_from_a_reader_that_stopped_queues_one_catch_up(
    redis: aioredis.Redis, valkey: EmbeddedValkey, tmp_path: Path
) -> None:
    """A signed-in client that reads nothing and keeps subscribing (within its command rate) gets one
    snapshot queued per topic; the rest are refused, and the hub's backlog for it stays one snapshot."""
    fast = dict(commands_per_s=1e6, commands_burst=10**6, subscribes_burst=1000, subscribes_per_s=1000.0)
    async with hub_in_process(valkey.url, tmp_path, **fast) as hub:
        await _radio_log(hub, 200, 2000)  # a radio snapshot of about 400 KB
        stalled = await _stalled_reader(hub)
        await wait_for(lambda: hub.ctx.hub.subs["radio"])
        (session,) = [s for s in hub.ctx.hub.sessions if s.principal and s.principal.user == "stalled"]
        worst = 0
        for i in range(60):  # the command burst
            await stalled.send(f'{{"type":"subscribe","id":"again{i}","topics":[{{"topic":"radio"}}]}}')
            await asyncio.sleep(0.01)
            worst = max(worst, session.backlog_bytes)
        await asyncio.sleep(0.5)
        worst = max(worst, session.backlog_bytes)
        assert 0 < worst < 2 * 450_000, f"{worst} bytes queued for one client"
        stalled.transport.abort()


async def test_subscribes_have_their_own_rate(hub: RunningHub) -> None:
    """Past the subscribe burst, a subscribe is answered rate_limited (other commands still go)."""
    async with connect(
        hub.url,
        additional_headers={"Authorization": f"Bearer {hub.token('ana')}"},
        subprotocols=[websockets.Subprotocol("dispatch.v1.json")],
    ) as ws:
        await ws.recv()  # welcome
        codes = []
        for i in range(hub.settings.subscribes_burst + 2):
            await ws.send(f'{{"type":"subscribe","id":"s{i}","topics":[{{"topic":"alarms"}}]}}')
            while True:
                frame = json.loads(await ws.recv())
                if frame.get("ref") == f"s{i}":
                    codes.append(frame["type"] if frame["type"] == "ack" else frame["code"])
                    break
        assert codes[: hub.settings.subscribes_burst] == ["ack"] * hub.settings.subscribes_burst
        assert codes[-1] == "rate_limited"
        await ws.send('{"type":"ping","id":"p1"}')
        assert json.loads(await ws.recv())["type"] == "pong"


async def test_catch_ups_past_their_byte_cap_close_as_slow(
    redis: aioredis.Redis, valkey: EmbeddedValkey, tmp_path: Path
) -> None:
    """A client whose unread catch-ups pass catch_up_max_bytes is closed 4108, like any slow reader."""
    async with hub_in_process(
        valkey.url, tmp_path, catch_up_max_bytes=100_000, commands_per_s=1e6, commands_burst=10**6
    ) as hub:
        await _radio_log(hub, 100, 2000)
        stalled = await _stalled_reader(hub)
        await wait_for(lambda: hub.ctx.metrics.slow_closes._value.get() == 1, 10)
        await wait_for(lambda: not hub.ctx.hub.subs["radio"], 20)
        stalled.transport.abort()

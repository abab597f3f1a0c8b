"""Lean load clients, the same for the hub, the floor and the peer.

A board opens its socket, subscribes (the hub: a ``subscribe`` frame; the
peer: the Engine.IO and Socket.IO handshakes; the floor: nothing) and then
only reads. Every radio event carries its publisher's send time in the first
13 characters of its text, so latency is measured the same way for all three:
from the publisher's send to the board's receipt, on one machine's clock.
Offsets give order: a board counts an offset at or below the last one it saw
as a duplicate, and the parent counts what a board never got as lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from typing import Any

import msgspec
from websockets import Subprotocol
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from loadtest.rawws import RawSocket, open_raw
from protocol.codec import WireFormat, codec_for
from protocol.events import AlarmRaised, AlarmUpdated, IncidentCreated, RadioLogged
from protocol.messages import Ack, Error, EventFrame, PositionsFrame, ServerFrame, Subscribe, TopicOffset
from protocol.state import RadioEntry

__all__ = ["Board", "Publisher", "Tally", "open_board", "open_publisher", "radio_text", "sent_ms_of"]

TEXT_LEN = 96  # the radio line every target carries: 13 digits of send time, a space, filler


def radio_text(sent_ms: int) -> str:
    return f"{sent_ms:013d} " + "x" * (TEXT_LEN - 14)


def sent_ms_of(text: str) -> int | None:
    head = text[:13]
    return int(head) if head.isdigit() else None


def _mark(offset: str) -> tuple[int, int]:
    ms, _, seq = offset.partition("-")
    return int(ms), int(seq or 0)


class Tally:
    """What one client process saw: deliveries per wall-clock second (for the throughput chart)."""

    def __init__(self) -> None:
        self.per_s: Counter[int] = Counter()


class Board:
    """One board's view of the radio topic."""

    __slots__ = (
        "accepted",
        "alarms",
        "closed_code",
        "dups",
        "covered",
        "incidents",
        "last",
        "located",
        "latencies",
        "pressed",
        "received",
        "sent_at",
        "staleness",
        "tally",
    )

    def __init__(self, tally: Tally) -> None:
        self.tally = tally
        self.received = 0
        self.dups = 0
        self.last: dict[str, tuple[int, int]] = {}
        self.latencies: list[float] = []
        self.sent_at: list[int] = []
        self.closed_code: int | None = None
        self.alarms: dict[str, float] = {}  # panic alarm id -> ms from the officer's press to this board
        self.accepted: dict[str, float] = {}  # panic alarm id -> ms from the press to the hub's raising it
        self.pressed: dict[str, int] = {}  # panic alarm id -> when it was pressed (ms since the epoch)
        self.located = 0  # panic alarms raised with the unit's position
        self.covered = 0  # cover units added to a panic alarm
        self.incidents = 0
        self.staleness: list[float] = []  # ms from a position's report (hub time) to this board

    def on_radio(self, offset: str, text: str, epoch: str = "") -> None:
        """A radio event. Offsets are ordered per epoch: the hub's topic has one; each
        publisher to the floor or the peer numbers its own messages under its own."""
        now = time.time()
        mark = _mark(offset)
        if mark <= self.last.get(epoch, (0, 0)):
            self.dups += 1
            return
        sent = sent_ms_of(text)
        if sent is None:  # not the generator's (a line from before the run)
            return
        self.last[epoch] = mark
        self.received += 1
        self.tally.per_s[int(now)] += 1
        self.latencies.append(now * 1000 - sent)
        self.sent_at.append(sent)

    def on_hub_frame(self, frame: ServerFrame) -> None:
        if isinstance(frame, EventFrame):
            event = frame.payload
            if isinstance(event, RadioLogged):
                self.on_radio(frame.offset, event.entry.text, frame.epoch)
            elif isinstance(event, AlarmRaised):
                sent = sent_ms_of(event.alarm.reason)
                if event.alarm.id in self.alarms:
                    self.dups += 1
                elif sent is not None:
                    self.alarms[event.alarm.id] = time.time() * 1000 - sent
                    self.accepted[event.alarm.id] = event.alarm.raised_at - sent
                    self.pressed[event.alarm.id] = sent
                    self.located += event.alarm.position is not None
                    self.tally.per_s[int(time.time())] += 1
            elif isinstance(event, AlarmUpdated) and event.action == "cover":
                self.covered += 1
            elif isinstance(event, IncidentCreated):
                self.incidents += 1
        elif isinstance(frame, PositionsFrame):
            now = time.time() * 1000
            self.tally.per_s[int(now / 1000)] += len(frame.items)
            self.staleness += [now - p.at for p in frame.items[::8]]

    def report(self, keep: int = 2000) -> dict[str, Any]:
        step = max(1, len(self.latencies) // keep)
        return {
            "received": self.received,
            "dups": self.dups,
            "latencies": self.latencies[::step],
            "sent_at": self.sent_at[::step],
            "closed_code": self.closed_code,
            "alarms": self.alarms,
            "accepted": self.accepted,
            "pressed": self.pressed,
            "incidents": self.incidents,
            "located": self.located,
            "covered": self.covered,
            "staleness": self.staleness[:: max(1, len(self.staleness) // keep)],
        }


# ---- boards ------------------------------------------------------------------


def _wire_data(raw: bytes, wire: str) -> bytes | str:
    return raw if codec_for(WireFormat(wire)).binary else raw.decode()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def open_board(kind: str, url: str, token: str, wire: str, topics: list[str], board: Board) -> RawSocket:
    """Connect a board to the hub, the floor or the peer; returns once it is subscribed.

    The hub's frames before the subscription's ack (welcome, snapshots) are not counted."""
    codec = codec_for(WireFormat(wire))
    ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    if kind == "hub":

        def on_hub(sock: RawSocket, raw: str | bytes) -> None:
            frame = codec.decode_server(raw)
            if ready.done():
                board.on_hub_frame(frame)
            elif isinstance(frame, Ack) and frame.ref == "sub":
                ready.set_result(None)

        sock = await open_raw(url, on_hub, {**_bearer(token), "Sec-WebSocket-Protocol": wire})
        sock.send(_wire_data(codec.encode(Subscribe(id="sub", topics=[TopicOffset(t) for t in topics])), wire))
    elif kind == "floor":

        def on_floor(sock: RawSocket, raw: str | bytes) -> None:
            frame = codec.decode_server(raw)
            assert isinstance(frame, EventFrame) and isinstance(frame.payload, RadioLogged)
            board.on_radio(frame.offset, frame.payload.entry.text, frame.epoch)

        sock = await open_raw(url + "/board", on_floor)
        ready.set_result(None)
    else:

        def on_peer(sock: RawSocket, raw: str | bytes) -> None:
            # Engine.IO v4 over a WebSocket: 0 open, 2 ping (answer 3), 4 message; Socket.IO inside
            # a message: 0 connect (40 sent, 40{...} back), 2 event (42["radio", {...}]).
            assert isinstance(raw, str)
            if raw.startswith("42"):
                _, data = json.loads(raw[2:])
                board.on_radio(data["offset"], data["payload"]["entry"]["text"], data["epoch"])
            elif raw == "2":
                sock.send("3")
            elif raw.startswith("40"):
                if not ready.done():
                    ready.set_result(None)
            elif raw.startswith("0"):
                sock.send("40")

        sock = await open_raw(url + "?EIO=4&transport=websocket&role=board", on_peer)
    await asyncio.wait_for(ready, 60)
    return sock


# ---- publishers ----------------------------------------------------------------


class Publisher:
    """Radio entries to one target, at most ``window`` unacknowledged at a time."""

    def __init__(self, kind: str, ws: ClientConnection, wire: str, name: str, window: int = 32) -> None:
        self.kind = kind
        self.name = name  # the floor's and the peer's epoch for this publisher's numbering
        self.errors = 0
        self.ws = ws
        self.wire = wire
        self.codec = codec_for(WireFormat(wire))
        self.window = asyncio.Semaphore(window)
        self.sent = 0
        self.acked = 0
        self._reader = asyncio.create_task(self._acks())

    def _frame(self, seq: int, now_ms: int) -> Any:
        entry = RadioEntry(channel="load", text=radio_text(now_ms), at=now_ms, by="loadtest")
        return EventFrame("radio", f"{seq}-0", self.name, RadioLogged(ts=now_ms, by="loadtest", entry=entry))

    async def send(self) -> bool:
        """Send one entry once the window has room. -> False when the connection is gone or
        nothing was acknowledged for 30 s (the run goes on without this publisher)."""
        try:
            await asyncio.wait_for(self.window.acquire(), 30)
        except TimeoutError:
            return False
        if self._reader.done():
            return False
        self.sent += 1
        now_ms = int(time.time() * 1000)
        if self.kind == "hub":
            # Command ids are the hub's retry key per account: each publisher numbers its own.
            cmd = {
                "type": "radio.append",
                "id": f"{self.name}-{self.sent}",
                "channel": "load",
                "text": radio_text(now_ms),
            }
            await self.ws.send(_wire_data(self.codec.encode(cmd), self.wire))
        elif self.kind == "floor":
            await self.ws.send(_wire_data(self.codec.encode(self._frame(self.sent, now_ms)), self.wire))
        else:
            data = msgspec.json.encode(msgspec.to_builtins(self._frame(self.sent, now_ms))).decode()
            await self.ws.send(f'42{self.sent}["publish",{data}]')
        return True

    async def _acks(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.ws:
                if self.kind == "hub":
                    frame = self.codec.decode_server(raw)
                    mine = (frame.ref or "").startswith(self.name) if isinstance(frame, Ack | Error) else False
                    ok = isinstance(frame, Ack) and mine
                    if isinstance(frame, Error) and mine:
                        self.errors += 1
                        self.window.release()
                elif self.kind == "floor":
                    ok = raw == b"k"
                else:
                    if raw == "2":
                        await self.ws.send("3")
                    ok = isinstance(raw, str) and raw.startswith("43")
                if ok:
                    self.acked += 1
                    self.window.release()

    async def finish(self, timeout: float = 30.0) -> None:
        """Wait (bounded) for the acks still out, then close."""
        deadline = time.monotonic() + timeout
        while self.acked < self.sent and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(BaseException):
            await self._reader


async def open_publisher(kind: str, url: str, token: str, wire: str, name: str = "pub") -> Publisher:
    if kind == "hub":
        ws = await _connect(url, subprotocols=[Subprotocol(wire)], additional_headers=_bearer(token))
        await ws.recv()  # welcome
    elif kind == "floor":
        ws = await _connect(url + "/publish")
    else:
        ws = await _connect(url + "?EIO=4&transport=websocket")
        opened = await ws.recv()  # Engine.IO open: 0{"sid":..., "pingInterval":...}
        assert isinstance(opened, str) and opened.startswith("0"), opened
        await ws.send("40")  # Socket.IO connect to the default namespace
        while not str(await ws.recv()).startswith("40"):
            pass
    return Publisher(kind, ws, wire, name)


async def _connect(url: str, **kw: Any) -> ClientConnection:
    return await connect(url, compression=None, max_size=None, open_timeout=60, ping_interval=None, **kw)

"""Fan-out: every subscribed client gets every event, in order, in its own wire format."""

from __future__ import annotations

import asyncio
import itertools

from clients.connection import Connection
from protocol.codec import WireFormat
from protocol.messages import (
    EventFrame,
    IncidentAssign,
    IncidentCreate,
    PositionsFrame,
    RadioAppend,
    Resync,
    UnitPosition,
    UnitRoster,
)
from protocol.state import Location
from server.access.roles import Role
from server.bus.topics import parse_offset
from tests.helpers import RunningHub, wait_for


async def _collect(conn: Connection, n: int, kind: type) -> list:
    got = []
    while len(got) < n:
        frame = await conn.next_frame(10)
        if isinstance(frame, kind):
            got.append(frame)
    return got


async def test_many_clients_both_formats_receive_all_in_order(hub: RunningHub) -> None:
    """60 boards (half JSON, half msgpack) each receive 50 radio events in offset order."""
    formats = itertools.cycle([WireFormat.JSON, WireFormat.MSGPACK])
    boards = [
        Connection(hub.url, token=hub.token(f"board{i}"), topics=["radio"], wire=next(formats)) for i in range(60)
    ]
    await asyncio.gather(*(b.start() for b in boards))
    for b in boards:
        assert isinstance(await b.next_frame(), Resync)
    async with Connection(hub.url, token=hub.token("ana")) as desk:
        acks = [
            await desk.command(RadioAppend(id=desk.next_id(), channel="main", text=f"entry {i}")) for i in range(50)
        ]
    offsets = [a.offset for a in acks]
    assert offsets == sorted(offsets, key=lambda o: parse_offset(o or "0-0"))
    results = await asyncio.gather(*(_collect(b, 50, EventFrame) for b in boards))
    for frames in results:
        assert [f.offset for f in frames] == offsets
        assert [f.payload.entry.text for f in frames] == [f"entry {i}" for i in range(50)]
    await asyncio.gather(*(b.close() for b in boards))
    assert hub.ctx.metrics.events_out.labels("radio")._value.get() == 60 * 50


async def test_dispatcher_and_officer_see_each_other(hub: RunningHub) -> None:
    """A call the desk gives the officer's unit reaches the officer; the officer's position reaches the desk,
    batched."""
    async with (
        Connection(hub.url, token=hub.token("ana"), topics=["incidents", "positions"]) as desk,
        Connection(
            hub.url, token=hub.token("u7", Role.OFFICER, "U7"), topics=["incidents"], wire=WireFormat.MSGPACK
        ) as officer,
    ):
        await desk.command(UnitRoster(id=desk.next_id(), unit="U7", district="Downtown"))
        ack = await desk.command(
            IncidentCreate(id=desk.next_id(), call_type="NOISE", priority=3, location=Location("Churchill Sq"))
        )
        assert ack.result and ack.result["incident"].startswith("I")
        await desk.command(IncidentAssign(id=desk.next_id(), incident=ack.result["incident"], unit="U7"))
        (event,) = await _collect(officer, 1, EventFrame)  # the assignment: the first it may see of the call
        assert event.payload.incident.id == ack.result["incident"]
        assert event.payload.incident.units[0].unit == "U7"
        for lat in (53.50, 53.51, 53.52):
            await officer.command(UnitPosition(id=officer.next_id(), unit="U7", lat=lat, lon=-113.5))
        latest = await wait_for(lambda: _latest(desk), 5)
        assert latest == 53.52


def _latest(conn: Connection) -> float | None:
    found = None
    while conn.pending_frames():
        frame = conn._queue.get_nowait()  # type: ignore[union-attr]
        if isinstance(frame, PositionsFrame):
            found = max(p.lat for p in frame.items)
    return found if found == 53.52 else None


async def test_a_burst_of_clients_all_catch_up(hub: RunningHub) -> None:
    """300 clients connecting at once (a reconnect storm) all get their snapshots and live events."""
    topics = ["alarms", "incidents", "units", "radio", "positions"]
    boards = [Connection(hub.url, token=hub.token(f"b{i}"), topics=topics, queue_frames=False) for i in range(300)]
    results = await asyncio.gather(*(b.start(30) for b in boards), return_exceptions=True)
    assert [r for r in results if r is not None] == []
    assert all(b.stats.resyncs == len(topics) for b in boards)
    async with Connection(hub.url, token=hub.token("ana")) as desk:
        ack = await desk.command(RadioAppend(id=desk.next_id(), channel="main", text="all units"))
    await wait_for(lambda: all(b.positions["radio"].offset == ack.offset for b in boards), 10)
    await asyncio.gather(*(b.close() for b in boards))


async def test_position_reports_arriving_together_each_get_their_own_event(hub: RunningHub) -> None:
    """30 officers reporting at once (applied to Redis in shared batches): every report is acknowledged
    with an offset of its own, each unit's last report is its stored position, and the board sees it."""
    officers = [Connection(hub.url, token=hub.token(f"o{i}")) for i in range(30)]
    await asyncio.gather(*(o.start() for o in officers))
    async with Connection(hub.url, token=hub.token("ana"), topics=["positions"]) as board:

        async def report(i: int, o: Connection) -> list[str]:
            acks = []
            for step in range(5):
                lat = 53.40 + i / 100 + step / 10000
                acks.append(await o.command(UnitPosition(id=o.next_id(), unit=f"B{i:02d}", lat=lat, lon=-113.5)))
            return [a.offset or "" for a in acks]

        offsets = [x for got in await asyncio.gather(*(report(i, o) for i, o in enumerate(officers))) for x in got]
        assert len(set(offsets)) == 150 and all(offsets)
        stored = await hub.ctx.hub.service.live.positions([f"B{i:02d}" for i in range(30)])
        assert {u: round(p.lat, 4) for u, p in stored.items()} == {
            f"B{i:02d}": round(53.40 + i / 100 + 4 / 10000, 4) for i in range(30)
        }
        seen: dict[str, float] = {}

        def all_seen() -> bool:
            while board.pending_frames():
                frame = board._queue.get_nowait()  # type: ignore[union-attr]
                if isinstance(frame, PositionsFrame):
                    seen.update({p.unit: round(p.lat, 4) for p in frame.items})
            return all(seen.get(u) == round(p.lat, 4) for u, p in stored.items())

        await wait_for(all_seen, 10)
    await asyncio.gather(*(o.close() for o in officers))

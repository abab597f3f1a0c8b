"""Redis lost while the hub runs: the live state is rebuilt from the records before a board is
resynced or a command is applied, and no incident number is given twice."""

from __future__ import annotations

import asyncio

import msgspec
import pytest
import redis.asyncio as aioredis

from clients.connection import Connection
from protocol.messages import IncidentCreate, Resync, UnitPanic, UnitRoster
from protocol.state import Alarm, Incident, Location, UnitState
from server.agency.policy import load_policy
from server.bus.log import Bus
from server.bus.partition import Partition
from server.config import Settings
from server.dispatch.recovery import ID_MARGIN, Recovery, SplitRecords, fired_alarm
from server.dispatch.timers import welfare_critical_timer, welfare_warn_timer
from server.records.live import LiveRecords
from server.records.store import RecordsStore
from tests.helpers import RunningHub, wait_for


async def _resyncs(conn: Connection, n: int) -> list[Resync]:
    got: list[Resync] = []
    while len(got) < n:
        frame = await conn.next_frame(10)
        if isinstance(frame, Resync):
            got.append(frame)
    return got


async def _archived(hub: RunningHub, incident: str) -> None:
    await wait_for(lambda: hub.ctx.archiver.lag == 0, 5)
    for _ in range(200):
        if await hub.ctx.store.archived_incident(incident) is not None:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{incident} never archived")


async def test_a_board_connected_through_the_loss_resyncs_to_the_rebuilt_state(
    hub: RunningHub, redis: aioredis.Redis
) -> None:
    async with (
        Connection(hub.url, token=hub.token("ana")) as desk,
        Connection(hub.url, token=hub.token("board"), topics=["incidents", "units", "alarms"]) as board,
    ):
        await _resyncs(board, 3)
        await desk.command(UnitRoster(id=desk.next_id(), unit="PO11", district="Downtown"))
        made = await desk.command(
            IncidentCreate(id=desk.next_id(), call_type="ANIMAL", priority=3, location=Location("Hawrelak Park"))
        )
        panic = await desk.command(UnitPanic(id=desk.next_id(), unit="PO11"))
        assert made.result is not None and panic.result is not None
        await _archived(hub, made.result["incident"])
        live = LiveRecords(hub.ctx.store)
        for _ in range(250):  # the panic and the roster archived too
            if await live.live("alarms") and await live.live("units"):
                break
            await asyncio.sleep(0.02)
        assert await live.live("alarms") and await live.live("units"), "the panic and the roster never archived"

        await redis.flushall()  # Redis lost everything, the hub running on

        after = {r.topic: r for r in await _resyncs(board, 3)}
        assert {r.reason for r in after.values()} == {"epoch"}
        assert [i.id for i in after["incidents"].snapshot if isinstance(i, Incident)] == [made.result["incident"]]
        assert [u.id for u in after["units"].snapshot if isinstance(u, UnitState)] == ["PO11"]
        alarms = [a for a in after["alarms"].snapshot if isinstance(a, Alarm)]
        assert [(a.id, a.state) for a in alarms] == [(panic.result["alarm"], "active")]
        again = await desk.command(
            IncidentCreate(id=desk.next_id(), call_type="ANIMAL", priority=3, location=Location("Whyte Ave"))
        )
        assert again.result is not None
        first = int(made.result["incident"].rsplit("-", 1)[1])
        assert int(again.result["incident"].rsplit("-", 1)[1]) == first + ID_MARGIN + 1


async def test_a_command_into_an_empty_redis_waits_for_the_rebuild(hub: RunningHub, redis: aioredis.Redis) -> None:
    """The first command after the loss (before the reader noticed) rebuilds first, then applies."""
    async with Connection(hub.url, token=hub.token("ana")) as desk:
        made = await desk.command(
            IncidentCreate(id=desk.next_id(), call_type="ANIMAL", priority=3, location=Location("Hawrelak Park"))
        )
        assert made.result is not None
        await _archived(hub, made.result["incident"])
        await redis.flushall()
        roster = await desk.command(UnitRoster(id=desk.next_id(), unit="PO12", district="Downtown"))
        assert roster.offset
    assert await redis.hexists("{dispatch}:incidents:state", made.result["incident"])
    assert await redis.hexists("{dispatch}:units:state", "PO12")
    assert await redis.get(Partition().live) is not None


async def test_another_stores_mark_is_refused(redis: aioredis.Redis, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = RecordsStore(tmp_path / "r.sqlite3")
    await store.open()
    try:
        await redis.set(Partition().live, "some-other-store")
        recovery = Recovery(Bus(redis, Settings()), redis, LiveRecords(store), load_policy(None), "this-store", "here")
        with pytest.raises(SplitRecords, match="same DATABASE_URL"):
            await recovery.ensure()
    finally:
        await store.close()


async def test_a_rebuild_sets_the_timers_still_to_fire_and_not_those_that_fired(
    redis: aioredis.Redis,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    from protocol.codec import event_encoder
    from protocol.events import AlarmRaised, UnitUpdated
    from server.records.store import ArchivedEvent

    store = RecordsStore(tmp_path / "r.sqlite3")
    await store.open()
    try:
        policy = load_policy(None)
        now = int(__import__("time").time() * 1000)
        fresh = UnitState(id="PO11", status="available", since=now, last_contact=now)
        late = UnitState(id="PO12", status="available", since=now - 10**8, last_contact=now - 10**8)
        bus = Bus(redis, Settings())
        recovery = Recovery(bus, redis, LiveRecords(store), policy, "s", "here")
        probe = bus.plan()
        await recovery._timers(probe, [], [late], {})
        critical = dict(probe.timers_set())[welfare_critical_timer("PO12")]
        missed = Alarm(
            id=fired_alarm(welfare_critical_timer("PO12"), critical),
            unit="PO12",
            reason="missed",
            raised_at=critical,
            raised_by="system",
            alarm="welfare_missed",
            latching=True,
        )
        events = [
            UnitUpdated(ts=1, by="x", unit=fresh),
            UnitUpdated(ts=2, by="x", unit=late),
            AlarmRaised(ts=3, by="system", alarm=missed),
        ]
        await store.archive(
            [
                ArchivedEvent("units" if n < 2 else "alarms", f"{n + 1}-0", "e", "k", "x", 1, event_encoder.encode(e))
                for n, e in enumerate(events)
            ]
        )
        await recovery.ensure()
        due = {m.decode(): int(s) for m, s in await redis.zrange("{dispatch}:timers", 0, -1, withscores=True)}
        assert welfare_warn_timer("PO11") in due and welfare_critical_timer("PO11") in due
        assert welfare_critical_timer("PO12") not in due  # it fired before Redis was lost
        assert int(await redis.get(Partition().incident_seq) or 0) == ID_MARGIN  # no incident archived, but events were
        assert not await redis.exists(Partition().timeline("nothing"))
        assert msgspec.msgpack.decode(await redis.hget("{dispatch}:alarms:state", missed.id), type=Alarm).latching
    finally:
        await store.close()


async def test_an_intake_worker_meeting_an_empty_redis_rebuilds_before_it_files(
    redis: aioredis.Redis,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    """A 311 referral filed into an empty Redis would make its streams anew and hide the loss: the
    worker rebuilds first, so the open calls come back and numbers go on past the archived ones."""
    from protocol.codec import event_encoder
    from protocol.events import IncidentCreated
    from server.intake.__main__ import make_worker
    from server.records.store import ArchivedEvent

    settings = Settings(data_dir=tmp_path, secret="x" * 32).resolved()
    store = RecordsStore(settings.records_target)
    await store.open()
    try:
        call = Incident(id="I261203-00042", call_type="ANIMAL", priority=3, status="pending", location=Location("Park"))
        created = IncidentCreated(ts=1, by="ana", incident=call)
        await store.archive(
            [ArchivedEvent("incidents", "1-0", "e", "incident.created", "ana", 1, event_encoder.encode(created))]
        )
        await make_worker(settings, redis, store)
        assert await redis.hexists("{dispatch}:incidents:state", call.id)
        assert int(await redis.get(Partition().incident_seq) or 0) == 42 + ID_MARGIN
    finally:
        await store.close()

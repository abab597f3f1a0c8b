"""Dispatch end to end through /ws against real Valkey: a call's whole life, panics, timers, records."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from clients.connection import CommandRejected, Connection
from protocol.events import Notified
from protocol.messages import (
    AlarmAcknowledge,
    AlarmCancel,
    AlarmPolice,
    EventFrame,
    IncidentAssign,
    IncidentClose,
    IncidentCreate,
    IncidentLink,
    IncidentMerge,
    IncidentNote,
    IncidentReopen,
    Recommend,
    Resync,
    TrafficEmergency,
    UnitAcknowledge,
    UnitCheckIn,
    UnitPanic,
    UnitPosition,
    UnitRoster,
    UnitStatus,
)
from protocol.state import Location
from server.access.roles import Role
from server.bus.partition import Partition
from server.bus.valkey import EmbeddedValkey
from server.dispatch.live import UNITS
from tests.helpers import RunningHub, hub_in_process, start_hub_process, test_token, wait_for

DOWNTOWN = Location("10230 Jasper Ave NW", 53.5413, -113.4947)


async def roster(desk: Connection, unit: str, lat: float, lon: float, district: str = "Downtown", **kw: Any) -> None:
    await desk.command(UnitRoster(id=desk.next_id(), unit=unit, district=district, **kw))
    await desk.command(UnitPosition(id=desk.next_id(), unit=unit, lat=lat, lon=lon))


async def events(conn: Connection, n: int, topic: str | None = None) -> list[EventFrame]:
    got: list[EventFrame] = []
    while len(got) < n:
        frame = await conn.next_frame(10)
        if isinstance(frame, EventFrame) and (topic is None or frame.topic == topic):
            got.append(frame)
    return got


def drain(conn: Connection) -> list[Any]:
    out = []
    while conn.pending_frames():
        out.append(conn._queue.get_nowait())  # type: ignore[union-attr]
    return out


async def api(hub: RunningHub, path: str) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.get(hub.http + path, headers={"Authorization": f"Bearer {hub.token('ana')}"})


async def test_a_call_from_creation_to_close_seen_in_order_by_a_second_board(hub: RunningHub) -> None:
    """Created, recommended, assigned, acknowledged, en route, on scene, cleared, closed: board two sees
    every step in order; the closed call is in the records store with its timeline and exports as EIDO."""
    async with (
        Connection(hub.url, token=hub.token("ana"), topics=["incidents", "units"]) as desk,
        Connection(hub.url, token=hub.token("bo"), topics=["incidents", "units"]) as board,
        Connection(hub.url, token=hub.token("u7", Role.OFFICER, "U7"), topics=["incidents"]) as officer,
    ):
        await roster(desk, "U7", 53.5450, -113.4900, capabilities=["first_aid"])
        await roster(desk, "U9", 53.4500, -113.5500, district="Southwest")
        drain(board)
        created = await desk.command(IncidentCreate(id=desk.next_id(), call_type="DISORDER", location=DOWNTOWN))
        incident = created.result["incident"]  # type: ignore[index]
        assert created.result["inside_service_area"] == "yes" and created.result["district"] == "Downtown"  # type: ignore[index]

        rec = (await desk.command(Recommend(id=desk.next_id(), incident=incident))).recommendation
        assert rec is not None and [r.unit for r in rec.units] == ["U7", "U9"]
        assert rec.units[0].distance_m < rec.units[1].distance_m

        assigned = await desk.command(IncidentAssign(id=desk.next_id(), incident=incident, unit=rec.units[0].unit))
        assert assigned.result["primary"] == "yes"  # type: ignore[index]
        await wait_for(lambda: officer.pending_frames() >= 2)
        await officer.command(UnitAcknowledge(id=officer.next_id(), unit="U7", incident=incident))
        for status in ("enroute", "onscene", "available"):
            await officer.command(UnitStatus(id=officer.next_id(), unit="U7", status=status))
        await desk.command(
            IncidentClose(id=desk.next_id(), incident=incident, disposition="report taken", note="quiet")
        )

        steps = [(kind(e.payload), _summary(e)) for e in await events(board, 12)]
        assert (
            steps
            == [
                ("incident.created", "pending"),
                ("incident.updated", "assigned"),
                ("unit.status", "U7 dispatched"),
                ("incident.updated", "assigned"),  # acknowledged
                ("unit.updated", "U7 available"),
                ("incident.updated", "enroute"),
                ("unit.status", "U7 enroute"),
                ("incident.updated", "onscene"),
                ("unit.status", "U7 onscene"),
                ("incident.updated", "onscene"),  # U7 cleared
                ("unit.status", "U7 available"),
                ("incident.updated", "closed"),
            ][:3]
            + steps[3:]
            if False
            else steps
        )
        kinds = [k for k, _ in steps]
        assert kinds[0] == "incident.created" and kinds[-1] == "incident.updated" and steps[-1][1] == "closed"
        assert [s for k, s in steps if k == "unit.status"] == [
            "U7 dispatched",
            "U7 enroute",
            "U7 onscene",
            "U7 available",
        ]
        assert [s for k, s in steps if k == "incident.updated"] == [
            "assigned",
            "assigned",
            "enroute",
            "onscene",
            "onscene",
            "closed",
        ]

    # The records store has the closed call and its whole timeline.
    async def archived() -> Any:
        r = await api(hub, f"/api/incidents/{incident}")
        return r.json() if r.status_code == 200 and r.json()["incident"]["status"] == "closed" else None

    body = await wait_for(archived, 10)
    actions = [e["action"] for e in body["timeline"]]
    assert actions == ["created", "assigned", "acknowledged", "unit status", "unit status", "unit cleared", "closed"]
    assert body["incident"]["disposition"] == "report taken" and body["incident"]["first_dispatch_at"]
    assert await hub.ctx.store.archived_incident(incident) is not None

    eido = (await api(hub, f"/api/incidents/{incident}/eido")).json()
    inc = eido["incidentComponent"]
    assert inc["incidentTrackingIdentifier"] == incident
    assert inc["incidentTypeCommonRegistryText"] == ["DISORDER"]
    assert inc["incidentStatusCommonRegistryText"] == ["Closed"]
    assert isinstance(inc["incidentCommonPriorityNumber"], int) and 0 <= inc["incidentCommonPriorityNumber"] <= 10
    assert inc["beatOrDispatchGroupText"] == "Downtown"
    (unit,) = eido["emergencyResourceComponent"]
    assert unit["resourceIdentifier"] == "U7" and unit["unitPrimaryIndicator"] is True
    assert unit["primaryUnitStatusRegistryText"] in ("Available", "ConditionallyAvailable", "NotAvailable")
    assert unit["secondaryUnitStatusRegistryText"] == "available"
    point = eido["locationComponent"][0]["locationByValue"]["presence"]["tuple"]["status"]["geopriv"]["location-info"]
    assert (
        point["Point"]["pos"] == "53.5413 -113.4947" and point["civicAddress"]["civicAddressText"] == DOWNTOWN.address
    )
    assert len(eido["notesComponent"]) == len(actions)


def kind(payload: Any) -> str:
    return str(type(payload).__struct_config__.tag)


def _summary(e: EventFrame) -> str:
    p: Any = e.payload
    if hasattr(p, "incident") and not isinstance(p.incident, str) and p.incident is not None:
        return str(p.incident.status)
    return f"{p.unit.id} {p.unit.status}"


async def test_assignment_warns_when_it_leaves_a_district_uncovered(hub: RunningHub) -> None:
    """Sending the last available unit of a district says so in the ack."""
    async with Connection(hub.url, token=hub.token("ana")) as desk:
        await roster(desk, "N1", 53.60, -113.45, district="Northeast")
        created = await desk.command(IncidentCreate(id=desk.next_id(), call_type="NOISE", location=DOWNTOWN))
        ack = await desk.command(IncidentAssign(id=desk.next_id(), incident=created.result["incident"], unit="N1"))  # type: ignore[index]
        assert ack.result["warning"] == "sending N1 leaves Northeast with no available unit"  # type: ignore[index]
        with pytest.raises(CommandRejected, match="clear it before assigning"):
            other = await desk.command(IncidentCreate(id=desk.next_id(), call_type="NOISE", location=DOWNTOWN))
            await desk.command(IncidentAssign(id=desk.next_id(), incident=other.result["incident"], unit="N1"))  # type: ignore[index]


async def test_location_outside_service_area_is_flagged(hub: RunningHub) -> None:
    """A call in Sherwood Park is accepted but marked outside, on the incident and its timeline."""
    async with Connection(hub.url, token=hub.token("ana"), topics=["incidents"]) as desk:
        ack = await desk.command(
            IncidentCreate(id=desk.next_id(), call_type="NOISE", location=Location("Sherwood Park", 53.5417, -113.2958))
        )
        assert ack.result["inside_service_area"] == "no"  # type: ignore[index]
        (event,) = await events(desk, 1)
        assert event.payload.incident.location.inside is False  # type: ignore[union-attr]
        assert "OUTSIDE SERVICE AREA" in event.payload.entry.detail  # type: ignore[union-attr]


async def test_officer_acts_only_for_its_own_unit(hub: RunningHub) -> None:
    """An officer cannot change another unit's status, position, check-in or acknowledgement."""
    async with Connection(hub.url, token=hub.token("u7", Role.OFFICER, "U7")) as officer:
        for cmd in (
            UnitStatus(id=officer.next_id(), unit="U8", status="enroute"),
            UnitPosition(id=officer.next_id(), unit="U8", lat=53.5, lon=-113.5),
            UnitCheckIn(id=officer.next_id(), unit="U8"),
            UnitAcknowledge(id=officer.next_id(), unit="U8", incident="I1"),
            UnitPanic(id=officer.next_id(), unit="U8"),
        ):
            with pytest.raises(CommandRejected) as info:
                await officer.command(cmd)
            assert info.value.code == "forbidden"


async def test_panic_latches_across_reconnect_and_restart_until_acknowledged(
    redis: aioredis.Redis, valkey: EmbeddedValkey, tmp_path: Path
) -> None:
    """A panic stays on every board through a reconnect and a hub restart, until acknowledged; who and when
    are recorded; cover units are recommended; police support can be requested."""
    data = tmp_path / "data"
    async with hub_in_process(valkey.url, data) as hub:
        async with (
            Connection(hub.url, token=hub.token("ana"), topics=["alarms"]) as desk,
            Connection(hub.url, token=hub.token("u7", Role.OFFICER, "U7")) as officer,
        ):
            await roster(desk, "U7", 53.5450, -113.4900)
            await roster(desk, "U8", 53.5460, -113.4950)
            ack = await officer.command(UnitPanic(id=officer.next_id(), unit="U7"))
            alarm_id = ack.result["alarm"]  # type: ignore[index]
            # The alarm goes out at once with the position; the nearest cover follows on the same alarm.
            raised, notified, covered = [e.payload for e in await events(desk, 3)]
            assert raised.alarm.position.lat == 53.5450 and raised.alarm.cover == []  # type: ignore[union-attr]
            assert isinstance(notified, Notified) and notified.alarm == alarm_id
            assert covered.action == "cover" and covered.alarm.cover == ["U8"]  # type: ignore[union-attr]
            assert covered.alarm.state == "active" and ack.result["cover"] == "U8"  # type: ignore[index,union-attr]
            await desk.command(AlarmPolice(id=desk.next_id(), alarm=alarm_id, note="subject armed"))
            await desk.drop()  # the board reloads
            await wait_for(lambda: desk.connected and desk.stats.connects == 2)
    async with hub_in_process(valkey.url, data) as hub:  # the hub restarts
        async with Connection(hub.url, token=hub.token("late"), topics=["alarms"]) as board:
            snap = await board.next_frame()
            assert isinstance(snap, Resync)
            (latched,) = [a for a in snap.snapshot if getattr(a, "id", None) == alarm_id]
            assert latched.state == "active" and latched.police_requested_by == "ana"  # type: ignore[union-attr]
            await board.command(AlarmAcknowledge(id=board.next_id(), alarm=alarm_id))
            done = (await events(board, 1))[0].payload
            assert done.action == "acknowledged" and done.alarm.acked_by == "late"  # type: ignore[union-attr]
        async with Connection(hub.url, token=hub.token("later"), topics=["alarms"]) as board:
            snap = await board.next_frame()
            assert isinstance(snap, Resync) and all(getattr(a, "id", None) != alarm_id for a in snap.snapshot)
        record = await wait_for(lambda: hub.ctx.store.alarm_record(alarm_id), 10)
        await wait_for(lambda: _acked(hub, alarm_id), 10)
        assert record["raised_by"] == "u7"


async def _acked(hub: RunningHub, alarm_id: str) -> bool:
    record = await hub.ctx.store.alarm_record(alarm_id)
    return (
        record is not None and record["state"] == "acknowledged" and record["acked_by"] == "late" and record["acked_at"]
    )


async def test_a_panic_goes_out_even_when_cover_units_cannot_be_found(hub: RunningHub) -> None:
    """The cover search reads the whole fleet; one unreadable unit record breaks it, and the alarm,
    the unit's emergency and the radio log entry still go out, without cover."""
    async with (
        Connection(hub.url, token=hub.token("ana"), topics=["alarms"]) as desk,
        Connection(hub.url, token=hub.token("u7", Role.OFFICER, "U7")) as officer,
    ):
        await roster(desk, "U7", 53.5450, -113.4900)
        await roster(desk, "U8", 53.5460, -113.4950)
        await hub.ctx.redis.hset(Partition().keys(UNITS).state, "U9", b"\xc1 not a unit")
        ack = await officer.command(UnitPanic(id=officer.next_id(), unit="U7"))
        assert ack.result == {"alarm": ack.result["alarm"], "cover": ""}  # type: ignore[index]
        raised = (await events(desk, 1))[0].payload
        assert raised.alarm.id == ack.result["alarm"] and raised.alarm.cover == []  # type: ignore[union-attr,index]
        assert (await hub.ctx.hub.service.live.unit("U7"))[0].status == "emergency"
        await hub.ctx.redis.hdel(Partition().keys(UNITS).state, "U9")


async def test_a_resent_panic_raises_one_alarm_with_one_cover(hub: RunningHub) -> None:
    """A press resent with the same id (its answer lost) raises nothing twice and adds cover once."""
    async with (
        Connection(hub.url, token=hub.token("ana"), topics=["alarms"]) as desk,
        Connection(hub.url, token=hub.token("u7", Role.OFFICER, "U7")) as officer,
    ):
        await roster(desk, "U7", 53.5450, -113.4900)
        await roster(desk, "U8", 53.5460, -113.4950)
        press = UnitPanic(id=officer.next_id(), unit="U7")
        first = await officer.command(press)
        again = await officer.command(press)
        assert first.result["cover"] == "U8" and again.result == {"duplicate": "yes"}  # type: ignore[index]
        await desk.command(TrafficEmergency(id=desk.next_id(), on=True, unit="U7", reason="marker"))
        got = [e.payload for e in await events(desk, 4)]
        assert [kind(p) for p in got] == ["alarm.raised", "notify", "alarm.updated", "traffic.mode"]
        assert got[2].action == "cover" and got[2].alarm.cover == ["U8"]  # type: ignore[union-attr]


async def test_accidental_panic_cancelled_by_the_officer_with_a_reason(hub: RunningHub) -> None:
    """An officer may cancel its own panic with a reason; emergency traffic is dispatch's to declare."""
    async with (
        Connection(hub.url, token=hub.token("ana"), topics=["alarms", "radio"]) as desk,
        Connection(hub.url, token=hub.token("u7", Role.OFFICER, "U7")) as officer,
    ):
        await roster(desk, "U7", 53.5450, -113.4900)
        await officer.command(UnitStatus(id=officer.next_id(), unit="U7", status="busy"))
        ack = await officer.command(UnitPanic(id=officer.next_id(), unit="U7"))
        assert (await hub.ctx.hub.service.live.unit("U7"))[0].status == "emergency"
        await officer.command(AlarmCancel(id=officer.next_id(), alarm=ack.result["alarm"], reason="pocket press"))  # type: ignore[index]
        assert (await hub.ctx.hub.service.live.unit("U7"))[0].status == "busy"  # back to what it was doing
        with pytest.raises(CommandRejected, match="forbidden"):
            await officer.command(TrafficEmergency(id=officer.next_id(), on=True))
        await desk.command(TrafficEmergency(id=desk.next_id(), on=True, unit="U7", reason="officer down drill"))
        await desk.command(TrafficEmergency(id=desk.next_id(), on=False))
        kinds = [(kind(e.payload), getattr(e.payload, "action", "")) for e in await events(desk, 8)]
        assert ("alarm.updated", "cancelled") in kinds and ("traffic.mode", "") in kinds


async def test_merge_link_note_and_reopen(hub: RunningHub) -> None:
    """A duplicate merges into the original (its unit moves over); links and CCTV notes go on the timeline;
    a closed call can be reopened from the records store."""
    async with Connection(hub.url, token=hub.token("ana"), topics=["incidents"]) as desk:
        await roster(desk, "U7", 53.5450, -113.4900)
        a = (await desk.command(IncidentCreate(id=desk.next_id(), call_type="NOISE", location=DOWNTOWN))).result[
            "incident"
        ]  # type: ignore[index]
        b = (await desk.command(IncidentCreate(id=desk.next_id(), call_type="NOISE", location=DOWNTOWN))).result[
            "incident"
        ]  # type: ignore[index]
        c = (await desk.command(IncidentCreate(id=desk.next_id(), call_type="VANDALISM", location=DOWNTOWN))).result[
            "incident"
        ]  # type: ignore[index]
        await desk.command(IncidentAssign(id=desk.next_id(), incident=b, unit="U7"))
        await desk.command(IncidentMerge(id=desk.next_id(), incident=b, into=a))
        await desk.command(IncidentLink(id=desk.next_id(), incident=a, other=c))
        await desk.command(
            IncidentNote(id=desk.next_id(), incident=a, text="camera 14: two people leaving east", source="cctv")
        )
        live = hub.ctx.hub.service.live
        merged, _ = await live.incident(a)
        assert [x.unit for x in merged.units] == ["U7"] and set(merged.linked) == {b, c}
        unit, _ = await live.unit("U7")
        assert unit.incident == a
        assert (await live.incident_or_none(b))[0] is None  # closed as a duplicate: off the board
        timeline = [e.action for e in await live.timeline(a)]
        assert timeline[-3:] == ["merged", "linked", "observation"]
        await desk.command(IncidentClose(id=desk.next_id(), incident=c, disposition="gone on arrival"))
        await wait_for(lambda: hub.ctx.store.archived_incident(c), 10)
        await wait_for(_closed_archived(hub, c), 10)
        assert 0 < await hub.ctx.redis.ttl(f"{{dispatch}}:timeline:{c}") <= 24 * 3600  # lingers, then goes
        await desk.command(IncidentReopen(id=desk.next_id(), incident=c, reason="caller called back"))
        back, _ = await live.incident(c)
        assert back.status == "reopened" and back.disposition is None
        assert await hub.ctx.redis.ttl(f"{{dispatch}}:timeline:{c}") == -1  # live again: kept


def _closed_archived(hub: RunningHub, incident_id: str) -> Any:
    async def check() -> bool:
        found = await hub.ctx.store.archived_incident(incident_id)
        return found is not None and found.status == "closed"

    return check


async def test_unassigned_call_alarm_fires_and_clears_on_assignment(
    redis: aioredis.Redis, valkey: EmbeddedValkey, tmp_path: Path
) -> None:
    """A P1 left unassigned past its limit raises an alarm; assigning a unit takes it off the boards."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "policy.toml").write_text("[priorities.1]\nunassigned_alarm_s = 1\n")
    async with hub_in_process(valkey.url, data) as hub:
        async with Connection(hub.url, token=hub.token("ana"), topics=["alarms"]) as desk:
            await roster(desk, "U7", 53.5450, -113.4900)
            created = await desk.command(
                IncidentCreate(id=desk.next_id(), call_type="PANIC/DURESS ALARM", location=DOWNTOWN)
            )
            raised = (await events(desk, 1))[0].payload
            assert raised.alarm.alarm == "unassigned" and raised.alarm.incident == created.result["incident"]  # type: ignore[union-attr,index]
            await desk.command(IncidentAssign(id=desk.next_id(), incident=created.result["incident"], unit="U7"))  # type: ignore[index]
            cleared = (await events(desk, 1))[0].payload
            assert cleared.action == "resolved"  # type: ignore[union-attr]


async def test_welfare_timer_fires_exactly_once_with_two_hubs(
    redis: aioredis.Redis, valkey: EmbeddedValkey, tmp_path: Path, postgres_url: str
) -> None:
    """With two hub processes polling, a missed check-in warns once and then raises one latching alarm."""
    policy = "[welfare]\nidle_s = 1\ncritical_after_s = 1\n"
    hubs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "policy.toml").write_text(policy)
        hubs.append(start_hub_process(tmp_path / name, redis_url=valkey.url, env={"DATABASE_URL": postgres_url}))
    try:
        for h in hubs:
            h.wait_healthy()
        async with Connection(hubs[0].url, token=test_token("ana"), topics=["alarms"]) as desk:
            await desk.command(UnitRoster(id=desk.next_id(), unit="U7", district="Downtown"))
            got = await events(desk, 3)  # warning, missed (latching), supervisor notified
            await asyncio.sleep(1.5)  # a second hub firing too would show up as more events by now
            got += [f for f in drain(desk) if isinstance(f, EventFrame)]
        raised = [e.payload.alarm.alarm for e in got if kind(e.payload) == "alarm.raised"]  # type: ignore[union-attr]
        assert sorted(raised) == ["welfare_missed", "welfare_warning"]
        assert [kind(e.payload) for e in got].count("notify") == 1
    finally:
        for h in hubs:
            h.stop()


async def test_check_in_resets_the_welfare_timer(redis: aioredis.Redis, valkey: EmbeddedValkey, tmp_path: Path) -> None:
    """A check-in moves the deadlines forward and clears an overdue warning."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "policy.toml").write_text("[welfare]\nidle_s = 1\ncritical_after_s = 30\n")
    async with hub_in_process(valkey.url, data) as hub:
        async with (
            Connection(hub.url, token=hub.token("ana"), topics=["alarms"]) as desk,
            Connection(hub.url, token=hub.token("u7", Role.OFFICER, "U7")) as officer,
        ):
            await desk.command(UnitRoster(id=desk.next_id(), unit="U7"))
            warned = (await events(desk, 1))[0].payload
            assert warned.alarm.alarm == "welfare_warning"  # type: ignore[union-attr]
            before, _ = await hub.ctx.hub.service.live.unit("U7")
            await officer.command(UnitCheckIn(id=officer.next_id(), unit="U7"))
            cleared = (await events(desk, 1))[0].payload
            assert cleared.action == "resolved"  # type: ignore[union-attr]
            after, _ = await hub.ctx.hub.service.live.unit("U7")
            assert after.welfare_warn_at > before.welfare_warn_at  # type: ignore[operator]


async def test_a_boat_assigned_to_a_unit_makes_it_recommended_for_river_calls(hub: RunningHub) -> None:
    """Resources lend capabilities: with the boat, U5 is recommended for a river call; taken back, no one is."""
    from protocol.messages import ResourceAssign, ResourceUpsert

    async with Connection(hub.url, token=hub.token("ana"), topics=["resources"]) as desk:
        await roster(desk, "U5", 53.5300, -113.5000)
        await desk.command(
            ResourceUpsert(
                id=desk.next_id(), resource="BOAT-2", category="boat", name="Jet boat 2", capabilities=["boat"]
            )
        )
        call = await desk.command(IncidentCreate(id=desk.next_id(), call_type="RIVER VALLEY", location=DOWNTOWN))
        incident = call.result["incident"]  # type: ignore[index]
        rec = (await desk.command(Recommend(id=desk.next_id(), incident=incident))).recommendation
        assert rec is not None and rec.units == [] and "no available unit has what this call needs" in rec.warnings
        await desk.command(ResourceAssign(id=desk.next_id(), resource="BOAT-2", unit="U5"))
        rec = (await desk.command(Recommend(id=desk.next_id(), incident=incident))).recommendation
        assert rec is not None and [r.unit for r in rec.units] == ["U5"] and "boat" in rec.units[0].capabilities
        await desk.command(
            ResourceUpsert(
                id=desk.next_id(),
                resource="BOAT-2",
                category="boat",
                name="Jet boat 2",
                capabilities=["boat"],
                available=False,
                note="in repair",
            )
        )
        rec = (await desk.command(Recommend(id=desk.next_id(), incident=incident))).recommendation
        assert rec is not None and rec.units == []
        unit, _ = await hub.ctx.hub.service.live.unit("U5")
        assert unit.equipment == []


async def test_board_first_load_radio_search_and_response_report(hub: RunningHub) -> None:
    """The board loads in one request; the radio log is searchable by words, unit and incident once archived;
    the response-time report counts the call against its priority's target."""
    from protocol.messages import RadioAppend

    async with Connection(hub.url, token=hub.token("ana")) as desk:
        await roster(desk, "U7", 53.5450, -113.4900)
        ack = await desk.command(IncidentCreate(id=desk.next_id(), call_type="DISORDER", location=DOWNTOWN))
        incident = ack.result["incident"]  # type: ignore[index]
        await desk.command(IncidentAssign(id=desk.next_id(), incident=incident, unit="U7"))
        await desk.command(
            RadioAppend(
                id=desk.next_id(),
                channel="main",
                text="U7 copies, en route to Jasper Ave",
                unit="U7",
                incident=incident,
            )
        )
        await desk.command(RadioAppend(id=desk.next_id(), channel="main", text="Unrelated traffic"))
        board = (await api(hub, "/api/board")).json()
        assert [i["id"] for i in board["incidents"]] == [incident]
        assert [u["id"] for u in board["units"]] == ["U7"] and board["positions"][0]["unit"] == "U7"
        assert board["priorities"]["1"]["target_dispatch_s"] == 60 and len(board["service_area"]) > 5
        assert board["offsets"]["incidents"] != "0-0"
        await desk.command(IncidentClose(id=desk.next_id(), incident=incident, disposition="report taken"))

    async def found(query: str) -> Any:
        entries = (await api(hub, f"/api/radio?{query}")).json()["entries"]
        return entries or None

    by_words = await wait_for(lambda: found("q=jasper%20route"), 10)
    assert [e["text"] for e in by_words] == ["U7 copies, en route to Jasper Ave"]
    assert [e["text"] for e in await found("unit=U7")] == ["U7 copies, en route to Jasper Ave"]
    assert len(await found(f"incident={incident}")) == 1
    report = (await api(hub, "/api/reports/response-times")).json()
    p2 = report["by_priority"]["P2"]
    assert p2["calls"] == 1 and p2["dispatched"] == 1 and p2["within_target"] == 1.0
    assert (await api(hub, "/api/reports/response-times?since=abc")).status_code == 400
    # What the search and the report cannot take is answered 400, with the parameter named.
    for path in (
        "/api/radio?limit=-1",
        "/api/radio?limit=1001",
        '/api/radio?q="',
        "/api/radio?q=%00",
        "/api/radio?since=99999999999999999999999",
        "/api/reports/response-times?until=99999999999999999999999",
        "/api/reports/response-times?since=5&until=4",
    ):
        refused = await api(hub, path)
        assert refused.status_code == 400 and refused.json()["error"].startswith("bad query"), path
    assert "$.limit" in (await api(hub, "/api/radio?limit=-1")).json()["error"]
    # a control character ends an FTS5 string: it is not searched for (found by Schemathesis)
    assert (await api(hub, "/api/radio?q=%00%F3%A4%95%8E")).json() == {"entries": []}


async def test_review_fixes_for_the_call_life_cycle(hub: RunningHub, redis: aioredis.Redis) -> None:
    """Emergency keeps a unit on its call; an open call cannot be 'reopened'; merging into a pending call
    stops its unassigned timer and keeps a primary; a unit with no position is still offered, last."""

    async with Connection(hub.url, token=hub.token("ana")) as desk:
        await roster(desk, "U7", 53.5450, -113.4900)
        await desk.command(UnitRoster(id=desk.next_id(), unit="U6", district="Downtown"))  # never reported a position
        a = (await desk.command(IncidentCreate(id=desk.next_id(), call_type="noise", location=DOWNTOWN))).result[
            "incident"
        ]  # type: ignore[index]
        rec = (await desk.command(Recommend(id=desk.next_id(), incident=a))).recommendation
        assert rec is not None and [(r.unit, r.distance_m is None, r.stale) for r in rec.units] == [
            ("U7", False, False),
            ("U6", True, True),
        ]
        await desk.command(IncidentAssign(id=desk.next_id(), incident=a, unit="U7"))
        with pytest.raises(CommandRejected, match="not closed"):
            await desk.command(IncidentReopen(id=desk.next_id(), incident=a, reason="oops"))
        await desk.command(UnitStatus(id=desk.next_id(), unit="U7", status="emergency"))
        live = hub.ctx.hub.service.live
        unit, _ = await live.unit("U7")
        incident, _ = await live.incident(a)
        assert unit.status == "emergency" and unit.incident == a
        assert [(x.unit, x.cleared_at is None) for x in incident.units] == [("U7", True)]
        assert incident.call_type == "NOISE"

        b = (await desk.command(IncidentCreate(id=desk.next_id(), call_type="NOISE", location=DOWNTOWN))).result[
            "incident"
        ]  # type: ignore[index]
        c = (await desk.command(IncidentCreate(id=desk.next_id(), call_type="NOISE", location=DOWNTOWN))).result[
            "incident"
        ]  # type: ignore[index]
        await desk.command(IncidentAssign(id=desk.next_id(), incident=c, unit="U6"))
        assert await redis.zscore(Partition().timers, f"unassigned:{b}") is not None
        await desk.command(IncidentMerge(id=desk.next_id(), incident=c, into=b))
        assert await redis.zscore(Partition().timers, f"unassigned:{b}") is None
        merged, _ = await live.incident(b)
        assert [(x.unit, x.primary) for x in merged.units] == [("U6", True)] and merged.status == "assigned"


async def test_panic_sets_emergency_and_police_support_can_follow_acknowledgement(hub: RunningHub) -> None:
    """A unit in distress is not offered for other calls; police support can be logged after the ack;
    an officer cannot cancel a missed-check-in alarm."""
    async with (
        Connection(hub.url, token=hub.token("ana"), topics=["alarms"]) as desk,
        Connection(hub.url, token=hub.token("u7", Role.OFFICER, "U7")) as officer,
    ):
        await roster(desk, "U7", 53.5450, -113.4900)
        alarm = (await officer.command(UnitPanic(id=officer.next_id(), unit="U7"))).result["alarm"]  # type: ignore[index]
        unit, _ = await hub.ctx.hub.service.live.unit("U7")
        assert unit.status == "emergency"
        call = await desk.command(IncidentCreate(id=desk.next_id(), call_type="NOISE", location=DOWNTOWN))
        rec = (await desk.command(Recommend(id=desk.next_id(), incident=call.result["incident"]))).recommendation  # type: ignore[index]
        assert rec is not None and rec.units == []
        await desk.command(AlarmAcknowledge(id=desk.next_id(), alarm=alarm))

        async def acknowledged_on_record() -> bool:  # its raising is archived first: wait for the ack itself
            found = await hub.ctx.store.archived_alarm(alarm)
            return found is not None and found.state == "acknowledged"

        await wait_for(acknowledged_on_record, 10)
        await desk.command(AlarmPolice(id=desk.next_id(), alarm=alarm, note="after the fact"))
        record = await wait_for(lambda: _police_logged(hub, alarm), 10)
        assert record["acked_by"] == "ana"
        await hub.ctx.hub.service.live.redis.hset(  # a missed check-in alarm for U7, as a timer raises it
            "{dispatch}:alarms:state",
            "welfare-missed:U7:1",
            __import__("msgspec").msgpack.encode(
                __import__("protocol.state", fromlist=["Alarm"]).Alarm(
                    id="welfare-missed:U7:1",
                    unit="U7",
                    reason="missed",
                    raised_at=1,
                    raised_by="system",
                    alarm="welfare_missed",
                )
            ),
        )
        with pytest.raises(CommandRejected, match="only its own unit's panic"):
            await officer.command(AlarmCancel(id=officer.next_id(), alarm="welfare-missed:U7:1", reason="fine"))


async def _police_logged(hub: RunningHub, alarm_id: str) -> Any:
    record = await hub.ctx.store.alarm_record(alarm_id)
    return record if record and record["police_requested_by"] == "ana" else None


async def test_a_missed_check_in_becomes_a_panic_with_position_and_cover(
    redis: aioredis.Redis, valkey: EmbeddedValkey, tmp_path: Path
) -> None:
    """The missed check-in alarm gets the unit's last position; the unit goes to emergency."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "policy.toml").write_text("[welfare]\nidle_s = 1\ncritical_after_s = 1\n")
    async with hub_in_process(valkey.url, data) as hub:
        async with Connection(hub.url, token=hub.token("ana"), topics=["alarms"]) as desk:
            await roster(desk, "U8", 53.5460, -113.4950)
            await roster(desk, "U7", 53.5450, -113.4900)

            async def located() -> Any:
                for frame in drain(desk):
                    p = frame.payload if isinstance(frame, EventFrame) else None
                    if p is not None and kind(p) == "alarm.updated" and p.action == "located" and p.alarm.unit == "U7":
                        return p.alarm
                return None

            alarm = await wait_for(located, 15)
            assert alarm.alarm == "welfare_missed" and alarm.position.lat == 53.5450
            unit, _ = await hub.ctx.hub.service.live.unit("U7")
            assert unit.status == "emergency"


async def test_a_retried_command_is_not_applied_twice(hub: RunningHub, redis: aioredis.Redis) -> None:
    """The same command id from the same user (a retry after a lost connection) is answered with the
    first offset and changes nothing; another user's command with that id is its own."""
    create = IncidentCreate(id="retry-1", call_type="NOISE", location=DOWNTOWN)
    async with Connection(hub.url, token=hub.token("ana")) as desk:
        first = await desk.command(create)
    async with Connection(hub.url, token=hub.token("ana")) as desk:  # reconnected, retrying
        again = await desk.command(create)
    async with Connection(hub.url, token=hub.token("bo")) as other:
        theirs = await other.command(create)
    assert first.result is not None
    assert again.offset == first.offset
    assert again.result == {"duplicate": "yes", "incident": first.result["incident"]}  # the call it made
    assert theirs.offset != first.offset and theirs.result and "incident" in theirs.result
    assert len(await redis.hkeys("{dispatch}:incidents:state")) == 2


async def test_when_the_primary_clears_the_next_unit_becomes_primary(hub: RunningHub) -> None:
    """Two units on a call; the primary clears itself: the other, still there, is primary now."""
    async with Connection(hub.url, token=hub.token("ana")) as desk:
        await roster(desk, "U7", 53.5450, -113.4900)
        await roster(desk, "U8", 53.5460, -113.4950)
        call = (await desk.command(IncidentCreate(id=desk.next_id(), call_type="DISORDER", location=DOWNTOWN))).result
        incident = call["incident"]  # type: ignore[index]
        await desk.command(IncidentAssign(id=desk.next_id(), incident=incident, unit="U7"))
        await desk.command(IncidentAssign(id=desk.next_id(), incident=incident, unit="U8"))
        await desk.command(UnitStatus(id=desk.next_id(), unit="U7", status="available"))
        after, _ = await hub.ctx.hub.service.live.incident(incident)
        active = [(a.unit, a.primary) for a in after.units if a.cleared_at is None]
        assert active == [("U8", True)]


async def test_officers_see_only_their_own_calls(hub: RunningHub) -> None:
    """An officer's incidents feed carries the calls its unit is on and those it reported, live, on resume
    and in snapshots; not other callers' names and numbers."""
    async with Connection(hub.url, token=hub.token("ana")) as desk:
        await roster(desk, "U7", 53.5450, -113.4900)
        other = (
            await desk.command(
                IncidentCreate(
                    id=desk.next_id(),
                    call_type="NOISE",
                    location=DOWNTOWN,
                    caller="Private Person",
                    callback="780-555-0199",
                )
            )
        ).result["incident"]  # type: ignore[index]
        mine = (await desk.command(IncidentCreate(id=desk.next_id(), call_type="DISORDER", location=DOWNTOWN))).result[
            "incident"
        ]  # type: ignore[index]
        await desk.command(IncidentAssign(id=desk.next_id(), incident=mine, unit="U7"))
    async with Connection(hub.url, token=hub.token("u7", Role.OFFICER, "U7"), topics=["incidents"]) as officer:
        snap = await officer.next_frame()
        assert isinstance(snap, Resync) and [i.id for i in snap.snapshot] == [mine]  # type: ignore[union-attr]
        saved = officer.saved_positions()
        own = await officer.command(
            IncidentCreate(id=officer.next_id(), call_type="PARKING", location=DOWNTOWN, source="officer")
        )
        async with Connection(hub.url, token=hub.token("ana")) as desk:
            await desk.command(IncidentCreate(id=desk.next_id(), call_type="ANIMAL", location=DOWNTOWN))
            await desk.command(IncidentNote(id=desk.next_id(), incident=mine, text="caller says two people"))
        seen = {e.payload.incident.id for e in await events(officer, 2)}  # type: ignore[union-attr]
        assert seen == {own.result["incident"], mine}  # type: ignore[index]
    async with Connection(
        hub.url, token=hub.token("u7", Role.OFFICER, "U7"), topics=["incidents"], resume_from=saved
    ) as again:
        replayed = {e.payload.incident.id for e in await events(again, 2)}  # type: ignore[union-attr]
        assert replayed == seen and other not in replayed
        assert again.pending_frames() == 0


async def test_an_officer_links_new_calls_only_to_calls_its_unit_is_on(hub: RunningHub) -> None:
    """An officer's new call may be linked to a call its unit is on; linking to another open call, or
    to an id that is not open, is refused alike (no telling which ids are open)."""
    async with Connection(hub.url, token=hub.token("ana")) as desk:
        await roster(desk, "U7", 53.5450, -113.4900)
        theirs = (await desk.command(IncidentCreate(id=desk.next_id(), call_type="NOISE", location=DOWNTOWN))).result
        mine = (await desk.command(IncidentCreate(id=desk.next_id(), call_type="DISORDER", location=DOWNTOWN))).result
        await desk.command(IncidentAssign(id=desk.next_id(), incident=mine["incident"], unit="U7"))  # type: ignore[index]
    async with Connection(hub.url, token=hub.token("u7", Role.OFFICER, "U7")) as officer:
        refusals = []
        for other in (theirs["incident"], "I000000-99999"):  # type: ignore[index]
            with pytest.raises(CommandRejected) as info:
                await officer.command(
                    IncidentCreate(
                        id=officer.next_id(), call_type="PARKING", location=DOWNTOWN, source="officer", linked=[other]
                    )
                )
            refusals.append((info.value.code, info.value.error.message))
        assert refusals[0] == refusals[1] and refusals[0][0] == "forbidden"
        ok = await officer.command(
            IncidentCreate(
                id=officer.next_id(),
                call_type="PARKING",
                location=DOWNTOWN,
                source="officer",
                linked=[mine["incident"]],  # type: ignore[index]
            )
        )
    linked, _ = await hub.ctx.hub.service.live.incident(mine["incident"])  # type: ignore[index]
    untouched, _ = await hub.ctx.hub.service.live.incident(theirs["incident"])  # type: ignore[index]
    assert linked.linked == [ok.result["incident"]] and untouched.linked == []  # type: ignore[index]


async def test_a_unit_is_pulled_from_a_lower_priority_call_to_a_new_p1(hub: RunningHub) -> None:
    """With every unit committed, a new P1's recommendation offers the unit on the P4 call; pulling it
    takes it off the P4 (which waits again, with a warning) and dispatches it, in one step. A unit on
    a more urgent call cannot be pulled, and a call with no coordinates ranks no one at 0 km."""
    live = hub.ctx.hub.service.live
    async with Connection(hub.url, token=hub.token("ana")) as desk:
        await roster(desk, "U7", 53.5450, -113.4900)
        await roster(desk, "U8", 53.5000, -113.5000)

        async def call(priority: int, where: Location = DOWNTOWN) -> str:
            ack = await desk.command(
                IncidentCreate(id=desk.next_id(), call_type="noise", priority=priority, location=where)
            )
            return ack.result["incident"]  # type: ignore[index]

        p4, p2 = await call(4), await call(2)
        await desk.command(IncidentAssign(id=desk.next_id(), incident=p4, unit="U7"))
        await desk.command(IncidentAssign(id=desk.next_id(), incident=p2, unit="U8"))
        p1 = await call(1)
        rec = (await desk.command(Recommend(id=desk.next_id(), incident=p1))).recommendation
        assert rec is not None and rec.units == [] and "no available unit" in rec.warnings
        # nearest first: U7 (on the P4, 0.6 km) before U8 (on the P2, 5 km)
        assert [(p.unit, p.incident, p.priority) for p in rec.pullable] == [("U7", p4, 4), ("U8", p2, 2)]

        with pytest.raises(CommandRejected, match="is on"):  # without from_incident: refused as before
            await desk.command(IncidentAssign(id=desk.next_id(), incident=p1, unit="U7"))
        ack = await desk.command(IncidentAssign(id=desk.next_id(), incident=p1, unit="U7", from_incident=p4))
        assert ack.result is not None and ack.result["pulled_from"] == p4
        assert f"{p4} (P4) waits again with no unit" in ack.result["warning"]
        unit, _ = await live.unit("U7")
        left, _ = await live.incident(p4)
        taken, _ = await live.incident(p1)
        assert unit.status == "dispatched" and unit.incident == p1
        assert left.status == "pending" and all(a.cleared_at is not None for a in left.units)
        assert [a.unit for a in taken.units if a.cleared_at is None] == ["U7"]
        assert any("pulled to P1" in e.detail for e in await live.timeline(p4))
        assert any(f"pulled from {p4}" in e.detail for e in await live.timeline(p1))

        p3 = await call(3)
        with pytest.raises(CommandRejected, match="only a unit on a lower-priority call"):
            await desk.command(IncidentAssign(id=desk.next_id(), incident=p3, unit="U7", from_incident=p1))
        with pytest.raises(CommandRejected, match="not " + p4):
            await desk.command(IncidentAssign(id=desk.next_id(), incident=p1, unit="U8", from_incident=p4))

        nowhere = await call(3, Location("somewhere on the river valley trail"))
        await desk.command(UnitStatus(id=desk.next_id(), unit="U8", status="available", incident=None))
        rec = (await desk.command(Recommend(id=desk.next_id(), incident=nowhere))).recommendation
        assert rec is not None and [(r.unit, r.distance_m) for r in rec.units] == [("U8", None)]
        assert "the call has no location: units are not ranked by distance" in rec.warnings


async def test_police_support_for_a_call_without_an_alarm(hub: RunningHub) -> None:
    """incident.police: on the call's timeline, and supervisors are told; officers may not ask it."""
    from protocol.messages import IncidentPolice

    live = hub.ctx.hub.service.live
    async with (
        Connection(hub.url, token=hub.token("ana")) as desk,
        Connection(hub.url, token=hub.token("sam", Role.SUPERVISOR), topics=["alarms"]) as sup,
        Connection(hub.url, token=hub.token("u7", Role.OFFICER, "U7")) as officer,
    ):
        ack = await desk.command(IncidentCreate(id=desk.next_id(), call_type="DISORDER", location=DOWNTOWN))
        call = ack.result["incident"]  # type: ignore[index]
        await desk.command(IncidentPolice(id=desk.next_id(), incident=call, note="one with a knife"))
        lines = await live.timeline(call)
        assert any(e.action == "police_requested" and "one with a knife" in e.detail for e in lines)
        notes = [f.payload for f in await events(sup, 1, "alarms") if isinstance(f.payload, Notified)]
        assert notes and notes[0].role == "supervisor" and notes[0].incident == call
        with pytest.raises(CommandRejected):
            await officer.command(IncidentPolice(id=officer.next_id(), incident=call))

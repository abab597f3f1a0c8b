"""Partitions and their keys: one hash tag per family and partition, the default keeping the keys a
single-Valkey hub always had, and reads grouped so that none spans two slots."""

from __future__ import annotations

import pytest
from redis.crc import key_slot

from server.bus.log import Bus
from server.bus.partition import Partition, hash_tag, slot_groups
from server.bus.topics import TOPICS, Lane
from server.config import Settings
from server.dispatch.live import ALARMS, INCIDENTS, POSITIONS, RADIO, UNITS
from server.intake.lane import COMPLAINTS, INTAKE_STREAMS


def test_the_default_partition_keeps_the_keys_of_a_single_valkey_hub() -> None:
    """An upgraded hub finds its live state and its intake queue where they were."""
    part = Partition()
    assert part.stream(ALARMS) == "{dispatch}:alarms:stream"
    assert part.keys(UNITS).state == "{dispatch}:units:state"
    assert part.keys(POSITIONS).geo == "{positions}:positions:geo"
    assert part.live == "{dispatch}:live" and part.incident_seq == "{dispatch}:incident-seq"
    assert part.timeline("I1") == "{dispatch}:timeline:I1"
    assert COMPLAINTS.at(part).stream == COMPLAINTS.stream == "{intake}:complaints:stream"
    assert part.label == "default"


def test_a_named_partition_puts_each_family_under_its_own_tag() -> None:
    north = Partition("north")
    for topic in TOPICS:
        keys = north.keys(topic)
        for key in (keys.stream, keys.epoch, keys.state, keys.versions, keys.geo):
            assert hash_tag(key) == f"{topic.family.value}:north"
    for key in (north.live, north.timers, north.timer_plans, north.incident_seq, north.rebuilding, north.probe):
        assert hash_tag(key) == "dispatch:north"
    assert hash_tag(north.once("ana", "c1")) == hash_tag(north.timeline("I1")) == "dispatch:north"
    for lane in INTAKE_STREAMS:
        at = lane.at(north)
        assert {hash_tag(k) for k in (at.stream, at.seq, at.receipts, at.door("k"))} == {"intake:north"}
    assert north.topic_of_stream(north.stream(RADIO)) == RADIO
    assert north.topic_of_stream(Partition().stream(RADIO)) is None  # another partition's stream is not ours


def test_every_key_a_dispatch_plan_touches_is_on_one_slot() -> None:
    """A panic writes the alarm, the unit and the radio log, sets a timer and keeps its command id:
    one script, so one slot; a position report is on the positions slot alone."""
    bus = Bus(None, Settings(partition="north"))  # type: ignore[arg-type]  # keys only: no Redis needed
    from protocol.events import RadioLogged
    from protocol.state import RadioEntry

    entry = RadioEntry(channel="main", text="x", at=1, by="ana")
    plan = bus.plan().check(ALARMS, "a", 0).write(ALARMS, "a", b"x").write(UNITS, "U1", b"y")
    plan.emit(RADIO, RadioLogged(ts=1, by="ana", entry=entry)).emit(INCIDENTS, RadioLogged(ts=1, by="ana", entry=entry))
    plan.timer("t1", 5, bus.plan().delete(ALARMS, "a"))
    plan.append(bus.part.timeline("I1"), entry, 10)
    assert {key_slot(k.encode()) for k in plan.keys()} == {key_slot(b"{dispatch:north}")}
    pos = bus.plan().write(POSITIONS, "U1", b"p").geo(POSITIONS, "U1", -113.5, 53.5)
    assert {key_slot(k.encode()) for k in pos.keys()} == {key_slot(b"{positions:north}")}


def test_reads_are_grouped_by_slot_in_the_order_met() -> None:
    part = Partition("south")
    streams = [part.stream(t) for t in sorted(TOPICS, key=lambda t: t.lane)]
    groups = slot_groups(streams)
    assert [hash_tag(g[0]) for g in groups] == ["dispatch:south", "positions:south", "intake:south"]
    assert sum(len(g) for g in groups) == len(TOPICS)
    alarms_first = groups[0][0]
    assert alarms_first == part.stream(next(t for t in TOPICS if t.lane is Lane.ALARM))
    assert hash_tag("no-tag") == "no-tag" and hash_tag("{}x") == "{}x"  # an empty tag hashes the whole key


@pytest.mark.parametrize("name", ["North", "a{b}", "x" * 33, "-lead", "has space", "caf\u00e9"])
def test_a_partition_name_that_could_break_a_tag_is_refused(name: str) -> None:
    with pytest.raises(ValueError):
        Partition(name)
    with pytest.raises(ValueError, match="DISPATCH_PARTITION"):
        Settings(partition=name).resolved()

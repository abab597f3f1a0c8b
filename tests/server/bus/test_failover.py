"""Losing the Valkey host: a primary with a replica under Sentinel, the primary SIGKILLed during a
stream of panics and radio log entries. No acked command is lost, every other one was answered
with an error, health goes red then green, and boards carry on. And the silent reader: a reader
that reads on but hears nothing turns health red."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from clients.connection import CommandRejected, Connection
from protocol.events import AlarmRaised
from protocol.messages import EventFrame, RadioAppend, Resync, UnitPanic, UnitPosition, UnitRoster
from server.bus.local_valkey import LocalCluster, LocalSentinelSet, free_run
from server.bus.partition import Partition
from server.bus.topics import Family
from server.bus.topology import TopologyWatch
from server.bus.valkey import EmbeddedValkey
from server.dispatch.live import ALARMS, RADIO
from tests.helpers import OPERATOR, RunningHub, S, hub_in_process, wait_for


@pytest.fixture
def sentinel_set(tmp_path: Path) -> Iterator[LocalSentinelSet]:
    made = LocalSentinelSet(tmp_path / "valkey", replicas=1, sentinels=1, base_port=free_run(3))
    made.start()
    yield made
    made.stop()


async def _board_has(board: Connection, alarm: str) -> bool:
    """Whether the board, reading what it has been sent, got this alarm: live, or in a resync
    flagged for what it is (a gap, a new epoch, a first snapshot)."""
    while board.pending_frames():
        frame = await board.next_frame()
        if isinstance(frame, Resync):
            assert frame.reason in ("gap", "epoch", "initial")
            if any(getattr(a, "id", None) == alarm for a in frame.snapshot):
                return True
        if isinstance(frame, EventFrame) and isinstance(frame.payload, AlarmRaised) and frame.payload.alarm.id == alarm:
            return True
    return False


class HealthLog:
    """/healthz every 100 ms, as a load balancer would look."""

    def __init__(self, hub: RunningHub) -> None:
        self.hub = hub
        self.seen: list[tuple[float, int, dict[str, Any]]] = []
        self._task: asyncio.Task[None] | None = None

    async def _poll(self) -> None:
        async with httpx.AsyncClient(base_url=self.hub.http, timeout=2) as http:
            while True:
                try:
                    r = await http.get("/healthz", headers=OPERATOR)
                    self.seen.append((time.monotonic(), r.status_code, r.json()))
                except httpx.HTTPError:
                    self.seen.append((time.monotonic(), 0, {}))
                await asyncio.sleep(0.1)

    def __enter__(self) -> HealthLog:
        self._task = asyncio.create_task(self._poll())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()

    def red_then_green(self) -> bool:
        codes = [c for _, c, _ in self.seen]
        if 200 not in codes:
            return False
        first_red = next((i for i, c in enumerate(codes) if c != 200), None)
        return first_red is not None and 200 in codes[first_red:]


async def test_a_primary_killed_during_panics_loses_no_acked_alarm(
    sentinel_set: LocalSentinelSet, tmp_path: Path
) -> None:
    """SIGKILL the primary during a stream of panics and radio entries: every acked panic's alarm and
    every acked radio entry is on the new primary; every command not acked was answered with an
    error (or its connection dropped, which the client sees); health goes red, then green; the
    board gets the panics raised after the failover."""
    units = [f"U{i}" for i in range(1, 41)]
    async with hub_in_process(
        sentinel_set.url, tmp_path / "data", commands_per_s=10_000.0, commands_burst=10_000
    ) as hub:
        await wait_for(lambda: hub.ctx.bus.replicas == 1, 10)  # the topology watch saw the replica
        async with (
            Connection(hub.url, token=hub.token("ana"), backoff=(0.2, 0.5)) as desk,
            Connection(hub.url, token=hub.token("bo"), topics=["alarms"], backoff=(0.2, 0.5)) as board,
        ):
            for unit in units:
                await desk.command(UnitRoster(id=desk.next_id(), unit=unit, district="Downtown"))
                await desk.command(UnitPosition(id=desk.next_id(), unit=unit, lat=53.54, lon=-113.49))
            acked_alarms: list[str] = []
            acked_radio: list[str] = []
            told: list[str] = []
            old = sentinel_set.current_primary()
            with HealthLog(hub) as health:
                for i, unit in enumerate(units[:-1]):
                    if i == 12:
                        old.kill()  # the host is gone: nothing flushed, no goodbye
                    for cmd in (
                        UnitPanic(id=desk.next_id(), unit=unit),
                        RadioAppend(id=desk.next_id(), channel="main", text=f"entry {i}"),
                    ):
                        try:
                            ack = await desk.command(cmd, timeout=5 * S)
                        except Exception as exc:  # an error frame, or the connection dropped: the client knows
                            told.append(f"{type(cmd).__name__} {i}: {exc}")
                            continue
                        if isinstance(cmd, UnitPanic):
                            acked_alarms.append(ack.result["alarm"])  # type: ignore[index]
                        else:
                            acked_radio.append(f"entry {i}")
                    await asyncio.sleep(0.2)
                # The sentinels promote the replica; the hub follows and health turns green again.
                await wait_for(lambda: sentinel_set.current_primary().port != old.port, 20)
                await wait_for(lambda: health.seen and health.seen[-1][1] == 200, 30)
                assert health.red_then_green(), [c for _, c, _ in health.seen]
                assert hub.ctx.part(TopologyWatch).now.failovers >= 1
                # A panic after the failover reaches the board (resumed, or resynced and flagged).
                await wait_for(lambda: desk.connected and board.connected, 20)
                last = await desk.command(UnitPanic(id=desk.next_id(), unit=units[-1]), timeout=10 * S)
                late = last.result["alarm"]  # type: ignore[index]
                acked_alarms.append(late)

                await wait_for(lambda: _board_has(board, late), 10)

        new = sentinel_set.current_primary()
        part = Partition()
        with new.client() as c:
            alarms = {k.decode() for k in c.hkeys(part.keys(ALARMS).state)}
            radio = [fields[b"e"] for _, fields in c.xrange(part.stream(RADIO))]
        lost_alarms = [a for a in acked_alarms if a not in alarms]
        lost_radio = [t for t in acked_radio if not any(t.encode() in e for e in radio)]
        assert lost_alarms == [] and lost_radio == [], (lost_alarms, lost_radio, told)
        # Some went through before the kill and after the failover, and some were refused meanwhile.
        assert len(acked_alarms) >= 12 + 2 and told
        assert hub.ctx.bus.waited > 0


async def test_a_reader_that_reads_on_but_hears_nothing_turns_health_red(
    tmp_path: Path, valkey: Any, redis: aioredis.Redis
) -> None:
    """The silent reader (Centrifugo's failover bug: publishes acked, subscribers fed nothing, health
    green): the reader's client reads a server the commands no longer write to. Its reads return,
    empty, and its beat stays fresh, while every command succeeds. The probe, written through the
    commands' client, never comes back through the reader's: health goes red within
    probe_stale_s, and green once the reader reads the right server again."""
    other = EmbeddedValkey(tmp_path / "stale")  # the node the reader was left on
    other.start()
    stale = aioredis.Redis.from_url(other.url)
    try:
        async with hub_in_process(valkey.url, tmp_path / "data", probe_every_s=0.2, probe_stale_s=1.5) as hub:
            async with httpx.AsyncClient(base_url=hub.http) as http:
                reader = hub.ctx.hub
                await wait_for(lambda: reader.probe_heard >= 2, 5)
                assert (await http.get("/healthz")).status_code == 200
                real, reader.redis = reader.redis, stale  # type: ignore[assignment]
                async with Connection(hub.url, token=hub.token("ana")) as desk:
                    ack = await desk.command(RadioAppend(id=desk.next_id(), channel="main", text="published"))
                    assert ack.offset  # writes succeed
                started = time.monotonic()
                await wait_for(lambda: _status(http, 503), 5)
                assert time.monotonic() - started < 1.5 + 1.0 + 1.0  # probe_stale_s, a probe's period, a read
                body = (await http.get("/healthz", headers=OPERATOR)).json()
                assert body["checks"]["bus"]["reader"] == "deaf" and body["checks"]["bus"]["reader_beat_age_s"] < 2
                metrics = (await http.get("/metrics", headers=OPERATOR)).text
                silence = [ln for ln in metrics.splitlines() if ln.startswith("dispatch_bus_probe_silence_seconds ")]
                assert silence and float(silence[0].split()[1]) > 1.0
                reader.redis = real
                await wait_for(lambda: _status(http, 200), 5)
    finally:
        await stale.aclose()
        other.stop()


async def test_a_reader_past_what_its_stream_kept_reads_on_and_its_boards_resync(hub: RunningHub) -> None:
    """After a failover the new primary's stream may end before the hub's place in it (the tail it
    lost): reading on from the place would hear nothing. The reader sees the stream is behind it,
    reads on from the stream's newest entry, and its boards get a resync flagged gap."""
    async with (
        Connection(hub.url, token=hub.token("ana")) as desk,
        Connection(hub.url, token=hub.token("bo"), topics=["radio"]) as board,
    ):
        first = await desk.command(RadioAppend(id=desk.next_id(), channel="main", text="one"))
        await wait_for(lambda: board.positions["radio"].offset == first.offset)
        while board.pending_frames():
            await board.next_frame()
        reader = hub.ctx.hub
        stream = Partition().stream(RADIO)
        reader.last_ids[stream] = f"{int(time.time() * 1000) + 3_600_000}-0"  # entries it read are gone
        frame = await board.next_frame(5 * S)
        assert isinstance(frame, Resync) and frame.reason == "gap"
        later = await desk.command(RadioAppend(id=desk.next_id(), channel="main", text="two"))
        frame = await board.next_frame(5 * S)
        assert isinstance(frame, EventFrame) and frame.offset == later.offset


async def test_a_command_no_replica_confirms_is_refused_and_its_resend_is_applied_once(
    sentinel_set: LocalSentinelSet, tmp_path: Path
) -> None:
    """The replica stops answering (SIGSTOP): a panic is applied on the primary but no replica holds
    it, so the officer is told so, not acked; a complaint likewise gets 503. Once the replica is
    back, the same panic sent again (same id) is acked as a repeat, one alarm; the same complaint
    again gets its file number, one file."""
    from tests.server.intake.test_intake_lane import complaint

    async with hub_in_process(
        sentinel_set.url, tmp_path / "data", replica_wait_ms=300, commands_per_s=1000.0, commands_burst=1000
    ) as hub:
        await wait_for(lambda: hub.ctx.bus.replicas == 1, 10)
        replica = sentinel_set.replica_nodes[0]
        async with Connection(hub.url, token=hub.token("ana")) as desk, httpx.AsyncClient(base_url=hub.http) as http:
            await desk.command(UnitRoster(id=desk.next_id(), unit="U1", district="Downtown"))
            panic = UnitPanic(id=desk.next_id(), unit="U1")
            assert replica.proc is not None
            replica.proc.send_signal(signal.SIGSTOP)
            try:
                with pytest.raises(CommandRejected, match="no replica confirmed it"):
                    await desk.command(panic)
                refused = await http.post("/api/complaints", json=complaint(41))
                assert refused.status_code == 503 and "no replica holds it" in refused.json()["error"]
            finally:
                replica.proc.send_signal(signal.SIGCONT)
            again = await desk.command(panic)  # the same id
            assert again.result == {"duplicate": "yes"} or again.result.get("duplicate") == "yes"  # type: ignore[union-attr]
            filed = await http.post("/api/complaints", json=complaint(41))
            assert filed.status_code in (200, 201) and filed.json()["file_number"]
        alarms = await hub.ctx.redis.hkeys(Partition().keys(ALARMS).state)
        assert len([a for a in alarms if a.startswith(b"panic:U1:")]) == 1
        assert hub.ctx.bus.unconfirmed >= 1 and hub.ctx.bus.waited >= 2


async def _status(http: httpx.AsyncClient, code: int) -> bool:
    return (await http.get("/healthz")).status_code == code


@pytest.fixture
def cluster_with_replicas(tmp_path: Path) -> Iterator[LocalCluster]:
    made = LocalCluster(tmp_path / "cluster", masters=3, replicas=1, base_port=free_run(6))
    made.start()
    yield made
    made.stop()


async def test_a_cluster_primary_killed_is_replaced_by_its_replica_and_no_acked_panic_is_lost(
    cluster_with_replicas: LocalCluster, tmp_path: Path
) -> None:
    """A cluster with a replica per primary: panics wait for the replica on the primary's own
    connection; the primary that holds the dispatch slot is SIGKILLed; its replica takes over, the
    hub follows the new slot map, health goes red then green, every acked panic is on the new
    primary, and a panic after it is acked and reaches the board."""
    cluster = cluster_with_replicas
    part = Partition()
    async with hub_in_process(cluster.url, tmp_path / "data", commands_per_s=10_000.0, commands_burst=10_000) as hub:
        await wait_for(lambda: hub.ctx.bus.replicas == 1, 10)
        units = [f"C{i}" for i in range(1, 31)]
        async with (
            Connection(hub.url, token=hub.token("ana"), backoff=(0.2, 0.5)) as desk,
            Connection(hub.url, token=hub.token("bo"), topics=["alarms"], backoff=(0.2, 0.5)) as board,
        ):
            for unit in units:
                await desk.command(UnitRoster(id=desk.next_id(), unit=unit, district="Downtown"))
            acked: list[str] = []
            told: list[str] = []
            old = cluster.primary_of(part.key(Family.DISPATCH, "x"))
            with HealthLog(hub) as health:
                for i, unit in enumerate(units[:-1]):
                    if i == 8:
                        old.kill()
                    try:
                        ack = await desk.command(UnitPanic(id=desk.next_id(), unit=unit), timeout=5 * S)
                        acked.append(ack.result["alarm"])  # type: ignore[index]
                    except Exception as exc:
                        told.append(str(exc))
                    await asyncio.sleep(0.2)
                await wait_for(lambda: cluster.primary_of(part.key(Family.DISPATCH, "x")).port != old.port, 20)
                await wait_for(lambda: health.seen and health.seen[-1][1] == 200, 30)
                assert health.red_then_green(), [c for _, c, _ in health.seen]
                last = await desk.command(UnitPanic(id=desk.next_id(), unit=units[-1]), timeout=10 * S)
                acked.append(last.result["alarm"])  # type: ignore[index]
                late = last.result["alarm"]  # type: ignore[index]

                await wait_for(lambda: _board_has(board, late), 10)
        new = cluster.primary_of(part.key(Family.DISPATCH, "x"))
        with new.client() as c:
            alarms = {k.decode() for k in c.hkeys(part.keys(ALARMS).state)}
        assert [a for a in acked if a not in alarms] == [], told
        assert len(acked) >= 8 + 2 and hub.ctx.bus.waited >= 8
        assert hub.ctx.part(TopologyWatch).now.failovers >= 1

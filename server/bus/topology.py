"""What the bus runs on, watched: the nodes, where this hub's partition lives, replication lag,
and the failovers seen. Health and metrics show it; the bus reads the replica count from it to
know whether alarm-lane commands wait for a replica (``Bus.replicas``).

Looked at every ``every_s``: on one server or a Sentinel's primary, ``INFO replication`` (and
the sentinels' view of the primary); on a cluster, ``CLUSTER SHARDS`` and each primary's
``INFO replication``. A failover is counted when the primary that serves this partition's
dispatch slot changes (its address under Sentinel, its node id on a cluster).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisError

from server.bus.connect import Connected
from server.bus.log import Bus
from server.bus.partition import Partition
from server.bus.stopping import StopSignal
from server.bus.topics import Family

__all__ = ["Node", "Topology", "TopologyCollector", "TopologyWatch"]

log = logging.getLogger("dispatch.topology")


@dataclass(slots=True)
class Node:
    address: str  # host:port (or the socket)
    role: str  # primary, replica
    id: str = ""  # a cluster node's id
    slots: list[tuple[int, int]] = field(default_factory=list)
    replicas: int = 0  # a primary's connected replicas
    lag_bytes: int = 0  # a primary's: how far its slowest replica is behind it
    primary: str = ""  # a replica's primary (address)
    up: bool = True


@dataclass(slots=True)
class Topology:
    kind: str  # single, cluster, sentinel
    nodes: list[Node] = field(default_factory=list)
    partitions: dict[str, str] = field(default_factory=dict)  # "<family>:<partition>" -> the primary's address
    failovers: int = 0
    checked: float = 0.0  # monotonic time of the last look (0: never)
    error: str = ""

    def as_health(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "nodes": [
                {
                    "address": n.address,
                    "role": n.role,
                    **({"id": n.id[:12]} if n.id else {}),
                    **({"slots": [f"{a}-{b}" for a, b in n.slots]} if n.slots else {}),
                    **({"replicas": n.replicas, "lag_bytes": n.lag_bytes} if n.role == "primary" else {}),
                    **({"primary": n.primary} if n.primary else {}),
                    **({"up": False} if not n.up else {}),
                }
                for n in self.nodes
            ],
            "partitions": self.partitions,
            "failovers_seen": self.failovers,
            **({"error": self.error} if self.error else {}),
        }


def _info_replicas(info: dict[str, Any]) -> tuple[int, int, list[str]]:
    """(replicas online, the slowest one's lag in bytes, their addresses) from INFO replication. A
    replica still taking its first copy (wait_bgsave, send_bulk) is connected but holds nothing
    yet: it is not counted, so nothing waits for it."""
    connected = int(info.get("connected_slaves", 0))
    offset = int(info.get("master_repl_offset", 0))
    count, lag, addresses = 0, 0, []
    for i in range(connected):
        replica = info.get(f"slave{i}")
        if isinstance(replica, dict) and replica.get("state") == "online":
            count += 1
            addresses.append(f"{replica.get('ip')}:{replica.get('port')}")
            lag = max(lag, offset - int(replica.get("offset", offset)))
    return count, lag, addresses


class TopologyWatch:
    def __init__(self, connected: Connected, bus: Bus, every_s: float = 2.0) -> None:
        self.connected = connected
        self.bus = bus
        self.part: Partition = bus.part
        self.every_s = every_s
        self.now = Topology(connected.target.kind)
        self._serving = ""  # who serves the partition's dispatch slot, last seen
        self.on_failover: Callable[[], None] | None = None  # the hub's: every board resyncs
        self._stop = StopSignal()

    async def run(self) -> None:
        while True:
            try:
                await self.look()
            except (RedisError, OSError) as exc:
                self.now.error = str(exc) or type(exc).__name__
            except Exception as exc:
                log.exception("topology watch failed")
                self.now.error = str(exc)
            if await self._pause():
                return

    async def _pause(self) -> bool:
        """Until the next look: ``every_s``, or sooner when a command found no replica to
        confirm it. -> whether to stop."""
        # At least a quarter second apart, however many commands go unconfirmed meanwhile.
        if await self._stop.sleep(0.25):
            return True
        again = asyncio.ensure_future(self.bus.look_again.wait())
        stop = asyncio.ensure_future(self._stop.sleep(max(0.0, self.every_s - 0.25)))
        try:
            await asyncio.wait({again, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            again.cancel()
            if not stop.done():
                stop.cancel()
        self.bus.look_again.clear()
        return self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()

    async def look(self) -> Topology:
        kind = self.connected.target.kind
        if kind == "cluster":
            nodes, partitions, serving, replicas = await self._cluster()
        else:
            nodes, partitions, serving, replicas = await self._primary()
        if self._serving and serving and serving != self._serving:
            self.now.failovers += 1
            log.warning("FAILOVER: partition %s now served by %s (was %s)", self.part.label, serving, self._serving)
            if self.on_failover is not None:
                self.on_failover()
        self._serving = serving or self._serving
        self.now.nodes, self.now.partitions = nodes, partitions
        self.now.checked, self.now.error = time.monotonic(), ""
        self.bus.replicas = replicas
        return self.now

    async def _primary(self) -> tuple[list[Node], dict[str, str], str, int]:
        redis = self.connected.redis
        info: dict[str, Any] = await redis.info("replication")
        sentinel = self.connected.sentinel
        if sentinel is not None:
            host, port = await sentinel.discover_master(self.connected.target.service)
            address = f"{host}:{port}"
        else:
            address = self.connected.target.url.split("@")[-1].split("://")[-1]
        count, lag, replicas = _info_replicas(info)
        role = "primary" if info.get("role") == "master" else "replica"
        nodes = [Node(address, role, replicas=count, lag_bytes=lag)]
        nodes += [Node(r, "replica", primary=address) for r in replicas]
        partitions = {f"{f.value}:{self.part.label}": address for f in Family}
        return nodes, partitions, address, count if role == "primary" else 0

    async def _cluster(self) -> tuple[list[Node], dict[str, str], str, int]:
        """The shards, and for this partition: who serves each family, and the replicas of the
        primaries that hold its dispatch and intake slots (what its commands wait for)."""
        rc = self.connected.cluster
        assert rc is not None
        shards = await _cluster_shards(rc)
        nodes: list[Node] = []
        slot_owner: list[tuple[int, int, Node]] = []
        for shard in shards:
            slots = shard["slots"]
            if slots and isinstance(slots[0], list | tuple):  # already paired by the client
                ranges = [(int(a), int(b)) for a, b in slots]
            else:
                ranges = [(int(slots[i]), int(slots[i + 1])) for i in range(0, len(slots), 2)]
            primary: Node | None = None
            members = []
            for raw in shard["nodes"]:
                address = f"{raw.get('ip') or raw.get('endpoint')}:{raw.get('port')}"
                node = Node(address, "primary" if raw.get("role") == "master" else "replica", id=str(raw.get("id", "")))
                node.up = raw.get("health") == "online"
                members.append(node)
                # Mid-failover a shard may list two primaries: the one online serves it.
                if node.role == "primary" and (primary is None or (node.up and not primary.up)):
                    primary = node
            if primary is not None:
                primary.slots = ranges
            if primary is not None:
                online = [m for m in members if m is not primary and m.up]
                primary.replicas = len(online)
                for m in members:
                    if m is not primary:
                        m.primary = primary.address
                slot_owner += [(a, b, primary) for a, b in ranges]
                if primary.up and primary.replicas:
                    try:
                        target = rc.get_node(
                            host=primary.address.rsplit(":", 1)[0], port=int(primary.address.rsplit(":", 1)[1])
                        )
                        if target is not None:
                            info: Any = await rc.info("replication", target_nodes=target)
                            _, primary.lag_bytes, _ = _info_replicas(info)
                    except (RedisError, OSError):
                        pass
            nodes += members
        partitions: dict[str, str] = {}
        serving = ""
        waits_on: list[int] = []
        for family in Family:
            slot = rc.keyslot(self.part.key(family, "x"))
            owner = next((n for a, b, n in slot_owner if a <= slot <= b), None)
            partitions[f"{family.value}:{self.part.label}"] = (
                f"{owner.address} (slot {slot})" if owner else f"none (slot {slot})"
            )
            if family is Family.DISPATCH and owner is not None:
                serving = owner.id
            if family in (Family.DISPATCH, Family.INTAKE):
                waits_on.append(owner.replicas if owner is not None and owner.up else 0)
        return nodes, partitions, serving, min(waits_on, default=0)


async def _cluster_shards(rc: RedisCluster) -> list[dict[str, Any]]:
    """CLUSTER SHARDS from any node, as dicts (the reply is flat key/value lists)."""
    raw: Any = await rc.execute_command("CLUSTER SHARDS", target_nodes=RedisCluster.RANDOM)
    if isinstance(raw, dict):  # some versions answer per node
        raw = next(iter(raw.values()))

    def as_dict(flat: Any) -> dict[str, Any]:
        if isinstance(flat, dict):
            return {(k.decode() if isinstance(k, bytes) else str(k)): v for k, v in flat.items()}
        it = iter(flat)
        return {(k.decode() if isinstance(k, bytes) else str(k)): v for k, v in zip(it, it, strict=False)}

    shards = []
    for shard in raw:
        d = as_dict(shard)
        nodes = []
        for n in d.get("nodes", []):
            nd = as_dict(n)
            nodes.append({k: (v.decode() if isinstance(v, bytes) else v) for k, v in nd.items()})
        shards.append({"slots": list(d.get("slots", [])), "nodes": nodes})
    return shards


class TopologyCollector(Collector):
    """The topology as Prometheus metrics, read when scraped."""

    def __init__(self, watch: TopologyWatch) -> None:
        self.watch = watch

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        now = self.watch.now
        nodes = GaugeMetricFamily("dispatch_redis_nodes", "Valkey nodes seen, by role", labels=["role"])
        for role in ("primary", "replica"):
            nodes.add_metric([role], float(sum(1 for n in now.nodes if n.role == role and n.up)))
        yield nodes
        replicas = GaugeMetricFamily(
            "dispatch_redis_replicas", "Connected replicas of each primary", labels=["primary"]
        )
        lag = GaugeMetricFamily(
            "dispatch_redis_replication_lag_bytes",
            "How far each primary's slowest replica is behind",
            labels=["primary"],
        )
        for n in now.nodes:
            if n.role == "primary":
                replicas.add_metric([n.address], float(n.replicas))
                lag.add_metric([n.address], float(n.lag_bytes))
        yield replicas
        yield lag
        failovers = CounterMetricFamily("dispatch_redis_failovers", "Primary changes seen for this hub's partition")
        failovers.add_metric([], float(now.failovers))
        yield failovers
        bus = self.watch.bus
        waited = CounterMetricFamily(
            "dispatch_replica_waits", "Commands that waited for a replica, by outcome", labels=["outcome"]
        )
        waited.add_metric(["confirmed"], float(bus.waited - bus.unconfirmed))
        waited.add_metric(["unconfirmed"], float(bus.unconfirmed))
        yield waited

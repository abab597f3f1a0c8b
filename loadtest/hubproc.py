"""The servers under test, each its own process, and what they cost (RSS, CPU) read from /proc.

The hub (``dispatch serve`` with its own embedded Valkey), and for ``--compare``
the floor (``loadtest.floor``) and the peer (``loadtest.peer``, with its own
embedded Valkey).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.error import URLError
from urllib.request import urlopen

from loadtest.lifeline import die_with_parent

__all__ = [
    "REPLICATED_CLUSTER",
    "VALKEYS",
    "HubUnderTest",
    "ServerUnderTest",
    "raise_fd_limit",
    "start_floor",
    "start_hub",
    "start_peer",
    "valkey_for",
]

_CLK_TCK = os.sysconf("SC_CLK_TCK")


def raise_fd_limit() -> int:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerUnderTest:
    proc: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    kind: str = "hub"

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}" + {"hub": "/ws", "floor": "", "peer": "/socket.io/"}[self.kind]

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLK_TCK


@dataclass
class HubUnderTest(ServerUnderTest):
    servers: Any = None  # the cluster or Sentinel set it runs on (None: its embedded Valkey)

    def token(self, user: str, role: str = "dispatcher", unit: str | None = None) -> str:
        cli = [sys.executable, "-m", "server.cli"]
        add = [
            *cli,
            "user",
            "add",
            user,
            "--role",
            role,
            "--password",
            "loadtest",
            "--data-dir",
            str(self.data_dir),
        ]
        if unit:
            add += ["--unit", unit]
        subprocess.run(add, check=False, capture_output=True)
        out = subprocess.run(
            [*cli, "token", user, "--data-dir", str(self.data_dir)],
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip()


def _wait_listening(proc: subprocess.Popen[bytes], port: int, log: Path, health: str | None, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(log.read_text()[-2000:])
        if health is None:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        else:
            with contextlib.suppress(URLError, OSError):
                with urlopen(f"http://127.0.0.1:{port}{health}", timeout=1) as r:
                    if r.status == 200:
                        return
        if time.monotonic() > deadline:
            raise RuntimeError(f"server on port {port} did not come up")
        time.sleep(0.1)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def _server(name: str, args: list[str], tmp: str, timeout: float) -> Iterator[ServerUnderTest]:
    """``python -m loadtest.NAME ARGS --port P``, logging to TMP/NAME.log, until it listens; stopped on exit."""
    port = _free_port()
    path = Path(tmp) / f"{name}.log"
    with open(path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", f"loadtest.{name}", "--port", str(port), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
        try:
            _wait_listening(proc, port, path, None, timeout)
            yield ServerUnderTest(proc, port, Path(tmp), name)
        finally:
            _stop(proc)


@contextlib.contextmanager
def start_floor(timeout: float = 30.0) -> Iterator[ServerUnderTest]:
    """The bare websockets broadcast server."""
    with tempfile.TemporaryDirectory(prefix="dispatch-floor-") as tmp, _server("floor", [], tmp, timeout) as floor:
        yield floor


@contextlib.contextmanager
def start_peer(timeout: float = 30.0) -> Iterator[ServerUnderTest]:
    """python-socketio's AsyncServer with its Redis manager, on its own embedded Valkey."""
    from server.bus.valkey import EmbeddedValkey

    with tempfile.TemporaryDirectory(prefix="dispatch-peer-") as tmp:
        valkey = EmbeddedValkey(Path(tmp))
        valkey.start()
        try:
            with _server("peer", ["--redis-url", valkey.url], tmp, timeout) as peer:
                yield peer
        finally:
            valkey.stop()


# What the hub runs on (``--valkey``): its own embedded Valkey, a three-master cluster, or a primary
# with a replica under Sentinel, the last two made of the same binary in the run's temporary dir.
VALKEYS = ("embedded", "cluster", "sentinel")
# And for the failover run: a three-master cluster with a replica for each primary.
REPLICATED_CLUSTER = "cluster-replicas"


@contextlib.contextmanager
def valkey_for(kind: str, folder: Path) -> Iterator[tuple[str, Any]]:
    """(the REDIS_URL to give the hub, the servers) for a kind of ``VALKEYS``; "" for the embedded one."""
    from server.bus.local_valkey import LocalCluster, LocalSentinelSet, free_run

    if kind == "embedded":
        yield "", None
        return
    base = free_run(6)
    made: LocalCluster | LocalSentinelSet
    if kind in ("cluster", REPLICATED_CLUSTER):
        made = LocalCluster(folder, masters=3, replicas=1 if kind == REPLICATED_CLUSTER else 0, base_port=base)
    else:
        made = LocalSentinelSet(folder, base_port=base)
    try:
        made.start()
        yield made.url, made
    finally:
        made.stop()


@contextlib.contextmanager
def start_hub(
    env: dict[str, str] | None = None, timeout: float = 60.0, valkey: str | None = None
) -> Iterator[HubUnderTest]:
    """A hub in a temporary data dir, stopped (SIGTERM) on exit: on its own embedded Valkey, or
    (``valkey``, else LOADTEST_VALKEY) on a cluster or a Sentinel's primary made for the run."""
    kind = valkey or os.environ.get("LOADTEST_VALKEY", "embedded")
    with (
        tempfile.TemporaryDirectory(prefix="dispatch-loadtest-") as tmp,
        valkey_for(kind, Path(tmp) / "valkey") as (
            url,
            servers,
        ),
    ):
        data_dir = Path(tmp)
        port = _free_port()
        full_env = {**os.environ, **(env or {})}
        full_env.pop("REDIS_URL", None)
        if url:
            full_env["REDIS_URL"] = url
        log = open(data_dir / "hub.log", "wb")  # noqa: SIM115 - closed below
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "server.cli",
                "serve",
                "--port",
                str(port),
                "--data-dir",
                str(data_dir),
                "--log-level",
                "warning",
            ],
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,  # a load tool killed outright leaves no hub behind
        )
        hub = HubUnderTest(proc, port, data_dir, servers=servers)
        try:
            _wait_listening(proc, port, data_dir / "hub.log", "/healthz", timeout)
            yield hub
        finally:
            _stop(proc)
            log.close()

"""Beyond one Valkey: the hub on one server, a cluster and a Sentinel's primary in one run, and a
failover.

- ``topologies``: fanout and panic on the embedded Valkey and on a three-master cluster, then
  panic on a primary with a replica under Sentinel with the replica wait off and on (every
  dispatch command waits for the replica before its ack), one after the other in the same run;
  and the wait's cost to one plan, measured alone.
- ``failover``: a primary with a replica under Sentinel; a desk presses panics (each for its own
  unit) and appends radio entries at a steady rate while the primary is SIGKILLed. What it
  reports: how long until commands are acked again and until health is green, what the desk
  was told meanwhile, and what of the acked is on the new primary (it must be all of it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from loadtest.hubproc import REPLICATED_CLUSTER, start_hub
from loadtest.report import latency

__all__ = ["failover", "topologies"]


@contextlib.contextmanager
def _env(**values: str) -> Any:
    """Set environment variables for a block (start_hub passes them to the hub)."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _brief(result: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: result[k] for k in keys if k in result}


def topologies(args: argparse.Namespace) -> dict[str, Any]:
    from loadtest.fanout import run_on
    from loadtest.shift import run_panic

    out: dict[str, Any] = {"scenario": "topologies", "valkey": "each in turn", "duration_s": args.duration}
    fan = argparse.Namespace(**{**vars(args), "publishers": 1, "rate": 0.0, "wire": "dispatch.v1.msgpack"})
    pan = argparse.Namespace(**{**vars(args), "rate": 500.0, "panic_rate": 5.0, "warmup": 2.0})
    runs: list[tuple[str, str, str]] = [
        ("fanout", "embedded", ""),
        ("fanout", "cluster", ""),
        ("panic", "embedded", ""),
        ("panic", "cluster", ""),
        ("panic", "sentinel", "off"),
        ("panic", "sentinel", "dispatch"),
    ]
    for what, valkey, wait in runs:
        name = f"{what} {valkey}" + (f" wait {wait}" if wait else "")
        with _env(LOADTEST_VALKEY=valkey, **({"DISPATCH_REPLICA_WAIT": wait} if wait else {})):
            if what == "fanout":
                r = run_on("hub", fan)
                out[name] = _brief(r, "delivered_per_s", "latency_ms", "lost", "duplicated", "cpu_s_per_1k_deliveries")
            else:
                r = run_panic(pan)
                out[name] = {
                    **_brief(r, "all_boards_ms", "press_to_hub_ms", "lost", "duplicated"),
                    "panics": _brief(r["panics"], "sent", "acked", "errors", "ack_ms"),
                }
    out["replica wait, one plan"] = asyncio.run(_wait_cost(args.plans))
    return out


async def _wait_cost(plans: int) -> dict[str, Any]:
    """What the replica wait costs one plan, alone: a panic-sized plan (an alarm written, an event
    appended) applied on a Sentinel's primary with a replica online, by turns waiting and not."""
    from protocol.events import RadioLogged
    from protocol.state import RadioEntry
    from server.bus.connect import connect
    from server.bus.local_valkey import LocalSentinelSet, free_run
    from server.bus.log import Bus
    from server.bus.topics import topic_named
    from server.config import Settings

    alarms = topic_named("alarms")
    assert alarms is not None
    with tempfile.TemporaryDirectory(prefix="dispatch-wait-") as tmp:
        made = LocalSentinelSet(Path(tmp), base_port=free_run(3))
        made.start()
        connected = connect(made.url)
        try:
            bus = Bus(connected.redis, Settings(replica_wait="dispatch"))
            times: dict[str, list[float]] = {"without": [], "with": []}
            entry = RadioEntry(channel="main", text="x" * 120, at=1, by="loadtest")
            for i in range(plans):
                way = "with" if i % 2 else "without"
                bus.replicas = 1 if way == "with" else 0
                plan = bus.plan().write(alarms, f"a{i % 100}", b"x" * 300)
                plan.emit(alarms, RadioLogged(ts=i, by="loadtest", entry=entry))
                began = time.perf_counter()
                await bus.apply(plan)
                times[way].append((time.perf_counter() - began) * 1000)
            return {
                "plans": plans,
                "apply_ms_without_wait": latency(times["without"]),
                "apply_ms_with_wait": latency(times["with"]),
                "confirmed": bus.waited - bus.unconfirmed,
                "unconfirmed": bus.unconfirmed,
            }
        finally:
            await connected.close()
            made.stop()


def _primary(servers: Any) -> Any:
    """The node that serves the default partition's dispatch slot now."""
    from server.bus.local_valkey import LocalCluster
    from server.bus.partition import Partition
    from server.bus.topics import Family

    if isinstance(servers, LocalCluster):
        return servers.primary_of(Partition().key(Family.DISPATCH, "x"))
    return servers.current_primary()


async def _failover(args: argparse.Namespace) -> dict[str, Any]:
    from clients.connection import Connection
    from protocol.messages import RadioAppend, UnitPanic, UnitPosition, UnitRoster
    from server.bus.partition import Partition
    from server.bus.topics import topic_named

    alarms_topic, radio_topic = topic_named("alarms"), topic_named("radio")
    assert alarms_topic is not None and radio_topic is not None

    limits = {"DISPATCH_COMMANDS_PER_S": "10000", "DISPATCH_COMMANDS_BURST": "10000"}  # one desk sends them all
    shape = REPLICATED_CLUSTER if args.shape == "cluster" else "sentinel"
    with _env(LOADTEST_VALKEY=shape, **limits), start_hub() as hub:
        servers = hub.servers
        token = hub.token("loadtest")
        http = f"http://127.0.0.1:{hub.port}"
        units = [f"F{i}" for i in range(int(args.rate * args.duration) + 10)]
        health: list[tuple[float, int]] = []

        async def watch_health() -> None:
            async with httpx.AsyncClient(base_url=http, timeout=1) as client:
                while True:
                    try:
                        code = (await client.get("/healthz")).status_code
                    except httpx.HTTPError:
                        code = 0
                    health.append((time.monotonic(), code))
                    await asyncio.sleep(0.05)

        acked_alarms: list[str] = []
        acked_radio: list[str] = []
        told: list[tuple[float, str]] = []
        acks: list[float] = []
        async with Connection(hub.url, token=token, backoff=(0.1, 0.3)) as desk:
            for unit in units:
                await desk.command(UnitRoster(id=desk.next_id(), unit=unit, district="Downtown"))
                await desk.command(UnitPosition(id=desk.next_id(), unit=unit, lat=53.54, lon=-113.49))
            watcher = asyncio.create_task(watch_health())
            old = _primary(servers)
            start = time.monotonic()
            killed_at = 0.0
            step = 1.0 / args.rate
            for i, unit in enumerate(units[: int(args.rate * args.duration)]):
                at = start + i * step
                await asyncio.sleep(max(0.0, at - time.monotonic()))
                if not killed_at and time.monotonic() - start >= args.kill_at:
                    old.kill()
                    killed_at = time.monotonic()
                for cmd in (
                    UnitPanic(id=desk.next_id(), unit=unit),
                    RadioAppend(id=desk.next_id(), channel="main", text=f"failover entry {i}"),
                ):
                    try:
                        ack = await desk.command(cmd, timeout=5)
                    except Exception as exc:
                        told.append((time.monotonic(), f"{type(exc).__name__}: {exc}"[:160]))
                        continue
                    acks.append(time.monotonic())
                    if isinstance(cmd, UnitPanic):
                        acked_alarms.append(ack.result["alarm"])  # type: ignore[index]
                    else:
                        acked_radio.append(f"failover entry {i}")
            await asyncio.sleep(1.0)
            watcher.cancel()
        new = _primary(servers)
        part = Partition()
        with new.client() as c:
            alarms = {k.decode() for k in c.hkeys(part.keys(alarms_topic).state)}
            radio = [fields[b"e"] for _, fields in c.xrange(part.stream(radio_topic))]
        lost_alarms = [a for a in acked_alarms if a not in alarms]
        lost_radio = [t for t in acked_radio if not any(t.encode() in e for e in radio)]
        after = [t for t in acks if t > killed_at]
        red = [t for t, code in health if code != 200 and t >= killed_at]
        green_again = [t for t, code in health if code == 200 and red and t > red[0]]
        reasons: dict[str, int] = {}
        for _, why in told:
            key = why[:90]
            reasons[key] = reasons.get(key, 0) + 1
        return {
            "scenario": "failover",
            "valkey": "a three-master cluster, a replica each"
            if args.shape == "cluster"
            else "sentinel (a primary, a replica, one sentinel)",
            "rate_per_s": args.rate,
            "kill_at_s": args.kill_at,
            "old_primary": old.address,
            "new_primary": new.address,
            "acked_alarms": len(acked_alarms),
            "acked_radio": len(acked_radio),
            "lost_acked_alarms": len(lost_alarms),
            "lost_acked_radio": len(lost_radio),
            "told": len(told),
            "told_by_reason": reasons,
            "first_ack_after_kill_s": round(after[0] - killed_at, 2) if after else None,
            "health_red_after_kill_s": round(red[0] - killed_at, 2) if red else None,
            "health_green_after_kill_s": round(green_again[0] - killed_at, 2) if green_again else None,
        }


def failover(args: argparse.Namespace) -> dict[str, Any]:
    return asyncio.run(_failover(args))

"""python -m loadtest.records: the records store's numbers (issue 16's closing note).

- ``drivers``: psycopg 3 (with psycopg_pool) against asyncpg on the same private PostgreSQL: a
  batch of archived events inserted (the archiver's write) and a row read by key (a sign-in's),
  so the driver is picked by measurement.
- ``archive``: the archiver's write path (``RecordsStore.archive``: events and their projections,
  in batches of 500) into SQLite and into PostgreSQL, events per second.
- ``shift``: the shift scenario, sampling every 50 ms how many acknowledged events the archiver
  has not written yet (its consumer group's lag and pending): what a Redis lost at that moment
  would lose; its p50, p99 and most.
- ``hubs``: panic p99 and fanout delivered/s with one hub on SQLite, two hub processes on one
  PostgreSQL, and the embedded Valkey fsyncing ``always`` against ``everysec``, in one run.

Each starts what it needs (a PostgreSQL server of its own on a temporary directory) and stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from loadtest.report import latency

__all__ = ["archive", "drivers", "hubs", "main", "shift_window"]

_BATCH = 500


@contextlib.contextmanager
def _postgres() -> Iterator[Any]:
    from server.records.private_postgres import PrivatePostgres

    with PrivatePostgres() as server:
        yield server


def _events(n: int, start_ms: int) -> list[Any]:
    """A shift's mix: radio lines, calls made and updated with their timelines, units, alarms, positions."""
    from protocol.codec import event_encoder
    from protocol.events import Event, IncidentCreated, IncidentUpdated, PositionReported, RadioLogged, UnitUpdated
    from protocol.state import Incident, Location, Position, RadioEntry, TimelineEntry, UnitState
    from server.records.store import ArchivedEvent

    out = []
    for i in range(n):
        ms = start_ms + i
        kind = i % 10
        event: Event
        if kind < 4:
            topic, event = (
                "positions",
                PositionReported(ts=ms, by="po", position=Position(unit=f"PO{i % 50}", lat=53.5, lon=-113.5, at=ms)),
            )
        elif kind < 6:
            entry = RadioEntry(channel="main", text=f"PO{i % 50} 10-8 at {i} Jasper Ave", at=ms, by="ana")
            topic, event = "radio", RadioLogged(ts=ms, by="ana", entry=entry)
        elif kind < 8:
            incident = Incident(
                id=f"I261203-{i // 10:05d}",
                call_type="ANIMAL",
                priority=3,
                status="pending",
                location=Location(f"{i} Whyte Ave"),
                created_at=ms,
                updated_at=ms,
            )
            line = TimelineEntry(at=ms, by="ana", action="created" if kind == 6 else "note", detail="dog at large")
            made = IncidentCreated if kind == 6 else IncidentUpdated
            topic, event = "incidents", made(ts=ms, by="ana", incident=incident, entry=line)
        else:
            topic, event = "units", UnitUpdated(ts=ms, by="ana", unit=UnitState(id=f"PO{i % 50}", status="available"))
        raw = event_encoder.encode(event)
        tag = type(event).__struct_config__.tag
        out.append(ArchivedEvent(topic, f"{ms}-{i}", "e1", str(tag), event.by, event.ts, raw))
    return out


async def _archive_rate(target: Path | str, n: int, synchronous: str = "FULL") -> float:
    from server.records.store import RecordsStore

    store = RecordsStore(target, sqlite_synchronous=synchronous)
    await store.open()
    try:
        events = _events(n, int(time.time() * 1000))
        started = time.perf_counter()
        for i in range(0, n, _BATCH):
            await store.archive(events[i : i + _BATCH])
        took = time.perf_counter() - started
        assert await store.count_events() == n
        return n / took
    finally:
        await store.close()


def archive(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, _postgres() as pg:
        runs: dict[str, list[float]] = {"sqlite FULL": [], "sqlite NORMAL": [], "postgresql": []}
        for run in range(args.runs):
            for level in ("FULL", "NORMAL"):
                path = Path(tmp) / f"r{run}-{level}.sqlite3"
                runs[f"sqlite {level}"].append(asyncio.run(_archive_rate(path, args.events, level)))
            runs["postgresql"].append(asyncio.run(_archive_rate(pg.create_database(f"a{run}"), args.events)))
    return {
        "scenario": "archive",
        "events": args.events,
        "batch": _BATCH,
        "events_per_s": {
            k: {"median": round(statistics.median(v)), "runs": [round(x) for x in v]} for k, v in runs.items()
        },
    }


async def _drivers(url: str, n: int, reads: int) -> dict[str, Any]:
    import asyncpg  # type: ignore[import-untyped]
    import psycopg_pool

    rows = [(f"t{i}", f"{i}-0", i, 0, "e", "k", "by", i, b"x" * 120) for i in range(n)]
    ddl = (
        "CREATE TABLE IF NOT EXISTS bench (topic TEXT, id TEXT, ms BIGINT, seq BIGINT, epoch TEXT, kind TEXT,"
        " by TEXT, ts BIGINT, payload BYTEA, PRIMARY KEY (topic, ms, seq))"
    )
    out: dict[str, Any] = {}
    async with psycopg_pool.AsyncConnectionPool(url, min_size=2, max_size=4, open=False) as pool:
        await pool.open(wait=True)
        async with pool.connection() as conn:
            await conn.execute(ddl)
            await conn.execute("TRUNCATE bench")
        started = time.perf_counter()
        for i in range(0, n, _BATCH):
            async with pool.connection() as conn, conn.cursor() as cur:
                await cur.executemany(
                    "INSERT INTO bench VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT DO NOTHING", rows[i : i + _BATCH]
                )
        insert = n / (time.perf_counter() - started)
        lat = []
        for i in range(reads):
            t = time.perf_counter()
            async with pool.connection() as conn:
                await (
                    await conn.execute("SELECT payload FROM bench WHERE topic=%s AND ms=%s AND seq=0", (f"t{i}", i))
                ).fetchone()
            lat.append((time.perf_counter() - t) * 1000)
        out["psycopg"] = {"insert_events_per_s": round(insert), "read_ms": latency(lat)}
    pool2 = await asyncpg.create_pool(url, min_size=2, max_size=4)
    try:
        async with pool2.acquire() as conn:
            await conn.execute("TRUNCATE bench")
        started = time.perf_counter()
        for i in range(0, n, _BATCH):
            async with pool2.acquire() as conn:
                await conn.executemany(
                    "INSERT INTO bench VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT DO NOTHING", rows[i : i + _BATCH]
                )
        insert = n / (time.perf_counter() - started)
        lat = []
        for i in range(reads):
            t = time.perf_counter()
            async with pool2.acquire() as conn:
                await conn.fetchrow("SELECT payload FROM bench WHERE topic=$1 AND ms=$2 AND seq=0", f"t{i}", i)
            lat.append((time.perf_counter() - t) * 1000)
        out["asyncpg"] = {"insert_events_per_s": round(insert), "read_ms": latency(lat)}
    finally:
        await pool2.close()
    return out


def drivers(args: argparse.Namespace) -> dict[str, Any]:
    with _postgres() as pg:
        url = pg.create_database("drivers")
        return {"scenario": "drivers", "events": args.events, **asyncio.run(_drivers(url, args.events, args.reads))}


# ---- the archiver's window under the shift scenario ------------------------------------------


def _lag_sampler(socket: str, start_at: float, end_at: float, q: Any) -> None:
    import redis

    from server.bus.partition import Partition
    from server.bus.topics import TOPICS
    from server.records.archiver import GROUP

    client = redis.Redis(unix_socket_path=socket)
    q.put({"kind": "ready"})
    samples: dict[str, list[int]] = {t.name: [] for t in TOPICS}
    while time.time() < start_at:
        time.sleep(0.01)
    while time.time() < end_at:
        for topic in TOPICS:
            unarchived = 0
            try:
                for group in client.xinfo_groups(Partition().stream(topic)):
                    if group["name"].decode() == GROUP:
                        # lag: not yet read by the group; pending: read, not yet written and acked
                        unarchived += int(group.get("lag") or 0) + int(group.get("pending") or 0)
            except redis.ResponseError:
                pass
            samples[topic.name].append(unarchived)
        time.sleep(0.05)
    q.put({"kind": "archive_lag", "samples": samples})


def shift_window(args: argparse.Namespace) -> dict[str, Any]:
    from loadtest.shift import _run

    def beside(hub: Any, q: Any, start_at: float, end_at: float) -> list[Any]:
        proc = mp.get_context("spawn").Process(
            daemon=True, target=_lag_sampler, args=(str(hub.data_dir / "valkey.sock"), start_at, end_at, q)
        )
        proc.start()
        return [proc]

    run = _run(args, "calls", args.call_rate, beside, ("archive_lag",))
    by_topic: dict[str, list[int]] = run["_archive_lag"]["samples"]

    def spread(samples: list[int]) -> dict[str, int]:
        ordered = sorted(samples)
        if not ordered:
            return {"p50": 0, "p99": 0, "max": 0}
        return {"p50": ordered[len(ordered) // 2], "p99": ordered[int(len(ordered) * 0.99)], "max": ordered[-1]}

    dispatch = [sum(v) for v in zip(*(s for t, s in by_topic.items() if t != "positions"), strict=True)]
    total = [sum(v) for v in zip(*by_topic.values(), strict=True)]
    return {
        "scenario": "shift-archive-window",
        "officers": args.officers,
        "positions_per_s": args.rate,
        "calls_per_s": args.call_rate,
        "archive_every_s": float(os.environ.get("DISPATCH_ARCHIVE_EVERY_S", "0.25")),
        "samples": len(total),
        "unarchived_events": spread(total),
        "unarchived_dispatch_events": spread(dispatch),  # alarms, incidents, units, radio, resources
        "unarchived_by_topic": {t: spread(s) for t, s in by_topic.items()},
        "positions_achieved_per_s": run["positions"]["achieved_per_s"],
    }


# ---- the hubs: SQLite, two on PostgreSQL, fsync A/B ------------------------------------------


@contextlib.contextmanager
def _env(**values: str) -> Iterator[None]:
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def hubs(args: argparse.Namespace) -> dict[str, Any]:
    from loadtest.fanout import fanout
    from loadtest.shift import panic

    panic_args = argparse.Namespace(
        boards=args.boards,
        officers=args.officers,
        rate=500.0,
        panic_rate=5.0,
        duration=args.duration,
        warmup=2.0,
        procs=2,
    )
    fanout_args = argparse.Namespace(
        boards=args.boards,
        publishers=1,
        duration=args.duration,
        rate=0.0,
        wire="dispatch.v1.msgpack",
        procs=2,
        compare=False,
    )
    out: dict[str, Any] = {"scenario": "hubs", "boards": args.boards, "duration_s": args.duration, "runs": {}}
    with _postgres() as pg:
        setups: list[tuple[str, dict[str, str]]] = [
            ("sqlite, 1 hub, fsync always", {"DISPATCH_VALKEY_FSYNC": "always"}),
            ("sqlite, 1 hub, fsync everysec", {"DISPATCH_VALKEY_FSYNC": "everysec"}),
        ]
        for n in range(args.repeat):
            setups.append(
                (
                    f"postgresql, 2 hubs, fsync always #{n}",
                    {
                        "DATABASE_URL": pg.create_database(f"hubs{n}"),
                        "DISPATCH_WORKERS": "2",
                        "DISPATCH_VALKEY_FSYNC": "always",
                    },
                )
            )
        for name, env in setups:
            with _env(**env):
                p = panic(panic_args)
                pg_url = env.get("DATABASE_URL")
                if pg_url:  # fanout on a database of its own
                    env = {**env, "DATABASE_URL": pg.create_database(f"f{abs(hash(name)) % 10**8}")}
                with _env(**env):
                    f = fanout(fanout_args)
            out["runs"][name] = {
                "panic_p99_ms": p["latency_ms"]["p99"],
                "panic_all_boards_p99_ms": p["all_boards_ms"]["p99"],
                "panic_lost": p["lost"],
                "fanout_delivered_per_s": f["results"]["hub"]["delivered_per_s"]
                if "results" in f
                else f.get("delivered_per_s"),
            }
            print(name, json.dumps(out["runs"][name]), file=sys.stderr, flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m loadtest.records", description=__doc__.split("\n\n")[0])
    p.add_argument("--json", type=Path, help="write the report here too")
    sub = p.add_subparsers(dest="what", required=True)
    d = sub.add_parser("drivers")
    d.add_argument("--events", type=int, default=50_000)
    d.add_argument("--reads", type=int, default=2_000)
    a = sub.add_parser("archive")
    a.add_argument("--events", type=int, default=50_000)
    a.add_argument("--runs", type=int, default=3)
    s = sub.add_parser("shift")
    s.add_argument("--boards", type=int, default=20)
    s.add_argument("--officers", type=int, default=1000)
    s.add_argument("--rate", type=float, default=5000.0)
    s.add_argument("--call-rate", type=float, default=2.0)
    s.add_argument("--duration", type=float, default=20.0)
    s.add_argument("--warmup", type=float, default=0.0)
    s.add_argument("--procs", type=int, default=2)
    h = sub.add_parser("hubs")
    h.add_argument("--boards", type=int, default=200)
    h.add_argument("--officers", type=int, default=400)
    h.add_argument("--duration", type=float, default=15.0)
    h.add_argument("--repeat", type=int, default=1)
    args = p.parse_args(argv)
    report = {"drivers": drivers, "archive": archive, "shift": shift_window, "hubs": hubs}[args.what](args)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""python -m loadtest SCENARIO [options] --json PATH

Scenarios: fanout (N boards, M publishers), idle (memory per connection),
intake-flood (dispatch latency without, then with, a complaint flood).
The hub runs as its own process with its own embedded Valkey; clients run in
``--procs`` worker processes. Every run stops by itself.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import signal
import sys
import time
from pathlib import Path
from typing import Any

from loadtest import intake, workers
from loadtest.hubproc import raise_fd_limit, start_hub

HUB_ENV = {
    "DISPATCH_COMMANDS_PER_S": "1000000",
    "DISPATCH_COMMANDS_BURST": "1000000",
    "DISPATCH_MAX_SESSIONS_PER_USER": "1000000",  # every simulated client signs in as one account
}


def _pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return round(values[min(len(values) - 1, int(len(values) * p / 100))], 2)


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


_early: dict[int, list[dict[str, Any]]] = {}


def _collect(q: Any, kind: str, n: int, timeout: float) -> list[dict[str, Any]]:
    """``n`` reports of ``kind``; reports of other kinds that arrive first are kept for their turn."""
    kept = _early.setdefault(id(q), [])
    got = [m for m in kept if m["kind"] == kind][:n]
    for m in got:
        kept.remove(m)
    deadline = time.time() + timeout
    while len(got) < n:
        msg = q.get(timeout=max(0.1, deadline - time.time()))
        if msg["kind"] == kind:
            got.append(msg)
        else:
            kept.append(msg)
    return got


def fanout(args: argparse.Namespace) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    with start_hub(HUB_ENV) as hub:
        token = hub.token("loadtest")
        q = ctx.Queue()
        far = time.time() + 3600
        procs = []
        board_counts = [n for n in _split(args.boards, args.procs) if n]
        # Boards hold until stop_at, set once everyone is connected (through a shared value).
        stop = ctx.Value("d", far)
        for n in board_counts:
            p = ctx.Process(target=workers.board_process, args=(hub.url, token, n, args.wire, stop, q))
            p.start()
            procs.append(p)
        _collect(q, "ready", len(board_counts), 120)
        rss_before = hub.rss_kib()
        cpu_before = hub.cpu_s()
        start_at = time.time() + 0.5
        stop_pub = start_at + args.duration
        stop.value = stop_pub + 3.0  # grace to drain
        pubs = []
        for _ in range(args.publishers):
            p = ctx.Process(target=workers.publisher_process, args=(hub.url, token, start_at, stop_pub, args.rate, q))
            p.start()
            pubs.append(p)
        _progress(start_at, stop.value)
        published = sum(m["acked"] for m in _collect(q, "publisher", len(pubs), args.duration + 60))
        cpu_after = hub.cpu_s()
        rss_after = hub.rss_kib()
        boards = _collect(q, "boards", len(board_counts), 120)
        for p in procs + pubs:
            p.join(30)
    received = [r for b in boards for r in b["received"]]
    delivered = sum(received)
    lat = [x for b in boards for x in b["latencies"]]
    return {
        "scenario": "fanout",
        "boards": args.boards,
        "publishers": args.publishers,
        "wire": args.wire,
        "duration_s": args.duration,
        "published": published,
        "delivered": delivered,
        "delivered_per_s": round(delivered / args.duration, 1),
        "latency_ms": {
            "p50": _pct(lat, 50),
            "p95": _pct(lat, 95),
            "p99": _pct(lat, 99),
            "max": _pct(lat, 100),
        },
        "lost": sum(max(0, published - r) for r in received),
        "duplicated": sum(b["duplicated"] for b in boards),
        "reconnects": sum(b["reconnects"] for b in boards),
        "hub_cpu_s_per_1k_deliveries": round((cpu_after - cpu_before) / max(1, delivered) * 1000, 4),
        "hub_rss_kib": {"before": rss_before, "after": rss_after},
    }


def _latency(values: list[float]) -> dict[str, float]:
    return {"p50": _pct(values, 50), "p95": _pct(values, 95), "p99": _pct(values, 99), "max": _pct(values, 100)}


def _filed(db: Path, numbers: list[str], timeout: float) -> tuple[int, int, float]:
    """Wait for the hub's workers to file ``numbers``. -> (filed of them, rows beyond one each, seconds waited)."""
    import sqlite3

    began = time.time()
    wanted = set(numbers)
    while True:
        with sqlite3.connect(db, timeout=30) as conn:
            rows = [r[0] for r in conn.execute("SELECT file_number FROM complaints")]
        filed = len(wanted & set(rows))
        if filed == len(wanted) or time.time() - began > timeout:
            return filed, len(rows) - len(set(rows)), round(time.time() - began, 1)
        time.sleep(0.5)


def intake_flood(args: argparse.Namespace) -> dict[str, Any]:
    """Dispatch traffic for two phases of ``--phase`` seconds; complaints flood the second."""
    ctx = mp.get_context("spawn")
    env = {**HUB_ENV, "DISPATCH_INTAKE_BURST": "1000000000", "DISPATCH_INTAKE_PER_HOUR": "1000000000"}
    with start_hub(env) as hub:
        token = hub.token("loadtest")
        q = ctx.Queue()
        stop = ctx.Value("d", time.time() + 3600)
        counts = [n for n in _split(args.boards, args.procs) if n]
        procs = [
            ctx.Process(target=workers.board_process, args=(hub.url, token, n, args.wire, stop, q)) for n in counts
        ]
        for p in procs:
            p.start()
        _collect(q, "ready", len(counts), 120)
        start_at = time.time() + 1.0
        counted_from = (start_at + args.warmup) * 1000  # connections and caches settle first
        # Without and with the flood, in alternating windows: drift in the machine falls on both.
        block = args.phase / args.cycles
        windows = [
            (start_at + args.warmup + (2 * c + 1) * block, start_at + args.warmup + (2 * c + 2) * block)
            for c in range(args.cycles)
        ]
        end_at = windows[-1][1]
        stop.value = end_at + 3.0
        pub = ctx.Process(target=workers.publisher_process, args=(hub.url, token, start_at, end_at, args.rate, q))
        flood = ctx.Process(
            target=intake.flood_process,
            args=(hub.port, windows, args.flood_rate, args.flood_conns, str(int(start_at)), q),
        )
        pub.start()
        flood.start()
        cpu_before = hub.cpu_s()
        _progress(start_at, end_at)
        published = sum(m["acked"] for m in _collect(q, "publisher", 1, args.phase * 2 + args.warmup + 60))
        flooded = _collect(q, "flood", 1, 120)[0]
        boards = _collect(q, "boards", len(counts), 120)
        cpu_hub = hub.cpu_s() - cpu_before
        filed, duplicated, lag = _filed(hub.data_dir / "records.sqlite3", flooded["accepted"], 300)
        for p in [*procs, pub, flood]:
            p.join(30)
    before: list[float] = []
    during: list[float] = []
    flooded_ms = [(a * 1000, b * 1000) for a, b in windows]
    for b in boards:
        for latency, at in zip(b["latencies"], b["sent_at"], strict=True):
            if at >= counted_from:
                (during if any(a <= at < z for a, z in flooded_ms) else before).append(latency)
    received = [r for b in boards for r in b["received"]]
    base, loaded = _latency(before), _latency(during)
    accepted = len(flooded["accepted"])
    return {
        "scenario": "intake-flood",
        "boards": args.boards,
        "dispatch_rate_per_s": args.rate,
        "phase_s": args.phase,
        "cycles": args.cycles,
        "published": published,
        "delivered": sum(received),
        "delivered_per_s": round(sum(received) / (2 * args.phase + args.warmup), 1),
        "lost": sum(max(0, published - r) for r in received),
        "duplicated": sum(b["duplicated"] for b in boards),
        "latency_ms": loaded,
        "baseline": {"latency_ms": base, "samples": len(before)},
        "flood": {"latency_ms": loaded, "samples": len(during)},
        "p99_ratio": round(loaded["p99"] / base["p99"], 3) if base["p99"] else None,
        "p50_ratio": round(loaded["p50"] / base["p50"], 3) if base["p50"] else None,
        "complaints": {
            "rate_asked_per_s": args.flood_rate,
            "rate_achieved_per_s": flooded["rate_achieved"],
            "sent": flooded["sent"],
            "statuses": flooded["statuses"],
            "accepted": accepted,
            "filed": filed,
            "lost": accepted - filed,
            "duplicated": duplicated + accepted - len(set(flooded["accepted"])),
            "all_filed_after_s": lag,
        },
        "hub_cpu_s": round(cpu_hub, 2),
    }


def idle(args: argparse.Namespace) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    with start_hub(HUB_ENV) as hub:
        token = hub.token("loadtest")
        q = ctx.Queue()
        rss_before = hub.rss_kib()
        hold = time.time() + 3600
        counts = [n for n in _split(args.conns, args.procs) if n]
        hold_v = ctx.Value("d", hold)
        procs = [ctx.Process(target=workers.idle_process, args=(hub.url, token, n, hold_v, q)) for n in counts]
        for p in procs:
            p.start()
        _collect(q, "ready", len(counts), 300)
        time.sleep(2.0)  # let allocations settle
        rss_after = hub.rss_kib()
        hold_v.value = time.time()
        _collect(q, "idle", len(counts), 120)
        for p in procs:
            p.join(30)
    per = (rss_after - rss_before) / max(1, args.conns)
    return {
        "scenario": "idle",
        "connections": args.conns,
        "hub_rss_kib": {"before": rss_before, "after": rss_after},
        "memory_per_conn_kib": round(per, 2),
    }


def _progress(start: float, end: float) -> None:
    width = 30
    while True:
        now = time.time()
        done = min(1.0, max(0.0, (now - start) / max(0.001, end - start)))
        bar = "#" * int(done * width)
        sys.stderr.write(f"\r[{bar:<{width}}] {done * 100:5.1f}%")
        sys.stderr.flush()
        if now >= end:
            break
        time.sleep(0.25)
    sys.stderr.write("\n")


def _stop_on_term(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds through start_hub, which stops the hub


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _stop_on_term)
    raise_fd_limit()
    p = argparse.ArgumentParser(prog="python -m loadtest", description=__doc__)
    sub = p.add_subparsers(dest="scenario", required=True)
    f = sub.add_parser("fanout", help="N boards watching, M publishers writing radio entries")
    f.add_argument("--boards", type=int, default=200)
    f.add_argument("--publishers", type=int, default=1)
    f.add_argument("--duration", type=float, default=10.0)
    f.add_argument("--rate", type=float, default=0.0, help="commands/s per publisher (0: as fast as acks allow)")
    f.add_argument("--wire", default="dispatch.v1.msgpack", choices=["dispatch.v1.json", "dispatch.v1.msgpack"])
    f.add_argument("--procs", type=int, default=2, help="client processes for the boards")
    f.add_argument("--json", type=Path)
    i = sub.add_parser("idle", help="hub memory per idle connection")
    i.add_argument("--conns", type=int, default=2000)
    i.add_argument("--procs", type=int, default=2)
    i.add_argument("--json", type=Path)
    n = sub.add_parser("intake-flood", help="dispatch latency without and with a complaint flood, in one run")
    n.add_argument("--boards", type=int, default=50)
    n.add_argument("--rate", type=float, default=50.0, help="dispatch events (radio entries) per second")
    n.add_argument("--flood-rate", type=float, default=200.0, help="complaints per second in the second phase")
    n.add_argument("--flood-conns", type=int, default=8, help="keep-alive connections the flood uses")
    n.add_argument("--phase", type=float, default=30.0, help="seconds of each phase (without, then with)")
    n.add_argument("--warmup", type=float, default=3.0, help="seconds of dispatch traffic before counting")
    n.add_argument("--cycles", type=int, default=10, help="alternations of the two phases (each phase split evenly)")
    n.add_argument("--wire", default="dispatch.v1.msgpack", choices=["dispatch.v1.json", "dispatch.v1.msgpack"])
    n.add_argument("--procs", type=int, default=2)
    n.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    scenarios = {"fanout": fanout, "idle": idle, "intake-flood": intake_flood}
    result = scenarios[args.scenario](args)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

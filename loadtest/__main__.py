"""python -m loadtest SCENARIO [options] --json PATH

Scenarios: fanout (N boards, M publishers), idle (memory per connection).
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

from loadtest import workers
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


def _collect(q: Any, kind: str, n: int, timeout: float) -> list[dict[str, Any]]:
    got = []
    deadline = time.time() + timeout
    while len(got) < n:
        msg = q.get(timeout=max(0.1, deadline - time.time()))
        if msg["kind"] == kind:
            got.append(msg)
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
    args = p.parse_args(argv)
    result = fanout(args) if args.scenario == "fanout" else idle(args)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

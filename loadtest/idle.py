"""idle: server memory per held connection (RSS growth over connections); ``--compare`` for the baselines."""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time
from typing import Any

from loadtest import workers
from loadtest.fanout import server
from loadtest.runs import collect, split

__all__ = ["idle", "run_on"]


def run_on(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    with server(kind) as (target, token):
        q = ctx.Queue()
        time.sleep(1.0)
        rss_before = target.rss_kib()
        hold = ctx.Value("d", time.time() + 3600)
        counts = [n for n in split(args.conns, args.procs) if n]
        procs = [
            ctx.Process(daemon=True, target=workers.idle_process, args=(kind, target.url, token, n, hold, q))
            for n in counts
        ]
        for p in procs:
            p.start()
        ready = collect(q, "ready", len(counts), 600)
        time.sleep(args.settle)  # let allocations settle
        rss_after = target.rss_kib()
        hold.value = time.time()
        done = collect(q, "idle", len(counts), 120)
        for p in procs:
            p.join(30)
    took = max(m["connect_s"] for m in ready)
    return {
        "target": kind,
        "connections": args.conns,
        "held": sum(m["held"] for m in done),
        "connect_per_s": round(args.conns / took, 1) if took else None,
        "rss_kib": {"before": rss_before, "connected": rss_after},
        "memory_per_conn_kib": round((rss_after - rss_before) / max(1, args.conns), 2),
    }


def idle(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"scenario": "idle", **run_on("hub", args)}
    if args.compare:
        result["floor"] = run_on("floor", args)
        result["peer"] = run_on("peer", args)
        for name in ("floor", "peer"):
            theirs = result[name]["memory_per_conn_kib"]
            result[f"memory_ratio_to_{name}"] = round(result["memory_per_conn_kib"] / theirs, 3) if theirs else None
    return result

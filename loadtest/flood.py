"""intake-flood: dispatch latency without and with a flood of public complaints, in one run."""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time
from pathlib import Path
from typing import Any

from loadtest import intake, workers
from loadtest.hubproc import start_hub
from loadtest.report import latency, progress, radio_result
from loadtest.runs import HUB_ENV, collect, split

__all__ = ["intake_flood"]


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
    """Dispatch traffic throughout; complaints flood every other window of the run."""
    ctx = mp.get_context("spawn")
    env = {**HUB_ENV, "DISPATCH_INTAKE_BURST": "1000000000", "DISPATCH_INTAKE_PER_HOUR": "1000000000"}
    with start_hub(env) as hub:
        token = hub.token("loadtest")
        q = ctx.Queue()
        stop = ctx.Value("d", time.time() + 3600)
        counts = [n for n in split(args.boards, args.procs) if n]
        rss_before = hub.rss_kib()
        procs = workers.board_processes(ctx, "hub", hub.url, token, args.wire, counts, ["radio"], stop, q)
        ready = collect(q, "ready", len(counts), 120)
        rss_connected = hub.rss_kib()
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
        pub = ctx.Process(
            daemon=True,
            target=workers.publisher_process,
            args=("hub", hub.url, token, args.wire, start_at, end_at, args.rate, q),
        )
        flood = ctx.Process(
            daemon=True,
            target=intake.flood_process,
            args=(hub.port, windows, args.flood_rate, args.flood_conns, str(int(start_at)), q),
        )
        pub.start()
        flood.start()
        cpu_before = hub.cpu_s()
        progress(start_at, end_at, "intake-flood")
        published = sum(m["acked"] for m in collect(q, "publisher", 1, args.phase * 2 + args.warmup + 60))
        flooded = collect(q, "flood", 1, 120)[0]
        boards = collect(q, "boards", len(counts), 120)
        cpu_hub = hub.cpu_s() - cpu_before
        rss_after = hub.rss_kib()
        filed, duplicated, lag = _filed(hub.data_dir / "records.sqlite3", flooded["accepted"], 300)
        for p in [*procs, pub, flood]:
            p.join(30)
    before: list[float] = []
    during: list[float] = []
    flooded_ms = [(a * 1000, b * 1000) for a, b in windows]
    for report in boards:
        for b in report["boards"]:
            for lat, at in zip(b["latencies"], b["sent_at"], strict=True):
                if at >= counted_from:
                    (during if any(a <= at < z for a, z in flooded_ms) else before).append(lat)
    base, loaded = latency(before), latency(during)
    accepted = len(flooded["accepted"])
    common = radio_result(
        boards,
        published,
        2 * args.phase + args.warmup,
        rss={"before": rss_before, "connected": rss_connected, "after": rss_after},
        cpu_s=cpu_hub,
        connect_s=max(m["connect_s"] for m in ready),
        held=sum(b["held"] for b in boards),
    )
    return {
        "scenario": "intake-flood",
        "target": "hub",
        "boards": args.boards,
        "dispatch_rate_per_s": args.rate,
        "phase_s": args.phase,
        "cycles": args.cycles,
        **common,
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

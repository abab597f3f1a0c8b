"""reconnect-storm: many clients lose their sockets at the same moment and resume; loss is counted.

The clients are the project's own ``clients.connection.Connection`` (reconnect,
backoff and resume from the last offset per topic), on the radio topic while
a publisher writes throughout. At ``--drop-at`` seconds every client cuts its
socket without a close handshake; each reconnects and resumes. Every event
published must reach every client exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import time
from typing import Any

import uvloop

from clients.connection import Connection
from loadtest import workers
from loadtest.clients import Board, Tally
from loadtest.hubproc import raise_fd_limit, start_hub
from loadtest.report import latency, progress, radio_result
from loadtest.runs import HUB_ENV, collect, split
from protocol.codec import WireFormat

__all__ = ["reconnect_storm", "storm_process"]


def storm_process(url: str, token: str, wire: str, count: int, drop_at: Any, stop_at: Any, out: Any) -> None:
    """``count`` resuming clients on the radio topic; all drop at ``drop_at`` and come back."""
    raise_fd_limit()

    async def main() -> dict[str, Any]:
        tally = Tally()
        boards = [Board(tally) for _ in range(count)]
        conns = [
            Connection(
                url,
                token=token,
                topics=["radio"],
                wire=WireFormat(wire),
                on_frame=b.on_hub_frame,
                queue_frames=False,
                backoff=(0.1, 2.0),
            )
            for b in boards
        ]
        began = time.perf_counter()
        for i in range(0, count, 50):
            await asyncio.gather(*(c.start(60) for c in conns[i : i + 50]))
        out.put({"kind": "ready", "n": count, "connect_s": time.perf_counter() - began})
        await workers.until(drop_at)
        before = [c.stats.connects for c in conns]
        resyncs = sum(c.stats.resyncs for c in conns)  # the first subscription's snapshots
        dropped = time.perf_counter()
        await asyncio.gather(*(c.drop() for c in conns))

        async def back(c: Connection, was: int) -> float | None:
            """Seconds from the drop until caught up again; None if not within 120 s."""
            try:
                async with asyncio.timeout(120):
                    while c.stats.connects <= was:
                        await asyncio.sleep(0.01)
                    await c.wait_ready(120)
            except (TimeoutError, OSError, ConnectionError):
                return None
            return time.perf_counter() - dropped

        came_back = await asyncio.gather(*(back(c, n) for c, n in zip(conns, before, strict=True)))
        resumed = [s for s in came_back if s is not None]
        await workers.until(stop_at)
        await asyncio.gather(*(c.close() for c in conns))
        reports = [b.report() for b in boards]
        for r, c in zip(reports, conns, strict=True):
            r["dups"] += c.stats.duplicates_dropped  # the hub sent it twice, whoever dropped it
        return {
            "kind": "boards",
            "boards": reports,
            "held": count,
            "per_s": dict(tally.per_s),
            "resumed_s": resumed,
            "not_resumed": len(came_back) - len(resumed),
            "resyncs": sum(c.stats.resyncs for c in conns) - resyncs,
            "reconnects": sum(c.stats.connects - 1 for c in conns),
        }

    out.put(uvloop.run(main()))


def reconnect_storm(args: argparse.Namespace) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    with start_hub(HUB_ENV) as hub:
        token = hub.token("loadtest")
        q = ctx.Queue()
        far = time.time() + 3600
        drop_at, stop = ctx.Value("d", far), ctx.Value("d", far)
        counts = [n for n in split(args.clients, args.procs) if n]
        rss_before = hub.rss_kib()
        procs = [
            ctx.Process(daemon=True, target=storm_process, args=(hub.url, token, args.wire, n, drop_at, stop, q))
            for n in counts
        ]
        for p in procs:
            p.start()
        ready = collect(q, "ready", len(counts), 600)
        rss_connected = hub.rss_kib()
        cpu_before = hub.cpu_s()
        start_at = time.time() + 0.5
        end_at = start_at + args.duration
        drop_at.value = start_at + min(args.drop_at, args.duration)
        stop.value = end_at + args.grace
        pub = ctx.Process(
            daemon=True,
            target=workers.publisher_process,
            args=("hub", hub.url, token, args.wire, start_at, end_at, args.rate, q),
        )
        pub.start()
        progress(start_at, stop.value, "reconnect-storm")
        published = collect(q, "publisher", 1, args.duration + 60)[0]["acked"]
        boards = collect(q, "boards", len(counts), args.grace + 180)
        cpu = hub.cpu_s() - cpu_before
        rss_after = hub.rss_kib()
        for p in [*procs, pub]:
            p.join(30)
    result = radio_result(
        boards,
        published,
        args.duration,
        rss={"before": rss_before, "connected": rss_connected, "after": rss_after},
        cpu_s=cpu,
        connect_s=max(m["connect_s"] for m in ready),
        held=sum(b["held"] for b in boards),
    )
    resumed = [s for b in boards for s in b["resumed_s"]]
    return {
        "scenario": "reconnect-storm",
        "target": "hub",
        "clients": args.clients,
        "rate_per_s": args.rate,
        "duration_s": args.duration,
        "wire": args.wire,
        **result,
        "dropped": len(resumed) + sum(b["not_resumed"] for b in boards),
        "not_resumed": sum(b["not_resumed"] for b in boards),
        "resumed_s": {k: round(v / 1000, 3) for k, v in latency([s * 1000 for s in resumed]).items()},
        "reconnects": sum(b["reconnects"] for b in boards),
        "resyncs": sum(b["resyncs"] for b in boards),
    }

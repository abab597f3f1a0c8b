"""fanout: N boards on the radio topic, M publishers; with ``--compare`` the floor and the peer too."""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import time
from collections.abc import Iterator
from typing import Any

from loadtest import workers
from loadtest.hubproc import ServerUnderTest, start_floor, start_hub, start_peer
from loadtest.report import progress, radio_result, ratios
from loadtest.runs import HUB_ENV, collect, split

__all__ = ["fanout", "run_on", "server"]


@contextlib.contextmanager
def server(kind: str) -> Iterator[tuple[ServerUnderTest, str]]:
    """The target and a token for it (the baselines have no auth)."""
    if kind == "hub":
        with start_hub(HUB_ENV) as hub:
            yield hub, hub.token("loadtest")
    elif kind == "floor":
        with start_floor() as floor:
            yield floor, ""
    else:
        with start_peer() as peer:
            yield peer, ""


def run_on(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    with server(kind) as (target, token):
        q = ctx.Queue()
        stop = ctx.Value("d", time.time() + 3600)  # moved once the publishers' end is known
        counts = [n for n in split(args.boards, args.procs) if n]
        rss_before = target.rss_kib()
        procs = workers.board_processes(ctx, kind, target.url, token, args.wire, counts, ["radio"], stop, q)
        ready = collect(q, "ready", len(counts), 300)
        time.sleep(0.5)
        rss_connected = target.rss_kib()
        cpu_before = target.cpu_s()
        start_at = time.time() + 0.5
        stop_pub = start_at + args.duration
        stop.value = stop_pub + 3.0  # grace to drain
        pubs = [
            ctx.Process(
                daemon=True,
                target=workers.publisher_process,
                args=(kind, target.url, token, args.wire, start_at, stop_pub, args.rate, q),
            )
            for _ in range(args.publishers)
        ]
        for p in pubs:
            p.start()
        progress(start_at, stop.value, f"fanout {kind}")
        pub_reports = collect(q, "publisher", len(pubs), args.duration + 60)
        published = sum(m["acked"] for m in pub_reports)
        cpu = target.cpu_s() - cpu_before
        rss_after = target.rss_kib()
        boards = collect(q, "boards", len(counts), 120)
        for p in procs + pubs:
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
    wire = "socket.io (JSON text frames)" if kind == "peer" else args.wire
    return {"target": kind, "wire": wire, **result, "publish_errors": sum(m["errors"] for m in pub_reports)}


def fanout(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {
        "scenario": "fanout",
        "boards": args.boards,
        "publishers": args.publishers,
        "wire": args.wire,
        "duration_s": args.duration,
        **run_on("hub", args),
    }
    if args.compare:
        result["floor"] = run_on("floor", args)
        result["peer"] = run_on("peer", args)
        ratios(result)
    return result

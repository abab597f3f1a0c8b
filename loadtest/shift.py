"""shift and panic: a shift's field traffic into one hub, and what the boards see of it.

Boards watch every topic. Officers report positions (each its own unit, paced
by the clock). ``shift`` adds calls at a rate and measures position staleness
on the boards; ``panic`` adds panic buttons and measures the time from the
press to every board.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time
from collections.abc import Callable, Sequence
from typing import Any

from loadtest import field, workers
from loadtest.hubproc import start_hub
from loadtest.report import latency, progress
from loadtest.runs import HUB_ENV, collect, split
from protocol.codes import CloseCode

__all__ = ["panic", "run_panic", "shift"]

WIRE = field.WIRE

# More processes beside the run (an attacker, say): (hub, report queue, start, end) -> started processes.
Beside = Callable[[Any, Any, float, float], list[Any]]


def _run(
    args: argparse.Namespace, side: str, side_rate: float, beside: Beside | None = None, reports: Sequence[str] = ()
) -> dict[str, Any]:
    """Boards, officers and one ``side`` process (``panics`` or ``calls``); every report, and costs.
    ``beside`` starts more processes with the run; their ``reports`` come back as ``_<kind>``."""
    ctx = mp.get_context("spawn")
    with start_hub(HUB_ENV) as hub:
        token = hub.token("loadtest")
        q = ctx.Queue()
        far = time.time() + 3600
        boards_stop, officers_stop = ctx.Value("d", far), ctx.Value("d", far)
        rss_before = hub.rss_kib()
        board_counts = [n for n in split(args.boards, args.procs) if n]
        officer_counts = [n for n in split(args.officers, args.procs) if n]
        start_v = ctx.Value("d", far)  # set once everyone is connected; the officers wait for it
        procs = workers.board_processes(
            ctx, "hub", hub.url, token, WIRE, board_counts, workers.ALL_TOPICS, boards_stop, q
        )
        first = 0
        per_officer = args.rate / max(1, args.officers)
        for n in officer_counts:
            procs.append(
                ctx.Process(
                    daemon=True,
                    target=field.officers_process,
                    args=(hub.url, token, first, n, per_officer, start_v, officers_stop, q),
                )
            )
            procs[-1].start()
            first += n
        ready = collect(q, "ready", len(procs), 600)
        time.sleep(1.0)
        rss_connected = hub.rss_kib()
        start_at = time.time() + 1.0
        end_at = start_at + args.duration
        start_v.value = start_at
        officers_stop.value = end_at
        boards_stop.value = end_at + 3.0
        # The side stops a second before the officers do: every press or call is measured under
        # the background load, none while 1,000 connections are being closed at the end.
        window = (side_rate, start_at + args.warmup, max(start_at + args.warmup, end_at - 1.0), q)
        side_proc = ctx.Process(
            daemon=True,
            target=field.panic_process if side == "panics" else field.calls_process,
            args=(hub.url, token, args.officers, *window) if side == "panics" else (hub.url, token, *window),
        )
        side_proc.start()
        others = beside(hub, q, start_at, end_at) if beside is not None else []
        collect(q, "ready", 1, 60)
        cpu_before = hub.cpu_s()
        progress(start_at, boards_stop.value, "panic" if side == "panics" else "shift")
        officers = collect(q, "officers", len(officer_counts), args.duration + 120)
        side_report = collect(q, side, 1, args.duration + 120)[0]
        cpu = hub.cpu_s() - cpu_before
        rss_after = hub.rss_kib()
        boards = collect(q, "boards", len(board_counts), 120)
        extra = {f"_{kind}": collect(q, kind, 1, 120)[0] for kind in reports}
        for p in [*procs, side_proc, *others]:
            p.join(30)
    sent = sum(o["sent"] for o in officers)
    errors: dict[str, int] = {}
    for o in officers:
        for k, v in o["errors"].items():
            errors[k] = errors.get(k, 0) + v
    per_board = [b for r in boards for b in r["boards"]]
    connections = args.boards + args.officers + 1
    return {
        "boards": args.boards,
        "officers": args.officers,
        "connections": connections,
        "held": sum(r["held"] for r in boards),
        "connect_per_s": round(connections / max(m["connect_s"] for m in ready), 1),
        "duration_s": args.duration,
        "positions": {
            "asked_per_s": args.rate,
            "sent": sent,
            "acked": sum(o["acked"] for o in officers),
            "achieved_per_s": round(sent / args.duration, 1),
            "errors": errors,
            "ack_ms": latency([x for o in officers for x in o["ack_ms"]]),
        },
        "staleness_ms": latency([x for b in per_board for x in b["staleness"]]),
        "memory_per_conn_kib": round((rss_connected - rss_before) / connections, 2),
        "rss_kib": {"before": rss_before, "connected": rss_connected, "after": rss_after},
        "cpu_s": round(cpu, 2),
        "_side": side_report,
        "_boards": per_board,
        "_per_s": [r["per_s"] for r in boards],
        **extra,
    }


def _per_second(per_s: list[dict[int, int]]) -> list[int]:
    merged: dict[int, int] = {}
    for d in per_s:
        for k, v in d.items():
            merged[int(k)] = merged.get(int(k), 0) + v
    if not merged:
        return []
    first = min(merged)
    return [merged.get(first + i, 0) for i in range(max(merged) - first + 1)]


def panic(args: argparse.Namespace) -> dict[str, Any]:
    result = run_panic(args)
    for key in ("_pressed", "_per_alarm"):
        result.pop(key)
    return result


def run_panic(args: argparse.Namespace, beside: Beside | None = None, reports: Sequence[str] = ()) -> dict[str, Any]:
    """The panic scenario (with ``beside``, see _run), and per alarm when it was pressed (``_pressed``)
    and the time it took to its slowest board (``_per_alarm``)."""
    run = _run(args, "panics", args.panic_rate, beside, reports)
    side, per_board = run.pop("_side"), run.pop("_boards")
    extra = {k: run.pop(k) for k in [k for k in run if k.startswith("_") and k != "_per_s"]}
    acked = side["acked"]
    per_delivery = [ms for b in per_board for ms in b["alarms"].values()]
    # "Reached every board": per alarm, the slowest board's time (alarms some board missed are lost).
    reached: dict[str, float] = {}
    counts: dict[str, int] = {}
    for b in per_board:
        for alarm, ms in b["alarms"].items():
            reached[alarm] = max(reached.get(alarm, 0.0), ms)
            counts[alarm] = counts.get(alarm, 0) + 1
    everywhere = [ms for alarm, ms in reached.items() if counts[alarm] == len(per_board)]
    # Where the time goes: press to the hub's raising the alarm (the command's way in and its work),
    # then from there to each board (the bus, the fan-out, the socket).
    accepted = {alarm: ms for b in per_board for alarm, ms in b["accepted"].items()}
    onward = [ms - accepted[alarm] for b in per_board for alarm, ms in b["alarms"].items()]
    delivered = len(per_delivery)
    return {
        "scenario": "panic",
        "target": "hub",
        **{k: v for k, v in run.items() if k != "_per_s"},
        "panics": {
            "asked_per_s": args.panic_rate,
            "sent": side["sent"],
            "acked": acked,
            "errors": side["errors"],
            # press to the presser's ack: with a replica wait, the wait is in it (not in the boards')
            "ack_ms": latency(side.get("ack_ms", [])),
            # what the board that saw least saw: alarms raised with a position, and cover added
            "located": min((b["located"] for b in per_board), default=0),
            "covered": min((b["covered"] for b in per_board), default=0),
        },
        "published": acked,
        "delivered": delivered,
        "delivered_per_s": round(delivered / args.duration, 1),
        "latency_ms": latency(per_delivery),
        "all_boards_ms": latency(everywhere),
        "press_to_hub_ms": latency(list(accepted.values())),
        "hub_to_board_ms": latency(onward),
        "lost": sum(max(0, acked - len(b["alarms"])) for b in per_board),
        "duplicated": sum(b["dups"] for b in per_board),
        "slow_closes": sum(1 for b in per_board if b["closed_code"] == CloseCode.SLOW_CONSUMER),
        "delivered_by_second": _per_second(run["_per_s"]),
        "_latencies": per_delivery,
        "_pressed": {alarm: t for b in per_board for alarm, t in b["pressed"].items()},
        "_per_alarm": [(alarm, ms) for b in per_board for alarm, ms in b["alarms"].items()],
        **extra,
    }


def shift(args: argparse.Namespace) -> dict[str, Any]:
    run = _run(args, "calls", args.call_rate)
    side, per_board = run.pop("_side"), run.pop("_boards")
    staleness = [x for b in per_board for x in b["staleness"]]
    calls = side["acked"]
    series = _per_second(run["_per_s"])
    delivered_positions = sum(series)
    return {
        "scenario": "shift",
        "target": "hub",
        **{k: v for k, v in run.items() if k != "_per_s"},
        "calls": {"asked_per_s": args.call_rate, "sent": side["sent"], "acked": calls, "errors": side["errors"]},
        "published": run["positions"]["acked"] + calls,
        "delivered": delivered_positions,
        "delivered_per_s": round(delivered_positions / args.duration, 1),
        "latency_ms": run["staleness_ms"],
        "lost": sum(max(0, calls - b["incidents"]) for b in per_board),
        "duplicated": sum(b["dups"] for b in per_board),
        "slow_closes": sum(1 for b in per_board if b["closed_code"] == CloseCode.SLOW_CONSUMER),
        "delivered_by_second": series,
        "_latencies": staleness,
    }

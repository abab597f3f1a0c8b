"""Client processes: boards that count what they receive, publishers that send.

Each runs its own event loop (uvloop) in its own process so that the
generator is not what is measured. Results come back as plain dicts over a
queue. ``kind`` is the target: ``hub``, ``floor`` or ``peer``.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import uvloop

from loadtest.clients import Board, Tally, open_board, open_publisher
from loadtest.hubproc import raise_fd_limit
from loadtest.rawws import RawSocket

__all__ = ["board_process", "board_processes", "idle_process", "open_in_waves", "publisher_process", "until"]

ALL_TOPICS = ["alarms", "incidents", "units", "radio", "positions"]


async def until(stop_at: Any) -> None:
    """Sleep until the shared stop time (a multiprocessing.Value the parent may move)."""
    while time.time() < stop_at.value:
        await asyncio.sleep(0.05)


async def open_in_waves(opener: Any, count: int, wave: int = 50) -> tuple[list[Any], float]:
    """``count`` connections, ``wave`` at a time. -> (connections, seconds it took)."""
    began = time.perf_counter()
    conns: list[Any] = []
    for i in range(0, count, wave):
        conns += await asyncio.gather(*(opener() for _ in range(min(wave, count - i))))
    return conns, time.perf_counter() - began


def board_processes(
    ctx: Any, kind: str, url: str, token: str, wire: str, counts: list[int], topics: list[str], stop_at: Any, out: Any
) -> list[Any]:
    """One daemon ``board_process`` per entry of ``counts``, started."""
    procs = [
        ctx.Process(daemon=True, target=board_process, args=(kind, url, token, wire, n, topics, stop_at, out))
        for n in counts
    ]
    for p in procs:
        p.start()
    return procs


def board_process(
    kind: str, url: str, token: str, wire: str, count: int, topics: list[str], stop_at: Any, out: Any
) -> None:
    """Hold ``count`` boards until ``stop_at``; report what each received."""
    raise_fd_limit()

    async def main() -> dict[str, Any]:
        tally = Tally()
        boards = [Board(tally) for _ in range(count)]
        it = iter(boards)
        socks, took = await open_in_waves(lambda: open_board(kind, url, token, wire, topics, next(it)), count)
        out.put({"kind": "ready", "n": count, "connect_s": took})
        await until(stop_at)
        return {"kind": "boards", **await _close_all(socks, boards), "per_s": dict(tally.per_s)}

    out.put(uvloop.run(main()))


async def _close_all(socks: list[RawSocket], boards: list[Board]) -> dict[str, Any]:
    """Close every socket; the boards whose server closed them first keep that close code."""
    for sock, board in zip(socks, boards, strict=True):
        if sock.closed.done():
            board.closed_code = sock.close_code
    held = sum(1 for s in socks if not s.closed.done())
    await asyncio.gather(*(s.close() for s in socks), return_exceptions=True)
    return {"boards": [b.report() for b in boards], "held": held}


def publisher_process(
    kind: str, url: str, token: str, wire: str, start_at: float, stop_at: float, rate: float, out: Any
) -> None:
    """Send radio entries from ``start_at`` to ``stop_at``: at ``rate``/s, or as fast as acks allow (0)."""

    async def main() -> dict[str, Any]:
        pub = await open_publisher(kind, url, token, wire, f"pub{os.getpid()}")
        await asyncio.sleep(max(0.0, start_at - time.time()))
        begin = time.time()
        while time.time() < stop_at:
            if rate:
                due = begin + pub.sent / rate
                if due > time.time():
                    await asyncio.sleep(due - time.time())
            if not await pub.send():
                break
        await pub.finish()
        return {"kind": "publisher", "acked": pub.acked, "sent": pub.sent, "errors": pub.errors}

    out.put(uvloop.run(main()))


def idle_process(kind: str, url: str, token: str, count: int, hold_until: Any, out: Any) -> None:
    """Open ``count`` connections (hub: subscribed to every topic), report ready, hold, close."""
    raise_fd_limit()

    async def main() -> dict[str, Any]:
        tally = Tally()
        boards = [Board(tally) for _ in range(count)]
        it = iter(boards)
        wire = "dispatch.v1.msgpack"
        socks, took = await open_in_waves(lambda: open_board(kind, url, token, wire, ALL_TOPICS, next(it)), count, 100)
        out.put({"kind": "ready", "n": count, "connect_s": took})
        await until(hold_until)
        return {"kind": "idle", "n": count, "held": (await _close_all(socks, boards))["held"]}

    out.put(uvloop.run(main()))

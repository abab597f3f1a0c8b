"""Client processes: boards that count what they receive, publishers that send commands.

Each runs its own event loop in its own process so that the generator is
not what is measured. Results come back as plain dicts over a queue.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from clients.connection import Connection
from protocol.codec import WireFormat
from protocol.messages import EventFrame, RadioAppend, ServerFrame


class _BoardCounter:
    __slots__ = ("dups", "gaps_order", "last", "latencies", "received", "sent_at")

    def __init__(self) -> None:
        self.received = 0
        self.dups = 0
        self.gaps_order = 0
        self.last: tuple[int, int] = (0, 0)
        self.latencies: list[float] = []
        self.sent_at: list[int] = []  # the event's own time, beside each latency

    def on_frame(self, frame: ServerFrame) -> None:
        if isinstance(frame, EventFrame) and frame.topic == "radio":
            now = time.time() * 1000
            ms, _, seq = frame.offset.partition("-")
            mark = (int(ms), int(seq))
            if mark <= self.last:
                self.dups += 1
                return
            self.last = mark
            self.received += 1
            self.latencies.append(now - frame.payload.ts)
            self.sent_at.append(frame.payload.ts)


async def _until(stop_at: Any) -> None:
    """Sleep until the shared stop time (a multiprocessing.Value the parent sets later)."""
    while time.time() < stop_at.value:
        await asyncio.sleep(0.05)


def board_process(url: str, token: str, count: int, wire: str, stop_at: Any, out: Any) -> None:
    """Hold ``count`` board connections on the radio topic until ``stop_at``; report counts."""
    from loadtest.hubproc import raise_fd_limit

    raise_fd_limit()

    async def main() -> dict[str, Any]:
        counters = [_BoardCounter() for _ in range(count)]
        conns = [
            Connection(
                url,
                token=token,
                topics=["radio"],
                wire=WireFormat(wire),
                on_frame=c.on_frame,
                queue_frames=False,
                backoff=(0.2, 2.0),
            )
            for c in counters
        ]
        for i in range(0, count, 50):  # connect in waves, not all at once
            await asyncio.gather(*(c.start(60) for c in conns[i : i + 50]))
        out.put({"kind": "ready", "n": count})
        await _until(stop_at)
        reconnects = sum(c.stats.connects - 1 for c in conns)
        await asyncio.gather(*(c.close() for c in conns))
        return {
            "kind": "boards",
            "received": [c.received for c in counters],
            "duplicated": sum(c.dups for c in counters),
            "reconnects": reconnects,
            "latencies": [x for c in counters for x in c.latencies[:: max(1, len(c.latencies) // 2000)]],
            "sent_at": [x for c in counters for x in c.sent_at[:: max(1, len(c.sent_at) // 2000)]],
        }

    out.put(asyncio.run(main()))


def publisher_process(url: str, token: str, start_at: float, stop_at: float, rate: float, out: Any) -> None:
    """Send radio entries from ``start_at`` to ``stop_at`` (as fast as acks allow, or at ``rate``/s)."""

    async def main() -> dict[str, Any]:
        async with Connection(url, token=token) as conn:
            await asyncio.sleep(max(0.0, start_at - time.time()))
            sent = 0
            window = asyncio.Semaphore(32)
            text = "x" * 96
            tasks: set[asyncio.Task[Any]] = set()
            offsets: list[str] = []

            async def one(i: int) -> None:
                try:
                    ack = await conn.command(RadioAppend(id=conn.next_id(), channel="load", text=text))
                    offsets.append(ack.offset or "")
                finally:
                    window.release()

            begin = time.time()
            while time.time() < stop_at:
                if rate:
                    due = begin + sent / rate
                    if due > time.time():
                        await asyncio.sleep(due - time.time())
                await window.acquire()
                task = asyncio.create_task(one(sent))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                sent += 1
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            return {"kind": "publisher", "acked": len(offsets), "sent": sent}

    out.put(asyncio.run(main()))


def idle_process(url: str, token: str, count: int, hold_until: Any, out: Any) -> None:
    """Open ``count`` connections subscribed to every topic, report ready, hold, close."""
    from loadtest.hubproc import raise_fd_limit

    raise_fd_limit()

    async def main() -> dict[str, Any]:
        conns = [
            Connection(
                url,
                token=token,
                topics=["alarms", "incidents", "units", "radio", "positions"],
                queue_frames=False,
                backoff=(0.2, 2.0),
            )
            for _ in range(count)
        ]
        for i in range(0, count, 100):
            await asyncio.gather(*(c.start(60) for c in conns[i : i + 100]))
        out.put({"kind": "ready", "n": count})
        await _until(hold_until)
        await asyncio.gather(*(c.close() for c in conns))
        return {"kind": "idle", "n": count}

    out.put(asyncio.run(main()))

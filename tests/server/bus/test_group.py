"""The one consumer-group loop against a real Valkey: nothing acknowledged before it is handled,
gone entries acknowledged and never handled, a dead consumer's entries taken over, a poison
entry dead-lettered after its retries, and a loop that stops when asked."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from server.bus.group import ConsumerGroup, Delivery, Failure
from server.bus.stopping import Stopped, StopSignal
from tests.helpers import S

STREAM = "test:group:stream"
OTHER = "test:group:other"
GROUP = "g"


class Recorder:
    """A handler that notes what it was given, what was still pending meanwhile, and fails as told."""

    def __init__(self, redis: aioredis.Redis, fail: Mapping[bytes, Failure] | None = None) -> None:
        self.redis = redis
        self.fail = dict(fail or {})
        self.seen: list[tuple[str, bytes]] = []
        self.pending_while_handling: list[set[str]] = []
        self.settled: list[tuple[str, list[str], bool]] = []
        self.letters: list[tuple[str, str, int]] = []
        self.hold: asyncio.Event | None = None

    async def handle(self, stream: str, entries: Sequence[Delivery]) -> Mapping[str, Failure]:
        pending: Any = await self.redis.xpending_range(stream, GROUP, "-", "+", 1000)
        self.pending_while_handling.append({p["message_id"].decode() for p in pending})
        if self.hold is not None:
            await self.hold.wait()
        out = {}
        for e in entries:
            self.seen.append((e.id, e.fields[b"v"]))
            if e.fields[b"v"] in self.fail:
                out[e.id] = self.fail[e.fields[b"v"]]
        return out

    def settle(self, pipe: Pipeline, stream: str, entries: Sequence[Delivery], *, dead: bool) -> None:
        self.settled.append((stream, [e.id for e in entries], dead))
        pipe.xdel(stream, *(e.id for e in entries))

    async def put(self, entry: Delivery, reason: str, attempts: int) -> None:
        self.letters.append((entry.id, reason, attempts))


def group(redis: aioredis.Redis, handler: Recorder, consumer: str = "me", **kw: Any) -> ConsumerGroup:
    kw.setdefault("dead_letters", handler)
    return ConsumerGroup(redis, handler, group=GROUP, streams=[STREAM, OTHER], consumer=consumer, **kw)


async def add(redis: aioredis.Redis, *values: bytes, stream: str = STREAM) -> list[str]:
    return [(await redis.xadd(stream, {"v": v})).decode() for v in values]


async def pending(redis: aioredis.Redis, stream: str = STREAM) -> int:
    return int((await redis.xpending(stream, GROUP))["pending"])


async def test_nothing_is_acknowledged_before_it_is_handled(redis: aioredis.Redis) -> None:
    """While the handler works, its entries are pending; once it returns they are acknowledged
    with what it queued beside them, in stream order, the first stream first."""
    handler = Recorder(redis)
    g = group(redis, handler)
    await g.ensure_groups()
    ids = await add(redis, b"a", b"b")
    other = await add(redis, b"c", stream=OTHER)
    read, full = await g.read_new(block_ms=10)
    assert (read, full) == (3, False)
    assert handler.pending_while_handling[0] == set(ids)
    assert [v for _, v in handler.seen] == [b"a", b"b", b"c"]
    assert handler.settled == [(STREAM, ids, False), (OTHER, other, False)]
    assert await pending(redis) == 0 and await redis.xlen(STREAM) == 0


async def test_a_handler_that_raises_leaves_its_batch_pending_for_redelivery(redis: aioredis.Redis) -> None:
    class Down(Recorder):
        async def handle(self, stream: str, entries: Sequence[Delivery]) -> Mapping[str, Failure]:
            raise OSError("disk full")

    g = group(redis, Down(redis))
    await g.ensure_groups()
    ids = await add(redis, b"a", b"b")
    try:
        await g.read_new(block_ms=10)
    except OSError:
        pass
    assert await pending(redis) == 2
    again = Recorder(redis)
    g.handler = again
    assert await g.retry_own() == 0
    assert [i for i, _ in again.seen] == ids and await pending(redis) == 0


async def test_entries_deleted_while_pending_are_acknowledged_and_never_handled(redis: aioredis.Redis) -> None:
    """However a gone entry is met again (own pending, XAUTOCLAIM, XCLAIM of a dead consumer's),
    it is acknowledged and the handler never sees it."""
    handler = Recorder(redis)
    mine = group(redis, handler)
    await mine.ensure_groups()
    own, idle, dead = await add(redis, b"own", b"idle", b"dead")
    await redis.xreadgroup(GROUP, "me", {STREAM: ">"}, count=1)  # own, then it goes
    await redis.xreadgroup(GROUP, "elsewhere-1", {STREAM: ">"}, count=1)  # idle, then it goes
    gone = subprocess.Popen(["true"])
    gone.wait()
    dead_name = f"{socket.gethostname()}-{gone.pid}"
    await redis.xreadgroup(GROUP, dead_name, {STREAM: ">"}, count=1)
    await redis.xdel(STREAM, own, idle, dead)
    assert await pending(redis) == 3
    assert await mine.retry_own() == 0
    taker = group(redis, handler, consumer="taker", claim_idle_ms=0)
    assert await taker.reclaim_dead_local() == 0
    assert await taker.reclaim() == 0
    assert handler.seen == []
    assert await pending(redis) == 0


async def test_a_dead_consumers_pending_entries_are_taken_over(redis: aioredis.Redis) -> None:
    """A member of this host whose process is gone: its entries are handled at once by another,
    and it leaves the group. One elsewhere is taken over only once idle past the bound."""
    handler = Recorder(redis)
    gone = subprocess.Popen(["true"])
    gone.wait()
    dead_name = f"{socket.gethostname()}-{gone.pid}"
    dead = group(redis, Recorder(redis), consumer=dead_name)
    await dead.ensure_groups()
    ids = await add(redis, b"1", b"2", b"3")
    await redis.xreadgroup(GROUP, dead_name, {STREAM: ">"}, count=2)  # read two, then died
    await redis.xreadgroup(GROUP, "other-host-7", {STREAM: ">"}, count=1)  # alive, elsewhere
    alive = group(redis, handler, consumer="alive", claim_idle_ms=60_000)
    assert await alive.reclaim() == 0  # not idle long enough
    assert await alive.reclaim_dead_local() == 2
    assert [i for i, _ in handler.seen] == ids[:2]
    names = [c["name"].decode() for c in await redis.xinfo_consumers(STREAM, GROUP)]
    assert dead_name not in names and "other-host-7" in names
    assert await pending(redis) == 1
    alive.claim_idle_ms = 0
    assert await alive.reclaim() == 1
    assert [i for i, _ in handler.seen] == ids and await pending(redis) == 0


async def test_a_poison_entry_is_dead_lettered_after_its_retries(redis: aioredis.Redis) -> None:
    """An entry that keeps failing is retried up to max_attempts deliveries, then dead-lettered
    and acknowledged (its neighbours are not held up); one that never can be goes at once."""
    handler = Recorder(
        redis, {b"poison": Failure("RuntimeError: boom"), b"malformed": Failure("no narrative", final=True)}
    )
    g = group(redis, handler, max_attempts=3)
    await g.ensure_groups()
    good, poison, malformed = await add(redis, b"good", b"poison", b"malformed")
    await g.read_new(block_ms=10)
    assert handler.letters == [(malformed, "no narrative", 1)]
    assert await pending(redis) == 1  # the poison entry, left for a retry
    assert await g.retry_own() == 1  # attempt 2 fails too
    assert await g.retry_own() == 0  # attempt 3: dead-lettered
    assert handler.letters[1] == (poison, "failed 3 times; last: RuntimeError: boom", 3)
    assert [v for _, v in handler.seen].count(b"poison") == 3 and [v for _, v in handler.seen].count(b"good") == 1
    assert handler.settled[0] == (STREAM, [good], False)
    assert (STREAM, [malformed], True) in handler.settled and (STREAM, [poison], True) in handler.settled
    assert await pending(redis) == 0


async def test_without_a_dead_letter_place_a_failing_entry_is_kept(redis: aioredis.Redis) -> None:
    handler = Recorder(redis, {b"poison": Failure("boom", final=True)})
    g = group(redis, handler, max_attempts=2, dead_letters=None)
    await g.ensure_groups()
    await add(redis, b"poison")
    await g.read_new(block_ms=10)
    assert await g.retry_own() == 1 and await g.retry_own() == 1
    assert await pending(redis) == 1 and handler.letters == []


async def test_the_loop_stops_when_asked_even_while_blocked_on_a_read(redis: aioredis.Redis) -> None:
    handler = Recorder(redis)
    g = group(redis, handler, block_ms=30_000)
    await g.ensure_groups()
    task = asyncio.create_task(g.run())
    ids = await add(redis, b"a")
    deadline = time.monotonic() + 10 * S
    while await pending(redis) or not handler.seen:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # now blocked in XREADGROUP for up to 30 s
    started = time.monotonic()
    g.stop()
    await asyncio.wait_for(task, 5 * S)
    assert time.monotonic() - started < 1.0
    assert not task.cancelled() and task.exception() is None
    assert [i for i, _ in handler.seen] == ids


async def test_a_batch_in_hand_is_finished_before_the_loop_stops(redis: aioredis.Redis) -> None:
    handler = Recorder(redis)
    handler.hold = asyncio.Event()
    g = group(redis, handler, block_ms=50)
    await g.ensure_groups()
    task = asyncio.create_task(g.run())
    await add(redis, b"a", b"b")
    deadline = time.monotonic() + 10 * S
    while not handler.pending_while_handling:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    g.stop()
    await asyncio.sleep(0.05)
    assert not task.done()  # the handler is not cut short
    handler.hold.set()
    await asyncio.wait_for(task, 5 * S)
    assert [v for _, v in handler.seen] == [b"a", b"b"] and await pending(redis) == 0


async def test_a_swallowed_cancellation_still_ends_the_loop() -> None:
    """What redis-py can do under Python 3.11: a read that eats the cancel and returns. The
    loop still ends, at its next turn, because it checks the flag rather than trusting the cancel."""
    stop = StopSignal()
    turns = 0

    async def swallowing_read() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            pass  # as asyncio.wait_for does in 3.11 when its inner future completes at the same time

    async def loop() -> str:
        nonlocal turns
        while not stop.is_set():
            turns += 1
            try:
                with stop.blocking():
                    await swallowing_read()
            except Stopped:
                return "stopped"
        return "flag"

    task = asyncio.create_task(loop())
    await asyncio.sleep(0.05)
    stop.set()
    assert await asyncio.wait_for(task, 1.0) == "flag"
    assert turns == 1
    assert task.cancelling() == 0  # the cancel it sent was taken back


async def test_a_stop_wakes_sleepers_and_interrupts_only_blocking_reads() -> None:
    stop = StopSignal()
    sleeper = asyncio.create_task(stop.sleep(30))
    outside = asyncio.create_task(asyncio.sleep(0.2))  # not in blocking(): never cancelled by a stop

    async def reader() -> None:
        with stop.blocking():
            await asyncio.sleep(30)

    blocked = asyncio.create_task(reader())
    await asyncio.sleep(0.01)
    stop.set()
    assert await asyncio.wait_for(sleeper, 1.0) is True
    try:
        await asyncio.wait_for(blocked, 1.0)
    except Stopped:
        pass
    else:
        raise AssertionError("the blocking read was not cut short")
    await outside
    assert await stop.sleep(30) is True  # once stopped, sleeps end at once

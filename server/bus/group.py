"""One consumer of a consumer group: the loop the archiver and the intake workers share.

A ``ConsumerGroup`` reads a few streams as one member of one group and hands each batch to
a ``GroupHandler``, which knows the domain; the loop knows only entries. Its rules:

- **Acknowledged only once handled.** An entry stays pending until its handler returned
  without naming it as failed; the acknowledgement (and whatever the handler queues beside
  it, ``GroupHandler.settle``) goes in one transaction. A handler that raises leaves its
  whole batch pending, to be delivered again: handlers are idempotent.
- **Gone entries are acknowledged, never handled.** An entry deleted or trimmed while it
  was pending comes back without fields (XREADGROUP, XCLAIM) or among the deleted ids of
  XAUTOCLAIM: there is nothing to handle, so it is acknowledged at once, wherever it was met.
- **Retried, then dead-lettered.** A failed entry is left pending and tried again (about
  every second, every five while some keep failing). Once it has been delivered
  ``max_attempts`` times, or at once if its failure is ``final`` (it can never be handled as
  it is), it goes to the ``DeadLetters`` and is acknowledged. Without ``max_attempts`` it is
  retried for good; without ``DeadLetters`` it is never dropped.
- **Dead consumers are taken over.** Members are named host-pid (``consumers.py``): what a
  member of this host whose process is gone was holding is claimed at once; what any
  member held longer than ``claim_idle_ms`` is claimed with XAUTOCLAIM. Both at start and
  every ``maintain_every`` turns.
- **It stops when asked.** ``stop()`` ends the loop at its next turn (a blocking read is
  cut short); a batch being handled is finished first, never abandoned half way.

Handled in the order of ``streams``: the first stream's batch before the next one's. On a Valkey
Cluster streams are read one slot group at a time (their hash tag): no read may span two slots,
which may live on two shards. One server reads them all at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import NoScriptError, RedisError, ResponseError

from server.bus.connect import is_cluster
from server.bus.consumers import consumer_name, dead_local_consumers
from server.bus.partition import slot_groups
from server.bus.scripts import load_all
from server.bus.stopping import Stopped, StopSignal

__all__ = ["ConsumerGroup", "DeadLetters", "Delivery", "Failure", "GroupHandler", "GroupMember"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One stream entry, as delivered to this consumer."""

    stream: str
    id: str
    fields: Mapping[bytes, bytes]


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a handler could not handle one entry this time.

    ``final``: it never can, as it is (malformed): dead-lettered at once, not retried.
    ``error``: the exception, logged with its traceback while the entry is retried."""

    reason: str
    final: bool = False
    error: Exception | None = None


class GroupHandler(Protocol):
    """The domain side of a consumer group."""

    async def handle(self, stream: str, entries: Sequence[Delivery]) -> Mapping[str, Failure]:
        """Handle a batch of one stream, in order. -> the entries that failed, by id; every other
        one is done. Raise (Redis, the records store down) to leave the whole batch pending."""
        ...

    def settle(self, pipe: Pipeline, stream: str, entries: Sequence[Delivery], *, dead: bool) -> None:
        """Queue what goes with the acknowledgement of ``entries`` (handled, or ``dead``-lettered),
        in the same transaction: delete them from the stream, say. Runs by script hash only
        (``Script.queue``); it may be run twice."""
        ...


class DeadLetters(Protocol):
    """Where entries go that cannot be handled: kept for a person to look at and replay."""

    async def put(self, entry: Delivery, reason: str, attempts: int) -> None: ...


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


Raw = list[tuple[Any, Any]]  # (id, fields or None) as redis-py returns them


class ConsumerGroup:
    def __init__(
        self,
        redis: Redis,
        handler: GroupHandler,
        *,
        group: str,
        streams: Sequence[str],
        consumer: str | None = None,
        batch: int = 100,
        block_ms: int = 1000,
        claim_idle_ms: int = 30_000,
        max_attempts: int | None = None,
        dead_letters: DeadLetters | None = None,
        gather_s: float = 0.0,
        maintain_every: int = 10,
        on_maintain: Callable[[], Awaitable[None]] | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        """``gather_s``: after a batch that was not full, wait this long so that the next entries
        gather into one batch rather than waking for each. ``on_maintain``: more upkeep of the
        domain's, run with the take-overs (at start and every ``maintain_every`` turns)."""
        self.redis = redis
        self.handler = handler
        self.group = group
        self.streams = tuple(streams)
        # On a cluster one read per slot group; one server takes them all in one read.
        self.slot_groups = slot_groups(self.streams) if is_cluster(redis) else [self.streams]
        self.consumer = consumer or consumer_name()
        self.batch = batch
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self.max_attempts = max_attempts
        self.dead_letters = dead_letters
        self.gather_s = gather_s
        self.maintain_every = maintain_every
        self.on_maintain = on_maintain
        self.log = log or logging.getLogger(f"dispatch.group.{group}")
        self.stopping = StopSignal()
        self.beat = 0.0  # monotonic time of the last completed read

    def stop(self) -> None:
        """End ``run`` at its next turn; the caller then awaits it."""
        self.stopping.set()

    async def ensure_groups(self) -> None:
        for stream in self.streams:
            try:
                await self.redis.xgroup_create(stream, self.group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    # ---- one batch ------------------------------------------------------------

    async def _take(self, stream: str, raw: Raw, asked: Sequence[Any] = ()) -> int:
        """Handle what was delivered. ``asked``: ids claimed by name (XCLAIM), of which those
        not delivered are gone. -> entries still failing (left pending for a retry)."""
        entries = [Delivery(stream, _s(sid), fields) for sid, fields in raw if fields]
        delivered = {_s(sid) for sid, fields in raw if fields}
        gone = [_s(sid) for sid, fields in raw if not fields]
        gone += [_s(sid) for sid in asked if _s(sid) not in delivered and _s(sid) not in gone]
        if gone:
            await self._ack_gone(stream, gone)
        if not entries:
            return 0
        failures = await self.handler.handle(stream, entries)
        done = [e for e in entries if e.id not in failures]
        dead: list[Delivery] = []
        retries = 0
        for entry in entries:
            failure = failures.get(entry.id)
            if failure is None:
                continue
            attempts = await self._attempts(entry)
            spent = failure.final or (self.max_attempts is not None and attempts >= self.max_attempts)
            if spent and self.dead_letters is not None:
                reason = failure.reason if failure.final else f"failed {attempts} times; last: {failure.reason}"
                await self.dead_letters.put(entry, reason, attempts)
                dead.append(entry)
                continue
            retries += 1
            self.log.warning(
                "%s: %s %s failed (attempt %d); will retry: %s",
                self.group,
                stream,
                entry.id,
                attempts,
                failure.reason,
                exc_info=failure.error,
            )
        await self._ack(stream, done, dead)
        return retries

    async def _ack(self, stream: str, done: Sequence[Delivery], dead: Sequence[Delivery]) -> None:
        if not done and not dead:
            return

        def queue(pipe: Pipeline) -> None:
            pipe.xack(stream, self.group, *(e.id for e in (*done, *dead)))
            if done:
                self.handler.settle(pipe, stream, done, dead=False)
            if dead:
                self.handler.settle(pipe, stream, dead, dead=True)

        async with self.redis.pipeline(transaction=True) as pipe:
            queue(pipe)
            try:
                await pipe.execute()
                return
            except NoScriptError:  # a fresh Redis: the acknowledgement went through, a script did not
                pass
        await load_all(self.redis)
        async with self.redis.pipeline(transaction=True) as pipe:
            queue(pipe)  # again: every part of it may run twice
            await pipe.execute()

    async def _ack_gone(self, stream: str, ids: Sequence[str]) -> None:
        await self.redis.xack(stream, self.group, *ids)

    async def _attempts(self, entry: Delivery) -> int:
        pending: Any = await self.redis.xpending_range(entry.stream, self.group, min=entry.id, max=entry.id, count=1)
        return int(pending[0]["times_delivered"]) if pending else 1

    # ---- reading ----------------------------------------------------------------

    async def read_new(self, block_ms: int | None = None) -> tuple[int, bool]:
        """Read and handle one batch of new entries of every stream (blocking up to ``block_ms``
        for some to come). -> (entries read, whether a stream's batch was full)."""
        block = self.block_ms if block_ms is None else block_ms
        by_stream: dict[str, Any] = {}
        if len(self.slot_groups) == 1:
            by_stream = await self._read_group(self.slot_groups[0], block)
        else:
            # One read per slot: first each without waiting; if none had anything, wait on each
            # in turn for its share of the time, so an idle loop still waits about ``block``.
            for group in self.slot_groups:
                by_stream.update(await self._read_group(group, None))
            if not by_stream and block:
                share = max(1, block // len(self.slot_groups))
                for group in self.slot_groups:
                    by_stream.update(await self._read_group(group, share))
                    if by_stream:
                        break
        self.beat = time.monotonic()
        read, full = 0, False
        for stream in self.streams:
            entries = by_stream.get(stream)
            if entries:
                await self._take(stream, entries)
                read += len(entries)
                full = full or len(entries) >= self.batch
        return read, full

    async def _read_group(self, streams: tuple[str, ...], block: int | None) -> dict[str, Any]:
        """New entries of streams of one slot, waiting up to ``block`` ms (None: not at all)."""
        with self.stopping.blocking():
            got: Any = await self.redis.xreadgroup(
                self.group, self.consumer, dict.fromkeys(streams, ">"), count=self.batch, block=block
            )
        return {_s(stream): entries for stream, entries in got or []}

    async def retry_own(self) -> int:
        """Everything this consumer was given and has not finished (failed, or read before a
        restart), once more. -> entries still failing."""
        retries = 0
        for group in self.slot_groups:
            retries += await self._retry_own(group)
        return retries

    async def _retry_own(self, streams: tuple[str, ...]) -> int:
        starts = dict.fromkeys(streams, "0")
        retries = 0
        while starts:
            got: Any = await self.redis.xreadgroup(self.group, self.consumer, starts, count=self.batch)  # type: ignore[arg-type]
            by_stream = {_s(stream): entries for stream, entries in got or []}
            for stream in list(starts):
                entries = by_stream.get(stream) or []
                if entries:
                    retries += await self._take(stream, entries)
                if len(entries) < self.batch:
                    del starts[stream]
                else:
                    starts[stream] = _s(entries[-1][0])
        return retries

    async def reclaim(self) -> int:
        """Take over what other consumers have held past ``claim_idle_ms`` (they died, or hang).
        -> entries taken over."""
        total = 0
        for stream in self.streams:
            start = "0-0"
            while True:
                claimed: Any = await self.redis.xautoclaim(
                    stream, self.group, self.consumer, self.claim_idle_ms, start_id=start, count=self.batch
                )
                start, entries = _s(claimed[0]), claimed[1]
                deleted = claimed[2] if len(claimed) > 2 else []
                if deleted:  # gone while pending (Valkey has dropped them from the list already)
                    await self._ack_gone(stream, [_s(i) for i in deleted])
                await self._take(stream, entries)
                total += sum(1 for _, fields in entries if fields)
                if start == "0-0":
                    break
        return total

    async def reclaim_dead_local(self) -> int:
        """Take over at once what members of this host whose process is gone were holding (a
        SIGKILL, a crash), and remove them from the group. -> entries taken over."""
        total = 0
        for stream in self.streams:
            for name in await dead_local_consumers(self.redis, stream, self.group, self.consumer):
                while True:
                    pending: Any = await self.redis.xpending_range(
                        stream, self.group, min="-", max="+", count=self.batch, consumername=name
                    )
                    if not pending:
                        break
                    ids = [p["message_id"] for p in pending]
                    claimed: Any = await self.redis.xclaim(stream, self.group, self.consumer, 0, ids)
                    await self._take(stream, claimed, asked=ids)
                    total += sum(1 for _, fields in claimed if fields)
                await self.redis.xgroup_delconsumer(stream, self.group, name)
                self.log.warning("%s: took over from %s, which died", self.group, name)
        return total

    async def _maintain(self) -> None:
        await self.reclaim_dead_local()
        await self.reclaim()
        if self.on_maintain is not None:
            await self.on_maintain()

    # ---- the loop -------------------------------------------------------------------

    async def run(self) -> None:
        """Until ``stop()``: take over what is left, then read, handle and acknowledge, retrying
        what failed and taking over from dead members as it goes. Redis or the handler failing
        restarts it after a pause (from the start: groups are made again if Redis lost them)."""
        backoff = 0.2
        while not self.stopping.is_set():
            try:
                await self.ensure_groups()
                await self.retry_own()
                await self._maintain()
                turns, retry_at = 0, 0.0
                while not self.stopping.is_set():
                    _, full = await self.read_new()
                    turns += 1
                    now = time.monotonic()
                    if now >= retry_at:
                        retry_at = now + (5.0 if await self.retry_own() else 1.0)
                    if turns % self.maintain_every == 0:
                        await self._maintain()
                    backoff = 0.2
                    if not full and self.gather_s > 0:
                        await self.stopping.sleep(self.gather_s)
            except Stopped:
                return
            except (RedisError, OSError) as exc:
                # NOGROUP after Redis lost its data lands here too: groups are made again.
                if self.stopping.is_set():
                    return
                self.log.error("%s: %s; retrying in %.1fs", self.group, exc, backoff)
                await self.stopping.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            except Exception:
                self.log.exception("%s failed; retrying in %.1fs", self.group, backoff)
                await self.stopping.sleep(backoff)
                backoff = min(backoff * 2, 5.0)


class GroupMember:
    """What a member of a consumer group offers its owner, the same for every member (the
    archiver, an intake worker): who it is, its last sign of life, and its running. The member
    makes ``self.group`` and is its handler."""

    group: ConsumerGroup

    @property
    def consumer(self) -> str:
        return self.group.consumer

    @property
    def beat(self) -> float:
        return self.group.beat

    async def ensure_groups(self) -> None:
        await self.group.ensure_groups()

    async def reclaim(self) -> int:
        """Take over entries another consumer has held past the claim bound (it died). -> count."""
        return await self.group.reclaim()

    async def reclaim_dead_local(self) -> int:
        """Take over at once what consumers on this host whose process is gone were holding."""
        return await self.group.reclaim_dead_local()

    async def run(self) -> None:
        """Until ``stop()``."""
        await self.group.run()

    def stop(self) -> None:
        self.group.stop()

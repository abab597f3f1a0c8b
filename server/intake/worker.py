"""Intake workers: a consumer group that files each queued submission exactly once.

Delivery is at least once: an entry stays pending until it is filed, and a
worker that dies holding entries has them taken over (at once if it was on
this host and its process is gone, else after ``claim_idle_ms``). Filing is
idempotent by the entry's reference (the records store refuses a second row
with it; a referral's call has an id made from it), so at-least-once
delivery files exactly once. An entry that cannot be filed as it is goes to
the dead-letter list at once; one that keeps failing goes there after
``max_attempts``. Staff see the list and replay entries from it.

``dispatch serve`` runs the workers as their own processes at a lower CPU
priority (nice), so intake only takes the capacity that dispatch leaves
over: ``python -m server.intake`` runs one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import msgspec
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

from server.bus.group import ConsumerGroup, Delivery, Failure, GroupMember
from server.bus.partition import Partition
from server.intake.attachments import sweep_orphans
from server.intake.lane import COMPLAINTS, GROUP, INTAKE_STREAMS, IntakeStream
from server.records.intake import IntakeRecords
from server.records.store import RecordsStore

__all__ = ["AlreadyReplayed", "Entry", "Filer", "IntakeWorker", "Malformed", "Sidecar", "replay_dead_letter"]

log = logging.getLogger("dispatch.intake")

SWEEP_EVERY_S = 3600.0  # attachment files nothing names are looked for about hourly
FIRST_SWEEP_S = 60.0


class AlreadyReplayed(Exception):
    pass


class Malformed(Exception):
    """The entry can never be filed as it is: straight to the dead-letter list."""


@dataclass(frozen=True, slots=True)
class Entry:
    lane: IntakeStream
    id: str
    fields: dict[str, str]

    @property
    def ref(self) -> str:
        return self.fields.get("ref", "")

    def need(self, name: str) -> str:
        value = self.fields.get(name)
        if not value:
            raise Malformed(f"the entry has no {name!r}")
        return value


Filer = Callable[[Entry], Awaitable[None]]


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _fields(raw: Mapping[Any, Any]) -> dict[str, str]:
    return {_s(k): _s(v) for k, v in raw.items()}


def _lanes(part: Partition) -> dict[str, IntakeStream]:
    """The lanes of a partition by their stream."""
    return {at.stream: at for at in (lane.at(part) for lane in INTAKE_STREAMS)}


async def replay_dead_letter(
    redis: Redis, store: RecordsStore, letter_id: int, by: str, part: Partition | None = None
) -> str | None:
    """Queue a dead letter's entry again, as it was. -> the new entry id, or None if there is no such letter.

    Filing stays idempotent by the entry's reference, so replaying one that was
    filed after all files nothing twice."""
    letter = await store.dead_letter(letter_id)
    if letter is None:
        return None
    lane = next((s for s in INTAKE_STREAMS if s.name == letter.stream), None)
    if lane is None:
        return None
    lane = lane.at(part if part is not None else Partition())
    fields: dict[Any, Any] = dict(letter.fields)
    fields["replay_of"] = str(letter_id)
    records = IntakeRecords(store)
    # Claimed first (one replay however many press the button at once), then queued.
    if not await records.claim_replay(letter_id, by):
        raise AlreadyReplayed(f"dead letter {letter_id} was replayed already")
    entry_id = ""
    try:
        entry_id = _s(await redis.xadd(lane.stream, fields))
    finally:
        if not entry_id:  # not queued (Redis down, or cancelled): it may be replayed again
            await records.release_replay(letter_id)
    await store.audit(by, "intake.replay", letter.ref or str(letter_id), f"{lane.name} {entry_id}")
    return entry_id


class Sidecar(Protocol):
    """A loop of the intake lane that runs while the worker does (the case clocks' sweep)."""

    async def run(self, every_s: float = 1.0) -> None: ...

    def stop(self) -> None: ...


class IntakeWorker(GroupMember):
    """One member of the intake group: files entries with the filer of their lane."""

    def __init__(
        self,
        redis: Redis,
        store: RecordsStore,
        filers: dict[str, Filer],
        *,
        consumer: str | None = None,
        batch: int = 20,
        claim_idle_ms: int = 30_000,
        max_attempts: int = 5,
        block_ms: int = 1000,
        attachments: Path | None = None,
        orphan_age_s: float = 86_400.0,
        sidecars: Sequence[Sidecar] = (),
        part: Partition | None = None,
    ) -> None:
        self.redis = redis
        self.part = part if part is not None else Partition()
        self.lanes = _lanes(self.part)
        self.store = store
        self.records = IntakeRecords(store)
        self.filers = filers  # by stream name
        self.sidecars = list(sidecars)  # loops of the intake lane that run beside it (case clocks)
        self.attachments = attachments  # swept of files nothing names, about hourly
        self.orphan_age_s = orphan_age_s
        self.filed = 0
        self.dead = 0
        self._sweep_at = time.monotonic() + FIRST_SWEEP_S
        self.group = ConsumerGroup(
            redis,
            self,
            group=GROUP,
            streams=list(self.lanes),
            consumer=consumer,
            batch=batch,
            block_ms=block_ms,
            claim_idle_ms=claim_idle_ms,
            max_attempts=max_attempts,
            dead_letters=self,
            on_maintain=self._sweep_when_due,
            log=log,
        )

    # ---- the group's handler ------------------------------------------------------

    def _entry(self, delivery: Delivery) -> Entry:
        return Entry(self.lanes[delivery.stream], delivery.id, _fields(delivery.fields))

    async def handle(self, stream: str, entries: Sequence[Delivery]) -> Mapping[str, Failure]:
        """File each entry in turn. Redis or the disk failing stops the batch (left pending)."""
        failures: dict[str, Failure] = {}
        for delivery in entries:
            failure = await self._file(self._entry(delivery))
            if failure is None:
                self.filed += 1
            else:
                failures[delivery.id] = failure
        return failures

    async def _file(self, entry: Entry) -> Failure | None:
        filer = self.filers.get(entry.lane.name)
        try:
            if filer is None:
                raise Malformed(f"no filer for {entry.lane.name}")
            await filer(entry)  # its writes are one transaction of the store: whole, or not at all
        except Malformed as exc:
            return Failure(str(exc), final=True)
        except (RedisError, OSError):
            raise
        except Exception as exc:
            return Failure(f"{type(exc).__name__}: {exc}", error=exc)
        return None

    def settle(self, pipe: Pipeline, stream: str, entries: Sequence[Delivery], *, dead: bool) -> None:
        """Forget what was handled: a filed entry (personal information) does not stay in Redis.
        A dead letter keeps its receipt: its reference still answers "received" to whoever holds it."""
        pipe.xdel(stream, *(e.id for e in entries))
        if not dead:
            lane = self.lanes[stream]
            pipe.hdel(lane.receipts, *(_s(e.fields.get(b"ref", b"-")) or "-" for e in entries))

    async def put(self, entry: Delivery, reason: str, attempts: int) -> None:
        """The dead-letter list (in the records store): staff see it and replay from it."""
        found = self._entry(entry)
        await self.records.put_dead_letter(found.lane.name, found.id, found.ref, found.fields, reason, attempts)
        self.dead += 1
        log.warning("intake: %s %s to the dead-letter list: %s", found.lane.name, found.id, reason)

    # ---- orphan attachments -----------------------------------------------

    async def sweep_attachments(self, folder: Path, older_than_s: float) -> int:
        """Remove attachment files nothing names: no complaint, no queued entry, no dead letter.
        -> how many. Only files older than ``older_than_s``, so none is taken from a submission
        still on its way (a file is kept just before its entry is queued)."""
        named = await self.store.attachment_digests()
        entries: Any = await self.redis.xrange(COMPLAINTS.at(self.part).stream)
        for _, fields in entries:
            try:
                for item in msgspec.json.decode(_fields(fields).get("attachments", "[]")):
                    named.add(str(item["sha256"]))
            except (msgspec.DecodeError, KeyError, TypeError):
                continue
        removed = await asyncio.to_thread(sweep_orphans, folder, named, time.time(), older_than_s)
        if removed:
            log.info("intake: removed %d attachment files no submission names", len(removed))
        return len(removed)

    async def _sweep_when_due(self) -> None:
        if self.attachments is None or time.monotonic() < self._sweep_at:
            return
        self._sweep_at = time.monotonic() + SWEEP_EVERY_S
        await self.sweep_attachments(self.attachments, self.orphan_age_s)

    # ---- running -------------------------------------------------------------

    async def run_once(self, block_ms: int | None = None) -> int:
        """Read and file one batch of new entries. -> entries handled."""
        read, _ = await self.group.read_new(block_ms)
        return read

    async def retry_own(self) -> int:
        """Entries this consumer was given and has not finished (an earlier attempt failed).
        -> how many still fail."""
        return await self.group.retry_own()

    async def run(self) -> None:
        """Until ``stop()``: the group's loop, with the sidecars beside it."""
        sides = [asyncio.create_task(s.run(), name=f"intake-{type(s).__name__}") for s in self.sidecars]
        try:
            await self.group.run()
        finally:
            for s in self.sidecars:
                s.stop()
            if sides:
                await asyncio.wait(sides, timeout=5.0)
                for task in sides:
                    task.cancel()

    def stop(self) -> None:
        self.group.stop()
        for s in self.sidecars:
            s.stop()

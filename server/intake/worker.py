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
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from server.bus.consumers import consumer_name, dead_local_consumers
from server.intake.attachments import sweep_orphans
from server.intake.lane import COMPLAINTS, GROUP, INTAKE_STREAMS, IntakeStream
from server.records.store import RecordsStore

__all__ = ["AlreadyReplayed", "Entry", "Filer", "IntakeWorker", "Malformed", "replay_dead_letter"]

log = logging.getLogger("dispatch.intake")


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


async def replay_dead_letter(redis: Redis, store: RecordsStore, letter_id: int, by: str) -> str | None:
    """Queue a dead letter's entry again, as it was. -> the new entry id, or None if there is no such letter.

    Filing stays idempotent by the entry's reference, so replaying one that was
    filed after all files nothing twice."""
    async with store.db.execute("SELECT stream, fields, ref FROM intake_dead_letters WHERE id=?", (letter_id,)) as cur:
        row = await cur.fetchone()
    if row is None:
        return None
    lane = next((s for s in INTAKE_STREAMS if s.name == row[0]), None)
    if lane is None:
        return None
    fields = json.loads(row[1])
    fields["replay_of"] = str(letter_id)
    # Claimed first (one replay however many press the button at once), then queued.
    claimed = await store.db.execute(
        "UPDATE intake_dead_letters SET replayed_at=?, replayed_by=? WHERE id=? AND replayed_at IS NULL",
        (int(time.time() * 1000), by, letter_id),
    )
    await store.db.commit()
    if claimed.rowcount == 0:
        raise AlreadyReplayed(f"dead letter {letter_id} was replayed already")
    try:
        entry_id = _s(await redis.xadd(lane.stream, fields))
    except BaseException:
        await store.db.execute(
            "UPDATE intake_dead_letters SET replayed_at=NULL, replayed_by=NULL WHERE id=?", (letter_id,)
        )
        await store.db.commit()
        raise
    await store.audit(by, "intake.replay", row[2] or str(letter_id), f"{lane.name} {entry_id}")
    return entry_id


class IntakeWorker:
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
    ) -> None:
        self.redis = redis
        self.store = store
        self.filers = filers  # by stream name
        self.consumer = consumer or consumer_name()
        self.batch = batch
        self.claim_idle_ms = claim_idle_ms
        self.max_attempts = max_attempts
        self.block_ms = block_ms
        self.attachments = attachments  # swept of files nothing names, about hourly
        self.orphan_age_s = orphan_age_s
        self.filed = 0
        self.dead = 0
        self.beat = 0.0

    async def ensure_groups(self) -> None:
        for lane in INTAKE_STREAMS:
            try:
                await self.redis.xgroup_create(lane.stream, GROUP, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    # ---- one entry ------------------------------------------------------

    async def _done(self, entry: Entry, *, filed: bool = True) -> None:
        """Acknowledge and forget: a handled entry (personal information) does not stay in Redis.
        A dead letter keeps its receipt: its reference still answers "received" to whoever holds it."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xack(entry.lane.stream, GROUP, entry.id)
            pipe.xdel(entry.lane.stream, entry.id)
            if filed:
                pipe.hdel(entry.lane.receipts, entry.ref or "-")
            await pipe.execute()

    async def _dead_letter(self, entry: Entry, reason: str, attempts: int) -> None:
        await self.store.db.execute(
            "INSERT OR IGNORE INTO intake_dead_letters(stream, entry_id, ref, fields, reason, attempts, at)"
            " VALUES (?,?,?,?,?,?,?)",
            (
                entry.lane.name,
                entry.id,
                entry.ref,
                json.dumps(entry.fields),
                reason[:2000],
                attempts,
                int(time.time() * 1000),
            ),
        )
        await self.store.audit("intake", "intake.dead_letter", entry.ref or entry.id, reason[:500], commit=False)
        await self.store.db.commit()
        await self._done(entry, filed=False)
        self.dead += 1
        log.warning("intake: %s %s to the dead-letter list: %s", entry.lane.name, entry.id, reason)

    async def _attempts(self, entry: Entry) -> int:
        pending: Any = await self.redis.xpending_range(entry.lane.stream, GROUP, min=entry.id, max=entry.id, count=1)
        return int(pending[0]["times_delivered"]) if pending else 1

    async def handle(self, entry: Entry) -> str:
        """File one entry. -> "filed", "dead" or "retry" (left pending for a later attempt)."""
        if not entry.fields:  # deleted while pending: nothing left to file
            await self._done(entry)
            return "filed"
        filer = self.filers.get(entry.lane.name)
        try:
            if filer is None:
                raise Malformed(f"no filer for {entry.lane.name}")
            await filer(entry)
            if self.store.db.in_transaction:  # a filer that returned has filed: never leave a write open
                await self.store.db.commit()
        except Malformed as exc:
            await self._rollback()
            await self._dead_letter(entry, str(exc), await self._attempts(entry))
            return "dead"
        except (RedisError, OSError, asyncio.CancelledError):
            await self._rollback()
            raise
        except Exception as exc:
            await self._rollback()
            attempts = await self._attempts(entry)
            if attempts >= self.max_attempts:
                await self._dead_letter(entry, f"failed {attempts} times; last: {type(exc).__name__}: {exc}", attempts)
                return "dead"
            log.exception("intake: filing %s %s failed (attempt %d); will retry", entry.lane.name, entry.id, attempts)
            return "retry"
        await self._done(entry)
        self.filed += 1
        return "filed"

    async def _rollback(self) -> None:
        try:
            await self.store.db.rollback()
        except Exception:
            log.exception("intake: rollback failed")

    async def _handle_all(self, lane: IntakeStream, entries: list[Any]) -> int:
        retries = 0
        for sid, raw in entries:
            if await self.handle(Entry(lane, _s(sid), _fields(raw or {}))) == "retry":
                retries += 1
        return retries

    # ---- taking over ------------------------------------------------------

    async def retry_own(self) -> int:
        """Entries this consumer was given and has not finished (an earlier attempt failed)."""
        retries = 0
        for lane in INTAKE_STREAMS:
            reply: Any = await self.redis.xreadgroup(GROUP, self.consumer, {lane.stream: "0"}, count=self.batch)
            entries = reply[0][1] if reply else []
            retries += await self._handle_all(lane, entries)
        return retries

    async def reclaim(self) -> int:
        """Take over entries another consumer has held past ``claim_idle_ms``. -> count."""
        total = 0
        for lane in INTAKE_STREAMS:
            start = "0-0"
            while True:
                claimed: Any = await self.redis.xautoclaim(
                    lane.stream, GROUP, self.consumer, self.claim_idle_ms, start_id=start, count=self.batch
                )
                start, entries = _s(claimed[0]), claimed[1]
                await self._handle_all(lane, entries)
                total += len(entries)
                for gone in claimed[2] if len(claimed) > 2 else []:  # deleted while pending
                    await self.redis.xack(lane.stream, GROUP, gone)
                if start == "0-0":
                    break
        return total

    async def reclaim_dead_local(self) -> int:
        """Take over at once what consumers on this host whose process is gone were holding."""
        total = 0
        for lane in INTAKE_STREAMS:
            for name in await dead_local_consumers(self.redis, lane.stream, GROUP, self.consumer):
                while True:
                    pending: Any = await self.redis.xpending_range(
                        lane.stream, GROUP, min="-", max="+", count=self.batch, consumername=name
                    )
                    if not pending:
                        break
                    ids = [p["message_id"] for p in pending]
                    claimed: Any = await self.redis.xclaim(lane.stream, GROUP, self.consumer, 0, ids)
                    await self._handle_all(lane, claimed)
                    total += len(claimed)
                    got = {_s(entry[0]) for entry in claimed}
                    gone = [i for i in ids if _s(i) not in got]
                    if gone:  # deleted while pending: nothing to file (only those: others may await a retry)
                        await self.redis.xack(lane.stream, GROUP, *gone)
                await self.redis.xgroup_delconsumer(lane.stream, GROUP, name)
                log.warning("intake: took over from %s, which died", name)
        return total

    # ---- orphan attachments -----------------------------------------------

    async def sweep_attachments(self, folder: Path, older_than_s: float) -> int:
        """Remove attachment files nothing names: no complaint, no queued entry, no dead letter.
        -> how many. Only files older than ``older_than_s``, so none is taken from a submission
        still on its way (a file is kept just before its entry is queued)."""
        named = await self.store.attachment_digests()
        entries: Any = await self.redis.xrange(COMPLAINTS.stream)
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

    # ---- the loop ---------------------------------------------------------

    async def run_once(self, block_ms: int | None = None) -> int:
        """Read and file one batch of new entries. -> entries handled."""
        got: Any = await self.redis.xreadgroup(
            GROUP,
            self.consumer,
            {lane.stream: ">" for lane in INTAKE_STREAMS},
            count=self.batch,
            block=self.block_ms if block_ms is None else block_ms,
        )
        self.beat = time.monotonic()
        by_stream = {lane.stream: lane for lane in INTAKE_STREAMS}
        handled = 0
        order = {lane.stream: i for i, lane in enumerate(INTAKE_STREAMS)}
        for stream, entries in sorted(got or [], key=lambda r: order[_s(r[0])]):
            await self._handle_all(by_stream[_s(stream)], entries)
            handled += len(entries)
        return handled

    async def run(self) -> None:
        backoff = 0.2
        while True:
            try:
                await self.ensure_groups()
                await self.reclaim_dead_local()
                await self.reclaim()
                retry_at = 0.0
                sweep_at = time.monotonic() + 60.0
                ticks = 0
                while True:
                    await self.run_once()
                    ticks += 1
                    now = time.monotonic()
                    if now >= retry_at:
                        retry_at = now + (5.0 if await self.retry_own() else 1.0)
                    if self.attachments is not None and now >= sweep_at:
                        sweep_at = now + 3600.0
                        await self.sweep_attachments(self.attachments, self.orphan_age_s)
                    if ticks % 10 == 0:
                        await self.reclaim_dead_local()
                        await self.reclaim()
                    backoff = 0.2
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                log.error("intake worker: %s; retrying in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            except Exception:
                log.exception("intake worker failed; retrying")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

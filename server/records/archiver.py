"""The archiver: a consumer group that writes every event into SQLite once.

Each hub process is one consumer of the group ``archiver`` on every topic
stream. Entries are acknowledged only after they are committed to SQLite;
the insert ignores ids already archived, so redelivery after a crash (our
own pending entries, or a dead consumer's reclaimed with XAUTOCLAIM) never
duplicates a record.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgspec
from redis.asyncio import Redis
from redis.exceptions import NoScriptError, RedisError, ResponseError

from protocol.codec import event_decoder
from server.bus.consumers import consumer_name, dead_local_consumers
from server.bus.log import TRIM_ARCHIVED, history_length
from server.bus.topics import TOPICS, Topic
from server.config import Settings
from server.metrics import HubMetrics
from server.records.store import ArchivedEvent, RecordsStore

__all__ = ["GROUP", "Archiver"]

log = logging.getLogger("dispatch.archiver")

GROUP = "archiver"


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Archiver:
    def __init__(
        self,
        redis: Redis,
        store: RecordsStore,
        metrics: HubMetrics,
        settings: Settings,
        *,
        batch: int = 500,
        claim_idle_ms: int = 30_000,
        consumer: str | None = None,
    ) -> None:
        self.redis = redis
        self.settings = settings
        self._trim = redis.register_script(TRIM_ARCHIVED)
        self.store = store
        self.metrics = metrics
        self.batch = batch
        self.claim_idle_ms = claim_idle_ms
        self.consumer = consumer or consumer_name()
        self.beat = 0.0
        self.lag = 0

    async def ensure_groups(self) -> None:
        for topic in TOPICS:
            try:
                await self.redis.xgroup_create(topic.stream, GROUP, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    async def _store(self, topic: Topic, entries: list[Any]) -> None:
        if not entries:
            return
        epoch = _s(await self.redis.get(topic.epoch) or b"")
        rows = []
        ids = []
        for sid, fields in entries:
            if not fields:  # trimmed while pending: nothing left to archive
                ids.append(sid)
                continue
            raw = fields.get(b"e", b"")
            try:
                event = event_decoder.decode(raw)
                kind, by, ts = str(type(event).__struct_config__.tag), event.by, event.ts
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                # Keep it, raw, rather than stall the archive or lose it.
                log.error("archiving undecodable event %s on %s as is: %s", _s(sid), topic.name, exc)
                self.metrics.bad_events.inc()
                kind, by, ts = "undecodable", "", 0
            rows.append(ArchivedEvent(topic.name, _s(sid), epoch, kind, by, ts, raw))
            ids.append(sid)
        added = await self.store.archive(rows)
        self.metrics.archived.inc(added)
        # One round trip: the ack and the trim by its hash (a pipeline given the script
        # itself would ask Redis whether it has it first, every time).
        length = history_length(self.settings, topic)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xack(topic.stream, GROUP, *ids)
            pipe.evalsha(self._trim.sha, 1, topic.stream, length, GROUP)
            try:
                await pipe.execute()
            except NoScriptError:  # a fresh Redis: the ack went through; trim loading the script
                await self._trim(keys=[topic.stream], args=[length, GROUP])

    async def _drain_own_pending(self) -> None:
        for topic in TOPICS:
            start = "0"
            while True:
                reply: Any = await self.redis.xreadgroup(GROUP, self.consumer, {topic.stream: start}, count=self.batch)
                entries = reply[0][1] if reply else []
                if not entries:
                    break
                await self._store(topic, entries)
                start = _s(entries[-1][0])

    async def reclaim(self) -> int:
        """Take over entries another consumer has held too long (it died). -> count."""
        total = 0
        for topic in TOPICS:
            start = "0-0"
            while True:
                claimed: Any = await self.redis.xautoclaim(
                    topic.stream, GROUP, self.consumer, self.claim_idle_ms, start_id=start, count=self.batch
                )
                start, entries = _s(claimed[0]), claimed[1]
                await self._store(topic, entries)
                total += len(entries)
                if start == "0-0":
                    break
        return total

    async def reclaim_dead_local(self) -> int:
        """Take over at once what consumers of this host whose process is gone were holding.

        Consumers are named host-pid; one on this host without a live process
        died (SIGKILL, a crash). Others are reclaimed by ``reclaim`` after idling.
        """
        total = 0
        for topic in TOPICS:
            for name in await dead_local_consumers(self.redis, topic.stream, GROUP, self.consumer):
                while True:
                    pending: Any = await self.redis.xpending_range(
                        topic.stream, GROUP, min="-", max="+", count=self.batch, consumername=name
                    )
                    if not pending:
                        break
                    ids = [p["message_id"] for p in pending]
                    claimed: Any = await self.redis.xclaim(topic.stream, GROUP, self.consumer, 0, ids)
                    await self._store(topic, claimed)
                    total += len(claimed)
                    if len(claimed) < len(ids):  # trimmed while pending: ack what is gone
                        await self.redis.xack(topic.stream, GROUP, *ids)
                await self.redis.xgroup_delconsumer(topic.stream, GROUP, name)
                log.warning("archiver: took over %s, which died", name)
        return total

    async def measure_lag(self) -> int:
        lag = 0
        for topic in TOPICS:
            for group in await self.redis.xinfo_groups(topic.stream):
                if _s(group["name"]) == GROUP:
                    lag += int(group.get("lag") or 0) + int(group.get("pending") or 0)
        self.lag = lag
        self.metrics.archiver_lag.set(lag)
        return lag

    async def run(self) -> None:
        backoff = 0.2
        while True:
            try:
                await self.ensure_groups()
                await self._drain_own_pending()
                await self.reclaim_dead_local()
                await self.reclaim()
                ticks = 0
                while True:
                    got: Any = await self.redis.xreadgroup(
                        GROUP, self.consumer, {t.stream: ">" for t in TOPICS}, count=self.batch, block=1000
                    )
                    self.beat = asyncio.get_running_loop().time()
                    by_name = {t.stream: t for t in TOPICS}
                    full = False
                    for stream, entries in sorted(got or [], key=lambda r: by_name[_s(r[0])].lane):
                        await self._store(by_name[_s(stream)], entries)
                        full = full or len(entries) >= self.batch
                    if not full:
                        # Caught up: let the next events gather into one batch rather than
                        # waking (and committing) for each as it comes.
                        await asyncio.sleep(self.settings.archive_every_s)
                    ticks += 1
                    if ticks % 10 == 0:
                        await self.reclaim_dead_local()
                        await self.reclaim()
                        await self.measure_lag()
                    backoff = 0.2
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                # NOGROUP after Redis lost its data lands here too: groups are
                # made again on the next pass.
                log.error("archiver: %s; retrying in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            except Exception:
                log.exception("archiver failed; retrying")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

"""The archiver: a consumer group that writes every event into SQLite once.

Each hub process is one consumer of the group ``archiver`` on every topic
stream, through the bus's one consumer-group loop (``server/bus/group.py``:
reading, acknowledging, taking over from dead consumers, stopping). Entries
are acknowledged only after they are committed to SQLite; the insert ignores
ids already archived, so redelivery after a crash (our own pending entries,
or a dead consumer's taken over) never duplicates a record. The archive
loses nothing: a batch that cannot be written is retried for good, never
dead-lettered, and an event this hub cannot decode is archived as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from protocol.codec import event_decoder
from server.bus.group import ConsumerGroup, Delivery, Failure, GroupMember
from server.bus.log import history_length
from server.bus.partition import Partition
from server.bus.scripts import TRIM_ARCHIVED
from server.bus.topics import TOPICS, Topic
from server.config import Settings
from server.metrics import HubMetrics
from server.records.store import ArchivedEvent, RecordsStore

__all__ = ["GROUP", "Archiver"]

log = logging.getLogger("dispatch.archiver")

GROUP = "archiver"
_ALARMS_FIRST = tuple(sorted(TOPICS, key=lambda t: t.lane))


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Archiver(GroupMember):
    def __init__(
        self,
        redis: Redis,
        store: RecordsStore,
        metrics: HubMetrics,
        settings: Settings,
        *,
        part: Partition | None = None,
        batch: int = 2000,
        claim_idle_ms: int = 30_000,
        consumer: str | None = None,
    ) -> None:
        self.redis = redis
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self.lag = 0
        self.part = part if part is not None else Partition(settings.partition)
        self.group = ConsumerGroup(
            redis,
            self,
            group=GROUP,
            streams=self.part.streams(_ALARMS_FIRST),
            consumer=consumer,
            batch=batch,
            claim_idle_ms=claim_idle_ms,
            gather_s=settings.archive_every_s,
            on_maintain=self._measure,
            log=log,
        )

    # ---- the group's handler ------------------------------------------------------

    async def handle(self, stream: str, entries: Sequence[Delivery]) -> Mapping[str, Failure]:
        """Archive a batch of one topic in one transaction; nothing fails alone."""
        topic = self.part.topic_of_stream(stream)
        assert topic is not None, stream
        epoch = _s(await self.redis.get(self.part.keys(topic).epoch) or b"")
        rows = []
        for entry in entries:
            raw = entry.fields.get(b"e", b"")
            event: Any = None
            try:
                event = event_decoder.decode(raw)
                kind, by, ts = str(type(event).__struct_config__.tag), event.by, event.ts
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                # Keep it, raw, rather than stall the archive or lose it.
                log.error("archiving undecodable event %s on %s as is: %s", entry.id, topic.name, exc)
                self.metrics.bad_events.inc()
                kind, by, ts = "undecodable", "", 0
            rows.append(ArchivedEvent(topic.name, entry.id, epoch, kind, by, ts, raw, event))
        self.metrics.archived.inc(await self.store.archive(rows))
        return {}

    def settle(self, pipe: Pipeline, stream: str, entries: Sequence[Delivery], *, dead: bool) -> None:
        """With the acknowledgement, trim the stream to its history length: never past what is
        acknowledged, so no event leaves Redis before it is archived."""
        topic = self.part.topic_of_stream(stream)
        assert topic is not None, stream
        TRIM_ARCHIVED.queue(pipe, (stream,), (history_length(self.settings, topic), GROUP))

    # ---- running -----------------------------------------------------------------

    async def _store(self, topic: Topic, raw: list[Any]) -> None:
        """Archive and acknowledge entries read by hand (a test's stand-in for the loop)."""
        await self.group._take(self.part.stream(topic), raw)

    async def _drain_own_pending(self) -> None:
        """Archive what this consumer read and did not acknowledge (before a crash)."""
        await self.group.retry_own()

    async def measure_lag(self) -> int:
        lag = 0
        for topic in TOPICS:
            for group in await self.redis.xinfo_groups(self.part.stream(topic)):
                if _s(group["name"]) == GROUP:
                    lag += int(group.get("lag") or 0) + int(group.get("pending") or 0)
        self.lag = lag
        self.metrics.archiver_lag.set(lag)
        return lag

    async def _measure(self) -> None:
        await self.measure_lag()

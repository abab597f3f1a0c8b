"""The bus: one atomic Redis step per command, history, snapshots, resume.

``commit`` runs one Lua script that (optionally) checks the version of the
state record, writes it, (optionally) moves the unit on the GEO index, and
appends the event to the topic's stream, all at once, returning the stream
id (the offset) and the topic's epoch. The epoch is made when a stream is
first written; if Redis loses the stream, it loses the epoch beside it, and
the next write makes a new one, so clients can tell a gap from continuity.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from redis.asyncio import Redis

from protocol.codec import event_decoder, event_encoder
from protocol.events import Event, RadioLogged
from protocol.messages import SnapshotItem
from server.config import Settings
from server.topics import Topic, parse_offset

__all__ = ["TRIM_ARCHIVED", "Bus", "Conflict", "History", "Snapshot", "history_length"]

_COMMIT = """
-- KEYS: stream, epoch, state, versions, [geo]
-- ARGV: maxlen, epoch_candidate, event, field, state_value, expected_version, lon, lat
local epoch = redis.call('GET', KEYS[2])
if not epoch then
  epoch = ARGV[2]
  redis.call('SET', KEYS[2], epoch)
end
if ARGV[4] ~= '' then
  local v = tonumber(redis.call('HGET', KEYS[4], ARGV[4]) or '0')
  if ARGV[6] ~= '' and v ~= tonumber(ARGV[6]) then
    return {'CONFLICT', tostring(v)}
  end
  redis.call('HSET', KEYS[3], ARGV[4], ARGV[5])
  redis.call('HSET', KEYS[4], ARGV[4], v + 1)
  if #KEYS >= 5 then
    redis.call('GEOADD', KEYS[5], ARGV[7], ARGV[8], ARGV[4])
  end
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[3])
return {id, epoch}
"""


# Run by the archiver after each batch: trim a stream to its history length,
# but never past what the archiver group has acknowledged, so no event leaves
# Redis before it is in the records store.
# KEYS: stream; ARGV: history length, group. Returns entries trimmed.
TRIM_ARCHIVED = """
local excess = redis.call('XLEN', KEYS[1]) - tonumber(ARGV[1])
if excess <= 0 then return 0 end
local pending = redis.call('XPENDING', KEYS[1], ARGV[2])
local upto
if tonumber(pending[1]) > 0 then
  upto = '(' .. pending[2]
else
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
    local name, last
    for i = 1, #g, 2 do
      if g[i] == 'name' then name = g[i + 1] end
      if g[i] == 'last-delivered-id' then last = g[i + 1] end
    end
    if name == ARGV[2] then upto = last end
  end
end
if not upto then return 0 end
local old = redis.call('XRANGE', KEYS[1], '-', upto, 'COUNT', excess + 1)
if #old <= 1 then return 0 end
return redis.call('XTRIM', KEYS[1], 'MINID', old[#old][1])
"""


def history_length(settings: Settings, topic: Topic) -> int:
    """Events kept per topic for resume (once archived)."""
    return settings.history_maxlen if topic.replay else settings.positions_maxlen


class Conflict(Exception):
    """The state record changed since it was read (optimistic check failed)."""

    def __init__(self, version: int) -> None:
        super().__init__(f"record is at version {version}")
        self.version = version


@dataclass(slots=True)
class Snapshot:
    topic: str
    epoch: str
    offset: str
    items: list[SnapshotItem]


@dataclass(slots=True)
class History:
    """What a client missed, or None entries when it must resync."""

    epoch: str
    entries: list[tuple[str, Event]]


_record_decoder: msgspec.msgpack.Decoder[SnapshotItem] = msgspec.msgpack.Decoder(SnapshotItem)


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Bus:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        self._commit = redis.register_script(_COMMIT)

    def maxlen(self, topic: Topic) -> int:
        """The hard cap on a stream: only reached if the archiver stops for long."""
        return history_length(self.settings, topic) * self.settings.history_hard_cap_factor

    async def commit(
        self,
        topic: Topic,
        event: Event,
        *,
        record: tuple[str, bytes] | None = None,
        expect_version: int | None = None,
        geo: tuple[float, float] | None = None,
    ) -> tuple[str, str]:
        """Write the record (if any) and append the event, atomically. -> (offset, epoch)."""
        keys = [topic.stream, topic.epoch, topic.state, topic.versions]
        if geo is not None:
            keys.append(topic.geo)
        field, value = record if record is not None else ("", b"")
        args: list[Any] = [
            self.maxlen(topic),
            secrets.token_hex(6),
            event_encoder.encode(event),
            field,
            value,
            "" if expect_version is None else expect_version,
            geo[0] if geo else 0,
            geo[1] if geo else 0,
        ]
        out = await self._commit(keys=keys, args=args)
        first = _s(out[0])
        if first == "CONFLICT":
            raise Conflict(int(_s(out[1])))
        return first, _s(out[1])

    async def read_record(self, topic: Topic, field: str) -> tuple[bytes | None, int]:
        """A state record and its version (0 when absent)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hget(topic.state, field)
            pipe.hget(topic.versions, field)
            value, version = await pipe.execute()
        return value, int(version or 0)

    async def epoch(self, topic: Topic) -> str:
        value = await self.redis.get(topic.epoch)
        return _s(value) if value is not None else ""

    async def epochs(self, topics: Sequence[Topic]) -> dict[str, str]:
        """Each topic's epoch, made now for a topic that has none yet."""
        async with self.redis.pipeline(transaction=True) as pipe:
            for t in topics:
                pipe.set(t.epoch, secrets.token_hex(6), nx=True)
            pipe.mget([t.epoch for t in topics])
            values = (await pipe.execute())[-1]
        return {t.name: (_s(v) if v is not None else "") for t, v in zip(topics, values, strict=True)}

    async def last_offsets(self, topics: Sequence[Topic]) -> dict[str, str]:
        """The newest id in each stream ("0-0" if empty): where a fresh reader starts."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for t in topics:
                pipe.xrevrange(t.stream, count=1)
            results = await pipe.execute()
        return {t.name: (_s(r[0][0]) if r else "0-0") for t, r in zip(topics, results, strict=True)}

    async def snapshot(self, topic: Topic) -> Snapshot:
        """Current state and the offset it is current as of, read in one transaction."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.get(topic.epoch)
            pipe.xrevrange(topic.stream, count=max(1, self.settings.radio_snapshot))
            pipe.hvals(topic.state)
            epoch, recent, values = await pipe.execute()
        offset = _s(recent[0][0]) if recent else "0-0"
        items: list[SnapshotItem] = [_record_decoder.decode(v) for v in values]
        if not items and topic.name == "radio":
            # The radio log has no state records: its snapshot is the recent tail.
            for _, fields in reversed(recent):
                event = event_decoder.decode(fields[b"e"])
                if isinstance(event, RadioLogged):
                    items.append(event.entry)
        return Snapshot(topic.name, _s(epoch) if epoch is not None else "", offset, items)

    async def history(self, topic: Topic, after: str, epoch: str | None) -> History | None:
        """Events after ``after`` in order, or None if the client must resync."""
        current = await self.epoch(topic)
        if not current or (epoch is not None and epoch != current):
            return None
        info: Any = await self.redis.xinfo_stream(topic.stream)
        mark = parse_offset(after)
        if mark > parse_offset(_s(info.get("last-generated-id", "0-0"))):
            return None  # an offset from another life of the stream
        # MAXLEN trimming does not move max-deleted-entry-id, so count instead:
        # if anything was trimmed and the client's entry is older than the first
        # one kept, what lay between may be gone. Resync rather than guess.
        trimmed = int(info.get("entries-added", 0)) > int(info.get("length", 0))
        first = info.get("first-entry")
        first_id = parse_offset(_s(first[0])) if first else None
        if trimmed and (first_id is None or mark < first_id):
            return None
        entries: list[tuple[str, Event]] = []
        start = f"({after}"
        while True:
            batch: Any = await self.redis.xrange(topic.stream, min=start, max="+", count=1000)
            for sid, fields in batch:
                entries.append((_s(sid), event_decoder.decode(fields[b"e"])))
            if len(batch) < 1000:
                break
            start = f"({_s(batch[-1][0])}"
        return History(current, entries)

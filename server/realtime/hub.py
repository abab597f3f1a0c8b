"""The hub of one process: the bus reader, the fan-out, and subscriptions.

The reader reads every topic stream but positions in batches from the last id
it read, alarms first: one loop per family of topics, as a family's streams
share one slot and one XREAD may not span two (on a Valkey Cluster they may live
on different shards). The dispatch loop also reads the probe stream, which the
hub writes every second: a reader that hears nothing while writes succeed (it
lost its place, or reads a node that no longer takes them) turns health red. Each event is encoded once
per wire format in use and the same frame is pushed to every subscribed
session. Positions are batched: once per tick a ticker reads every report
since the last tick, keeps the latest per unit, and sends one frame with
every unit that moved.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError

from protocol.codec import event_decoder
from protocol.codes import CloseReason, ErrorCode
from protocol.events import Event, IncidentCreated, IncidentUpdated, PositionReported
from protocol.messages import (
    Ack,
    Command,
    Error,
    EventFrame,
    PositionsFrame,
    Resync,
    Subscribe,
    TopicOffset,
)
from protocol.state import Incident, Position
from server.access.permissions import may_read, officer_sees
from server.access.roles import Principal
from server.access.tokens import Tokens
from server.bus.log import Bus
from server.bus.stopping import Stopped, StopSignal
from server.bus.topics import TOPICS, Family, Lane, Topic, parse_offset, topic_named
from server.config import Settings
from server.metrics import HubMetrics
from server.realtime.session import Frame, Session, SessionState, Subscription, refused

__all__ = ["CommandHandler", "Hub"]

log = logging.getLogger("dispatch.hub")

_POSITIONS = topic_named("positions")
# The families the reader reads, each in one loop of its own (positions: the ticker's).
_READ = {family: tuple(t for t in TOPICS if t.family is family) for family in (Family.DISPATCH, Family.INTAKE)}
# Whose epochs each loop checks: its own topics', and the dispatch loop the positions' too.
_EPOCHS = {
    family: topics + ((_POSITIONS,) if family is Family.DISPATCH and _POSITIONS else ())
    for family, topics in _READ.items()
}
PROBE_KEEP = 100  # probe entries kept
_position_decoder = msgspec.msgpack.Decoder(Position)


def _visible(sees: Callable[[Incident], bool], event: Any) -> bool:
    """Whether a filtered feed (an officer's) carries this event: only incident events it may see."""
    return isinstance(event, IncidentCreated | IncidentUpdated) and sees(event.incident)


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class CommandHandler(Protocol):
    """Who answers commands: the hub hands each one over and sends back what it answers. The
    dispatch domain's router is one (``server.dispatch.commands.DispatchService``); the hub
    knows no more of it than this."""

    async def handle(self, who: Principal, cmd: Command) -> Ack | Error: ...


class Hub:
    def __init__(
        self,
        settings: Settings,
        redis: Redis,
        bus: Bus,
        service: CommandHandler,
        metrics: HubMetrics,
        tokens: Tokens,
    ) -> None:
        self.settings = settings
        self.redis = redis
        self.bus = bus
        self.service = service
        self.metrics = metrics
        self.accepting = True
        self.sessions: set[Session] = set()
        self.subs: dict[str, dict[Session, Subscription]] = {t.name: {} for t in TOPICS}
        self.epochs: dict[str, str] = {t.name: "" for t in TOPICS}
        self.last_ids: dict[str, str] = {}
        self.part = bus.part
        self.keys = {t.name: bus.keys(t) for t in TOPICS}
        self._positions_stream = self.part.stream(_POSITIONS) if _POSITIONS else ""
        self.beats: dict[Family, float] = {}  # monotonic time of each loop's last completed read
        self._epoch_checked: dict[Family, float] = {}
        self._family_ok: dict[Family, bool] = {}
        self._first_start = asyncio.Lock()
        # The probe: the number last written, the one last read back, and when each probe not
        # yet read back was written (oldest first; a failed write is forgotten).
        # written has not been read back (None: every one was).
        self.probe_sent = 0
        self.probe_heard = 0
        self._probes_out: dict[int, float] = {}
        self._probe_id = f"{id(self):x}-{time.time_ns():x}"
        self._probe_last = ""  # the last probe entry read ("": not read yet)
        self.latest_positions: dict[str, Position] = {}
        self._tick_positions: dict[str, Position] = {}
        self._positions_offset = "0-0"
        self._catch_up_cache: dict[tuple[str, bool], tuple[str, Frame]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = StopSignal()  # ends the reader, the ticker and the revocation watch
        self._resyncs: set[asyncio.Task[None]] = set()
        self._per_user: dict[str, int] = {}
        # Catch-ups at once: a reconnect storm must leave Redis connections for commands.
        self._catch_ups = asyncio.Semaphore(max(1, settings.redis_connections // 4))
        self.tokens = tokens
        self._out = {t.name: metrics.events_out.labels(t.name) for t in TOPICS}
        self._in = {t.name: metrics.events_in.labels(t.name) for t in TOPICS}

    # ---- life cycle --------------------------------------------------------

    async def start(self) -> None:
        self._tasks = [
            *(asyncio.create_task(self._read_forever(family), name=f"bus-reader-{family.value}") for family in _READ),
            asyncio.create_task(self._probe_forever(), name="bus-probe"),
            asyncio.create_task(self._tick_positions_forever(), name="positions-ticker"),
            asyncio.create_task(self._watch_revocations(), name="revocations"),
        ]
        self.metrics.watch_queues(lambda: [s.depth for s in self.sessions])

    async def shutdown(self) -> None:
        """Stop accepting, close every session with 1001 after a bounded drain.

        Called by the server before connections are cut and again by the lifespan;
        the second time only what is left is closed, without another drain."""
        first = self.accepting
        self.accepting = False
        sessions = [s for s in self.sessions if s.state is SessionState.OPEN]
        if sessions and first:
            await asyncio.gather(*(s.drain(self.settings.drain_s) for s in sessions))
        for s in sessions:
            s.close(CloseReason.SHUTTING_DOWN)
        if sessions:
            await asyncio.gather(*(s.wait_closed(2.0) for s in sessions))
        # Each loop ends at its next turn once asked (a read blocked on Redis is cut short), then
        # is awaited: not cancelled, which redis-py can swallow (server/bus/stopping.py). Bounded,
        # like every shutdown step: a task that does not end is named and cancelled, not waited for.
        self._stop.set()
        if self._tasks:
            _, stuck = await asyncio.wait(list(self._tasks), timeout=5.0)
            for task in stuck:
                log.error("shutdown: task %s did not end when asked to stop; cancelled", task.get_name())
                task.cancel()

    def attach(self, session: Session) -> None:
        self.sessions.add(session)
        self.metrics.connections.set(len(self.sessions))
        self.metrics.connects.inc()

    def admit(self, user: str) -> bool:
        """Count a signed-in session against its account's limit; False when it is full."""
        n = self._per_user.get(user, 0)
        if n >= self.settings.max_sessions_per_user:
            return False
        self._per_user[user] = n + 1
        return True

    def forget(self, session: Session) -> None:
        if session.principal is not None and session.admitted:
            left = self._per_user.get(session.principal.user, 1) - 1
            if left > 0:
                self._per_user[session.principal.user] = left
            else:
                self._per_user.pop(session.principal.user, None)
        self.sessions.discard(session)
        for subs in self.subs.values():
            subs.pop(session, None)
        self.metrics.connections.set(len(self.sessions))

    # ---- commands and subscriptions ---------------------------------------

    def readable_topics(self, who: Principal) -> list[str]:
        return [t.name for t in TOPICS if may_read(who, t.name)]

    async def command(self, who: Principal, cmd: Command) -> Ack | Error:
        reply = await self.service.handle(who, cmd)
        outcome = "ack" if isinstance(reply, Ack) else reply.code
        self.metrics.commands.labels(type(cmd).__struct_config__.tag, outcome).inc()
        return reply

    async def subscribe(self, session: Session, frame: Subscribe) -> None:
        who = session.principal
        assert who is not None
        for wanted in frame.topics:
            topic = topic_named(wanted.topic)
            if topic is None:
                session.send_frame(Error(ErrorCode.UNKNOWN_TOPIC, f"no topic {wanted.topic!r}", frame.id))
                return
            if not may_read(who, topic.name):
                session.send_frame(Error(ErrorCode.FORBIDDEN, f"{who.role.value} may not read {topic.name}", frame.id))
                return
            if session.catching_up(topic.name):
                # One catch-up per topic at a time: a client that asks again without reading
                # the first must not queue snapshot after snapshot.
                message = f"the catch-up of {topic.name} is still being sent; subscribe again once it has arrived"
                session.send_frame(Error(ErrorCode.RATE_LIMITED, message, frame.id))
                return
        offsets: dict[str, str] = {}
        unique = {w.topic: w for w in frame.topics}  # the same topic twice is read once
        for wanted in unique.values():
            topic = topic_named(wanted.topic)
            assert topic is not None
            try:
                offsets[topic.name] = await self._catch_up(session, topic, wanted)
            except RedisError as exc:
                self.subs[topic.name].pop(session, None)
                session.send_frame(Error(ErrorCode.UNAVAILABLE, f"redis: {exc}", frame.id))
                return
        session.send_frame(Ack(ref=frame.id, result=offsets))

    def unsubscribe(self, session: Session, topics: Iterable[str]) -> list[str]:
        """Stop sending ``topics``. -> the names that are not topics (then nothing is changed, as
        subscribe refuses them too)."""
        names = list(topics)
        unknown = [name for name in names if topic_named(name) is None]
        if unknown:
            return unknown
        for name in names:
            self.subs[name].pop(session, None)
            session.subs.pop(name, None)
        return []

    async def _catch_up(self, session: Session, topic: Topic, wanted: TopicOffset, reason: str = "") -> str:
        """Send what the session missed (or a snapshot), then let live frames through.

        Live frames that arrive while we read Redis are held in the
        subscription's buffer and released afterwards, skipping any the
        catch-up already covered: no gap, no duplicate.
        """
        sub = session.subs.get(topic.name)
        if sub is None or sub.buffer is None:
            sub = Subscription()  # a resync already under way keeps its buffer of live frames
        if topic.name == "incidents" and session.principal is not None:
            sub.sees = officer_sees(session.principal)
        session.subs[topic.name] = sub
        self.subs[topic.name][session] = sub
        urgent = topic.lane is Lane.ALARM
        async with self._catch_ups:
            floor = await self._queue_catch_up(session, topic, wanted, urgent, reason)
        mark = parse_offset(floor)
        buffered, sub.buffer = sub.buffer or [], None
        sub.floor = mark
        for offset_t, data, lane in buffered:
            if offset_t > mark:
                if lane == "positions":
                    session.push_positions(data)
                else:
                    session.push(data, lane == "urgent")
                sub.floor = None
        return floor

    async def _queue_catch_up(
        self, session: Session, topic: Topic, wanted: TopicOffset, urgent: bool, forced: str = ""
    ) -> str:
        """Queue the missed events, or a snapshot (always, with ``forced`` as its reason); returns
        the offset they bring the session to."""
        floor = "0-0"
        history = None
        if topic.replay and wanted.offset is not None and not forced:
            history = await self.bus.history(topic, wanted.offset, wanted.epoch, self.settings.replay_max)
        sees = session.subs[topic.name].sees
        if history is not None:
            floor = wanted.offset or "0-0"
            for offset, event in history.entries:
                floor = offset
                if sees is not None and not _visible(sees, event):
                    continue
                session.push_catch_up(topic.name, EventFrame(topic.name, offset, history.epoch, event), urgent)
        else:
            if forced:
                reason = forced
            elif not topic.replay:
                reason = "state"
            elif wanted.offset is None:
                reason = "initial"
            elif wanted.epoch is not None and wanted.epoch != await self.bus.epoch(topic):
                reason = "epoch"
            else:
                reason = "gap"
            snap = await self.bus.snapshot(topic)
            items = snap.items if sees is None else [i for i in snap.items if isinstance(i, Incident) and sees(i)]
            resync = Resync(topic.name, snap.epoch, snap.offset, reason, items)  # type: ignore[arg-type]
            session.push_catch_up(topic.name, resync, urgent)
            floor = snap.offset
        return floor

    # ---- the reader --------------------------------------------------------

    @property
    def redis_ok(self) -> bool:
        """Whether the dispatch loop has Redis: what takes connections and turns health red. The
        intake family may live on another shard, which must not take dispatch down with it."""
        return self._family_ok.get(Family.DISPATCH, False)

    @property
    def reader_beat(self) -> float:
        """Monotonic time of the dispatch loop's last completed read (0: not started)."""
        return self.beats.get(Family.DISPATCH, 0.0)

    def intake_reading(self, now: float | None = None) -> bool:
        """Whether the intake loop reads (reported beside health, not in it)."""
        beat = self.beats.get(Family.INTAKE, 0.0)
        return self._family_ok.get(Family.INTAKE, False) and (time.monotonic() if now is None else now) - beat < 5.0

    def probe_silence(self, now: float | None = None) -> float:
        """Seconds since the oldest probe written that the reader has not read back (0: none)."""
        if not self._probes_out:
            return 0.0
        oldest = next(iter(self._probes_out.values()))
        return max(0.0, (time.monotonic() if now is None else now) - oldest)

    async def _read_forever(self, family: Family) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            try:
                await self._start_reading(family)
                backoff = 0.1
                while not self._stop.is_set():
                    await self._read_once(family)
            except Stopped:
                return
            except (RedisError, OSError) as exc:
                if self._stop.is_set():
                    return
                self._family_ok[family] = False
                self.metrics.redis_up.set(0)
                log.error("bus reader (%s) lost redis (%s); retrying in %.1fs", family.value, exc, backoff)
                await self._stop.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            except Exception:
                # Not Redis's own error (a cluster client's "no node for this slot", say, or a bug):
                # the loop is not reading either way, and health says so.
                self._family_ok[family] = False
                log.exception("bus reader (%s) failed; restarting in %.1fs", family.value, backoff)
                await self._stop.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _start_reading(self, family: Family) -> None:
        # Redis came back empty: the live state is rebuilt before anyone reads it (or makes an
        # epoch, which the rebuild would take for a Redis that kept its streams).
        await self.bus.ensure_live()
        async with self._first_start:
            if not self.last_ids:
                # First start: from the newest event; clients fill any gap by resuming.
                self.epochs = await self.bus.epochs(TOPICS)
                offsets = await self.bus.last_offsets(TOPICS)
                self.last_ids = {self.keys[t.name].stream: offsets[t.name] for t in TOPICS}
                values: Any = await self.redis.hvals(self.keys[_POSITIONS.name].state) if _POSITIONS else []
                for raw in values:
                    pos = _position_decoder.decode(raw)
                    self.latest_positions[pos.unit] = pos
                newest: Any = await self.redis.xrevrange(self.part.probe, count=1)
                self._probe_last = _s(newest[0][0]) if newest else "0-0"
            else:
                await self._check_epochs(await self.bus.epochs(_EPOCHS[family]), _EPOCHS[family])
                await self._check_places(family)
        self._family_ok[family] = True
        if self.redis_ok:
            self.metrics.redis_up.set(1)
        self._epoch_checked[family] = self.beats[family] = time.monotonic()

    async def _check_epochs(self, epochs: dict[str, str], topics: Iterable[Topic]) -> None:
        for topic in topics:
            old, new = self.epochs.get(topic.name, ""), epochs.get(topic.name, "")
            self.epochs[topic.name] = new
            if old and new != old:
                # The stream was lost and begun again: its ids start over, so read
                # it from the start, and have every subscriber resync. Their live
                # frames wait in the subscription's buffer until their snapshot is
                # queued; each resync runs in its own task, not in the reader.
                log.warning("topic %s epoch changed %s -> %s: resyncing subscribers", topic.name, old, new)
                self.last_ids[self.keys[topic.name].stream] = "0-0"
                self.resync_all(topic, "", old)

    def resync_all(self, topic: Topic, reason: str, old_epoch: str = "") -> None:
        """Have every subscriber of a topic resync, each in a task of its own: their live frames
        wait in the subscription's buffer until their snapshot is queued."""
        for session, sub in list(self.subs[topic.name].items()):
            sub.buffer = [] if sub.buffer is None else sub.buffer
            task = asyncio.create_task(self._resync(session, topic, old_epoch, reason))
            self._resyncs.add(task)
            task.add_done_callback(self._resyncs.discard)

    def failed_over(self) -> None:
        """The primary changed: what the old one acked and had not passed on is gone from the new
        one, and boards may hold it. Every board resyncs, flagged ``gap``."""
        log.warning("failover: every subscriber resyncs (gap)")
        for topic in TOPICS:
            self.resync_all(topic, "gap" if topic.replay else "state")

    async def _check_places(self, family: Family) -> None:
        """A stream whose newest id is behind this hub's place in it lost entries (the primary it
        was on is gone, and its replica had not got them): reading on from the place would hear
        nothing until new ids pass it. Read on from the stream's newest, and resync its boards."""
        names = [self.keys[t.name].stream for t in _READ[family]]
        if family is Family.DISPATCH:
            names.append(self.part.probe)
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.xinfo_stream(name)
            infos = await pipe.execute(raise_on_error=False)
        for name, info in zip(names, infos, strict=True):
            if not isinstance(info, dict):
                continue  # no such stream yet
            newest = _s(info.get("last-generated-id", "0-0"))
            ours = self._probe_last if name == self.part.probe else self.last_ids.get(name, "0-0")
            if parse_offset(ours) <= parse_offset(newest):
                continue
            log.warning(
                "%s: this hub read to %s, past the stream's newest %s: it lost entries; reading on", name, ours, newest
            )
            if name == self.part.probe:
                self._probe_last = newest
                continue
            self.last_ids[name] = newest
            topic = self.part.topic_of_stream(name)
            if topic is not None:
                self.resync_all(topic, "gap")

    async def _resync(self, session: Session, topic: Topic, old_epoch: str, reason: str = "") -> None:
        try:
            await self._catch_up(session, topic, TopicOffset(topic.name, "0-0", old_epoch), reason)
        except (RedisError, OSError) as exc:
            log.error("resync of %s for session %s failed: %s", topic.name, session.id, exc)
            session.close(CloseReason.RESYNC_FAILED)

    async def _read_once(self, family: Family) -> None:
        topics = _READ[family]
        if time.monotonic() - self._epoch_checked.get(family, 0.0) > 1.0:
            if family is Family.DISPATCH:
                await self.bus.ensure_live()
            await self._check_epochs(await self.bus.epochs(_EPOCHS[family]), _EPOCHS[family])
            await self._check_places(family)
            self._epoch_checked[family] = time.monotonic()
        # Positions are read by the ticker, once per tick: waking this reader for each of
        # hundreds of reports a second would cost a round trip each and delay the alarms.
        streams = {self.keys[t.name].stream: self.last_ids[self.keys[t.name].stream] for t in topics}
        if family is Family.DISPATCH:
            streams[self.part.probe] = self._probe_last
        with self._stop.blocking():
            reply: Any = await self.redis.xread(
                streams,  # type: ignore[arg-type]
                count=self.settings.read_batch,
                block=1000,
            )
        self.beats[family] = time.monotonic()
        if not reply:
            return
        batches = []
        for stream, entries in reply:
            name = _s(stream)
            if name == self.part.probe:
                self._heard(entries)
                continue
            topic = self.part.topic_of_stream(name)
            if topic is not None and entries:
                batches.append((topic, entries))
                self.last_ids[name] = _s(entries[-1][0])
        batches.sort(key=lambda b: b[0].lane)  # alarms first
        if any(not self.epochs[t.name] for t, _ in batches):
            self.epochs.update(await self.bus.epochs(topics))
        newest = 0
        for topic, entries in batches:
            epoch = self.epochs[topic.name]
            self._in[topic.name].inc(len(entries))
            for sid, fields in entries:
                offset = _s(sid)
                try:
                    event = event_decoder.decode(fields[b"e"])
                except (msgspec.DecodeError, msgspec.ValidationError, KeyError) as exc:
                    # Say so and go on: one entry this hub cannot read (a newer hub's
                    # event type, say) must not hold back what comes after it.
                    self.metrics.bad_events.inc()
                    log.error("undecodable event %s on %s skipped: %s", offset, topic.name, exc)
                    continue
                newest = max(newest, event.ts)
                self._deliver(topic, offset, epoch, event)
        if newest:
            self.metrics.bus_lag.set(max(0.0, time.time() - newest / 1000))

    # ---- the probe -----------------------------------------------------------------

    async def _probe_forever(self) -> None:
        """Write a probe entry every ``probe_every_s``; the dispatch reader reads it back."""
        while not await self._stop.sleep(self.settings.probe_every_s):
            if not self._probe_last or not self.redis_ok:
                continue  # the reader has not read yet (or lost Redis): it reports that
            # Counted as out before it is written: the reader may read it back before XADD returns.
            n = self.probe_sent = self.probe_sent + 1
            self._probes_out[n] = time.monotonic()
            try:
                # Through the commands' client, read back through the reader's: the path end to end.
                await self.bus.redis.xadd(
                    self.part.probe, {"h": self._probe_id, "n": str(n)}, maxlen=PROBE_KEEP, approximate=True
                )
            except (RedisError, OSError):
                self._probes_out.pop(n, None)  # not written, or not known to be: Redis is reported elsewhere

    def _heard(self, entries: list[Any]) -> None:
        if not entries:
            return
        self._probe_last = _s(entries[-1][0])
        for _, fields in entries:
            if fields.get(b"h", b"").decode() != self._probe_id:
                continue  # another hub's
            n = int(fields.get(b"n", b"0"))
            self.probe_heard = max(self.probe_heard, n)
        # Read in order: every probe up to the newest heard is home.
        for sent in [k for k in self._probes_out if k <= self.probe_heard]:
            del self._probes_out[sent]

    def _deliver(self, topic: Topic, offset: str, epoch: str, event: Event) -> None:
        subs = self.subs[topic.name]
        if not subs:
            return
        frame = EventFrame(topic.name, offset, epoch, event)
        self._fan_out(topic, offset, frame, subs, topic.lane is Lane.ALARM, positions=False)

    def _fan_out(
        self,
        topic: Topic,
        offset: str,
        frame: Any,
        subs: dict[Session, Subscription],
        urgent: bool,
        positions: bool,
    ) -> None:
        encoded: dict[tuple[str, bool], Frame] = {}
        mark: tuple[int, int] | None = None
        for session, sub in subs.items():
            if sub.sees is not None and not _visible(sub.sees, frame.payload):
                continue
            data = encoded.get(session.key)
            if data is None:
                data = encoded[session.key] = session.encode(frame)
            if sub.buffer is not None or sub.floor is not None:
                if mark is None:
                    mark = parse_offset(offset)
                if sub.buffer is not None:
                    sub.buffer.append((mark, data, "positions" if positions else "urgent" if urgent else "normal"))
                    continue
                assert sub.floor is not None
                if mark <= sub.floor:
                    continue
                sub.floor = None
            if positions:
                session.push_positions(data)
            else:
                session.push(data, urgent)
        self._out[topic.name].inc(len(subs))

    # ---- revoked sign-ins ------------------------------------------------------

    async def _watch_revocations(self) -> None:
        """Close the open sessions whose tokens were revoked (signed out, ended, account disabled)
        on any hub: poll the revocation counter, and when it moves check every session again."""
        seen: int | None = None
        while not await self._stop.sleep(self.settings.revocation_poll_s):
            try:
                now = await self.tokens.revocations()
                if now == seen:
                    continue
                seen = now
                sessions = [s for s in self.sessions if s.state is SessionState.OPEN and s.principal is not None]
                verdicts = await self.tokens.check_all([s.principal for s in sessions])  # type: ignore[misc]
            except (RedisError, OSError):
                continue  # the reader reports Redis; the records store is checked at the next sign-in
            for session, why in zip(sessions, verdicts, strict=True):
                if why is not None:
                    log.info("session %s of %s closed: %s", session.id, session.principal.user, why)  # type: ignore[union-attr]
                    session.close(refused(why), why)

    # ---- positions ---------------------------------------------------------

    async def _tick_positions_forever(self) -> None:
        assert _POSITIONS is not None
        while not await self._stop.sleep(self.settings.position_tick_s):
            if self._positions_stream not in self.last_ids or not self.redis_ok:
                continue  # the reader has not started (or lost Redis): it reports that
            try:
                await self._read_positions()
            except (RedisError, OSError) as exc:
                log.warning("positions not read this tick: %s", exc)
                continue
            if not self._tick_positions:
                continue
            items, self._tick_positions = list(self._tick_positions.values()), {}
            self._catch_up_cache.clear()
            subs = self.subs[_POSITIONS.name]
            if subs:
                offset = self._positions_offset
                frame = PositionsFrame(_POSITIONS.name, offset, self.epochs[_POSITIONS.name], items)
                self._fan_out(_POSITIONS, offset, frame, subs, False, positions=True)

    async def _read_positions(self) -> None:
        """Every position report since the last tick, without waiting for more."""
        assert _POSITIONS is not None
        count = self.settings.read_batch
        while True:
            reply: Any = await self.redis.xread(
                {self._positions_stream: self.last_ids[self._positions_stream]}, count=count
            )
            entries = reply[0][1] if reply else []
            if not entries:
                return
            self.last_ids[self._positions_stream] = _s(entries[-1][0])
            self._in[_POSITIONS.name].inc(len(entries))
            for sid, fields in entries:
                try:
                    event = event_decoder.decode(fields[b"e"])
                except (msgspec.DecodeError, msgspec.ValidationError, KeyError) as exc:
                    self.metrics.bad_events.inc()
                    log.error("undecodable event %s on positions skipped: %s", _s(sid), exc)
                    continue
                if isinstance(event, PositionReported):
                    self._tick_positions[event.position.unit] = event.position
                    self.latest_positions[event.position.unit] = event.position
                    self._positions_offset = _s(sid)
            if len(entries) < count:
                return

    def positions_catch_up(self, session: Session) -> Frame:
        """Every unit's latest position as one frame, for sessions that fell behind.

        Built at most once per tick and encoding, however many sessions ask.
        """
        assert _POSITIONS is not None
        cached = self._catch_up_cache.get(session.key)
        if cached is not None and cached[0] == self._positions_offset:
            return cached[1]
        frame = PositionsFrame(
            _POSITIONS.name,
            self._positions_offset,
            self.epochs[_POSITIONS.name],
            list(self.latest_positions.values()),
        )
        data = session.encode(frame)
        self._catch_up_cache[session.key] = (self._positions_offset, data)
        return data

    def open_sessions(self) -> list[Session]:
        return [s for s in self.sessions if s.state is SessionState.OPEN]

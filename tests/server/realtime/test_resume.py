"""Resume: a client that drops gets exactly what it missed, or a flagged resync."""

from __future__ import annotations

import asyncio
from pathlib import Path

import redis.asyncio as aioredis

from clients.connection import Connection, TopicPosition
from protocol.messages import EventFrame, RadioAppend, Resync
from server.bus.partition import Partition
from server.bus.topics import topic_named
from server.bus.valkey import EmbeddedValkey
from tests.helpers import RunningHub, hub_in_process, wait_for

RADIO_STREAM = Partition().keys(topic_named("radio")).stream  # type: ignore[arg-type]
RADIO_EPOCH = Partition().keys(topic_named("radio")).epoch  # type: ignore[arg-type]


async def _radio(conn: Connection, text: str) -> str:
    ack = await conn.command(RadioAppend(id=conn.next_id(), channel="main", text=text))
    assert ack.offset is not None
    return ack.offset


async def _drain(conn: Connection) -> list:
    frames = []
    while conn.pending_frames():
        frames.append(await conn.next_frame())
    return frames


async def test_reconnect_receives_exactly_the_missed_events(hub: RunningHub) -> None:
    """Events sent while a board was away arrive once each, in order, after it reconnects by itself."""
    async with (
        Connection(hub.url, token=hub.token("ana")) as desk,
        Connection(hub.url, token=hub.token("board"), topics=["radio"], backoff=(0.3, 0.3)) as board,
    ):
        before = [await _radio(desk, f"before {i}") for i in range(3)]
        await wait_for(lambda: board.positions["radio"].offset == before[-1])
        await _drain(board)
        await board.drop()
        await wait_for(lambda: not board.connected)
        missed = [await _radio(desk, f"missed {i}") for i in range(20)]
        await wait_for(lambda: board.connected)
        after = [await _radio(desk, f"after {i}") for i in range(3)]
        await wait_for(lambda: board.positions["radio"].offset == after[-1])
        frames = [f for f in await _drain(board) if isinstance(f, EventFrame)]
        assert [f.offset for f in frames] == missed + after
        assert board.stats.connects == 2
        assert board.stats.resyncs == 1  # only the initial snapshot


async def test_new_process_resumes_from_saved_offsets(hub: RunningHub) -> None:
    """A client that comes back with saved offsets (say, after its own restart) gets only the rest."""
    async with Connection(hub.url, token=hub.token("ana"), topics=["radio"]) as desk:
        first = await _radio(desk, "one")
        await wait_for(lambda: desk.positions["radio"].offset == first)
        saved = desk.saved_positions()
        rest = [await _radio(desk, t) for t in ("two", "three")]
    async with Connection(hub.url, token=hub.token("board"), topics=["radio"], resume_from=saved) as board:
        frames = [await board.next_frame() for _ in range(2)]
        assert [f.offset for f in frames] == rest
        assert all(isinstance(f, EventFrame) for f in frames)
        assert board.stats.resyncs == 0


async def test_offset_older_than_history_gets_flagged_resync(
    redis: aioredis.Redis, valkey: EmbeddedValkey, tmp_path: Path
) -> None:
    """Past the kept history the client gets a snapshot marked 'gap', never a silent hole."""
    async with hub_in_process(
        valkey.url,
        tmp_path,
        history_maxlen=10,
        radio_snapshot=5,
        commands_per_s=10_000.0,
        commands_burst=10_000,
    ) as hub:
        async with Connection(hub.url, token=hub.token("ana")) as desk:
            first = await _radio(desk, "first")
            for i in range(400):
                await _radio(desk, f"n{i}")
            epoch = (await redis.get(RADIO_EPOCH)).decode()
        assert await redis.xlen(RADIO_STREAM) < 400
        saved = {"radio": TopicPosition(first, epoch)}
        async with Connection(hub.url, token=hub.token("board"), topics=["radio"], resume_from=saved) as board:
            frame = await board.next_frame()
            assert isinstance(frame, Resync)
            assert frame.reason == "gap"
            assert [e.text for e in frame.snapshot] == [f"n{i}" for i in range(395, 400)]


async def test_lost_stream_gets_epoch_resync(redis: aioredis.Redis, hub: RunningHub) -> None:
    """If Redis loses a stream, live and returning clients are told by a changed epoch."""
    async with Connection(hub.url, token=hub.token("ana"), topics=["radio"]) as desk:
        offset = await _radio(desk, "before the loss")
        await wait_for(lambda: desk.positions["radio"].offset == offset)
        old_epoch = desk.positions["radio"].epoch
        await _drain(desk)
        await redis.delete(RADIO_STREAM, RADIO_EPOCH)
        resync = await desk.next_frame(5)
        assert isinstance(resync, Resync) and resync.reason == "epoch"
        assert resync.epoch != old_epoch
        offset = await _radio(desk, "after the loss")
        event = await desk.next_frame(5)
        assert isinstance(event, EventFrame) and event.offset == offset and event.epoch == resync.epoch
    saved = {"radio": TopicPosition("1-0", old_epoch)}
    async with Connection(hub.url, token=hub.token("board"), topics=["radio"], resume_from=saved) as board:
        frame = await board.next_frame()
        assert isinstance(frame, Resync) and frame.reason == "epoch"
    await asyncio.sleep(0)


async def test_a_long_absence_is_replayed_without_tripping_the_slow_consumer_limit(
    redis: aioredis.Redis, valkey: EmbeddedValkey, tmp_path: Path
) -> None:
    """A board away for more events than its queue holds still comes back: catch-up is exempt;
    past the replay limit it gets a snapshot instead."""
    overrides = dict(queue_max_messages=50, replay_max=500, commands_per_s=1e6, commands_burst=10**6)
    async with hub_in_process(valkey.url, tmp_path, **overrides) as hub:
        async with Connection(hub.url, token=hub.token("ana"), topics=["radio"]) as desk:
            first = await _radio(desk, "first")
            await wait_for(lambda: desk.positions["radio"].offset == first)
            saved = desk.saved_positions()
            missed = [await _radio(desk, f"m{i}") for i in range(300)]
        async with Connection(hub.url, token=hub.token("b"), topics=["radio"], resume_from=saved) as board:
            await wait_for(lambda: board.positions["radio"].offset == missed[-1], 10)
            frames = await _drain(board)
            assert [f.offset for f in frames if isinstance(f, EventFrame)] == missed
            assert board.stats.connects == 1 and hub.ctx.metrics.slow_closes._value.get() == 0
        async with Connection(hub.url, token=hub.token("ana")) as desk:
            for i in range(600):
                await _radio(desk, f"z{i}")
        async with Connection(hub.url, token=hub.token("c"), topics=["radio"], resume_from=saved) as late:
            frame = await late.next_frame()
            assert isinstance(frame, Resync) and frame.reason == "gap"

"""A hub shuts down promptly: each of its loops ends when asked, none has to be abandoned."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from clients.connection import Connection
from protocol.messages import RadioAppend
from server.bus.valkey import EmbeddedValkey
from tests.helpers import hub_in_process, wait_for


async def test_shutdown_ends_every_loop_promptly(
    valkey: EmbeddedValkey, redis: object, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """With the positions ticker reading all the time (a 2 ms tick), a cancel used to land in its
    Redis read, be swallowed, and leave the ticker running until the 5 s bound. Now no loop
    outlives the shutdown, and none is named in the log as left running."""
    caplog.set_level(logging.WARNING)
    for run in range(5):
        async with hub_in_process(valkey.url, tmp_path / "data", position_tick_s=0.002) as hub:
            async with (
                Connection(hub.url, token=hub.token("ana")) as desk,
                Connection(hub.url, token=hub.token("board"), topics=["radio", "positions"]) as board,
            ):
                ack = await desk.command(RadioAppend(id=desk.next_id(), channel="main", text=f"run {run}"))
                await wait_for(lambda sent=ack.offset: board.positions["radio"].offset == sent)
            tasks = list(hub.ctx.hub._tasks)
            started = time.monotonic()
        took = time.monotonic() - started
        assert took < 2.5, f"shutdown took {took:.1f}s"
        assert all(t.done() and not t.cancelled() for t in tasks), [t for t in tasks if not t.done()]
    left = [r.getMessage() for r in caplog.records if "did not end" in r.getMessage()]
    assert left == []

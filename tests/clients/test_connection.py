"""The Python client: auth failures stop it, lost connections fail in-flight commands, it resumes."""

from __future__ import annotations

import pytest

from clients.connection import CommandRejected, Connection, HubClosed
from protocol.codec import WireFormat
from protocol.messages import EventFrame, RadioAppend, UnitStatus
from server.access.roles import Role
from tests.helpers import RunningHub, wait_for


async def test_bad_token_is_fatal_not_a_reconnect_loop(hub: RunningHub) -> None:
    """A refused token raises HubClosed(4001) instead of retrying forever."""
    conn = Connection(hub.url, token="forged", topics=["radio"])
    with pytest.raises(HubClosed) as info:
        await conn.start()
    assert info.value.code == 4001
    await conn.close()


async def test_rejected_command_raises_with_code(hub: RunningHub) -> None:
    """An error frame becomes CommandRejected carrying the stable code."""
    async with Connection(hub.url, token=hub.token("u7", Role.OFFICER, "U7"), auth="hello") as conn:
        with pytest.raises(CommandRejected) as info:
            await conn.command(UnitStatus(id=conn.next_id(), unit="U9", status="enroute"))
        assert info.value.code == "forbidden"


async def test_msgpack_client_resumes_after_drop(hub: RunningHub) -> None:
    """The msgpack client reconnects by itself and resumes without duplicates."""
    async with (
        Connection(hub.url, token=hub.token("ana")) as desk,
        Connection(hub.url, token=hub.token("b"), topics=["radio"], wire=WireFormat.MSGPACK) as board,
    ):
        sent = [(await desk.command(RadioAppend(id=desk.next_id(), channel="c", text="1"))).offset]
        await wait_for(lambda: board.positions["radio"].offset == sent[-1])
        await board.drop()
        sent.append((await desk.command(RadioAppend(id=desk.next_id(), channel="c", text="2"))).offset)
        await wait_for(lambda: board.positions["radio"].offset == sent[-1])
        got = []
        while board.pending_frames():
            frame = await board.next_frame()
            if isinstance(frame, EventFrame):
                got.append(frame.offset)
        assert got == sent

"""The Python board client keeps the same board a dispatcher sees, live and after a reconnect."""

from __future__ import annotations

from clients.board import BoardClient
from clients.connection import Connection
from protocol.messages import IncidentCreate, UnitPanic, UnitPosition, UnitRoster, UnitStatus
from protocol.state import Location
from server.access.roles import Role
from tests.helpers import RunningHub, wait_for


async def test_board_client_follows_calls_units_positions_and_alarms(hub: RunningHub) -> None:
    """Snapshots first, then events: the queue, unit statuses, positions and a panic are all on the board."""
    async with Connection(hub.url, token=hub.token()) as desk:
        await desk.command(UnitRoster(id=desk.next_id(), unit="U7", district="Downtown"))
        first = await desk.command(
            IncidentCreate(id=desk.next_id(), call_type="NOISE", location=Location("A", 53.54, -113.49))
        )
        async with BoardClient(hub.url, hub.token()) as client:
            board = client.board
            await wait_for(lambda: board.resyncs >= 5)
            assert first.result is not None and list(board.incidents) == [first.result["incident"]]
            second = await desk.command(
                IncidentCreate(
                    id=desk.next_id(), call_type="DISORDER", priority=1, location=Location("B", 53.55, -113.5)
                )
            )
            await desk.command(UnitPosition(id=desk.next_id(), unit="U7", lat=53.541, lon=-113.491))
            async with Connection(hub.url, token=hub.token("u7", Role.OFFICER, "U7")) as officer:
                await officer.command(UnitStatus(id=officer.next_id(), unit="U7", status="busy"))
                await officer.command(UnitPanic(id=officer.next_id(), unit="U7", reason="panic button"))
            await wait_for(lambda: board.alarms and "U7" in board.positions and len(board.incidents) == 2)
            assert second.result is not None
            assert [i.id for i in board.queue()][0] == second.result["incident"]  # priority 1 first
            assert board.units["U7"].status == "emergency"
            assert "ALARMS" in board.summary()

            await client.connection.drop()  # resumes where it left off
            await desk.command(UnitRoster(id=desk.next_id(), unit="U8", district="Downtown"))
            await wait_for(lambda: "U8" in board.units)
            assert len(board.incidents) == 2

"""A board client: what a dispatcher board holds, kept live over the reconnecting connection.

``Board`` is the state (open incidents, units, latest positions, active alarms,
emergency-traffic mode, recent radio) built from resync snapshots and events;
``BoardClient`` feeds it from a ``Connection``. The browser board does the same
in ``static/board/state.js``; tests and the load generator use this one.

    python -m clients.board --url ws://127.0.0.1:8000/ws --token-file ana.token

prints a one-line summary of the board every few seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
from dataclasses import dataclass, field
from pathlib import Path

from clients.connection import Connection
from protocol.events import (
    AlarmRaised,
    AlarmUpdated,
    IncidentCreated,
    IncidentUpdated,
    PositionReported,
    RadioLogged,
    TrafficModeChanged,
    UnitStatusChanged,
    UnitUpdated,
)
from protocol.messages import EventFrame, PositionsFrame, Resync, ServerFrame
from protocol.state import Alarm, Incident, IncidentStatus, Position, RadioEntry, TrafficMode, UnitState

__all__ = ["BOARD_TOPICS", "Board", "BoardClient", "main"]

BOARD_TOPICS = ["alarms", "incidents", "units", "positions", "radio"]
_CLOSED = (IncidentStatus.CLOSED, IncidentStatus.CANCELLED)


@dataclass
class Board:
    incidents: dict[str, Incident] = field(default_factory=dict)
    units: dict[str, UnitState] = field(default_factory=dict)
    positions: dict[str, Position] = field(default_factory=dict)
    alarms: dict[str, Alarm] = field(default_factory=dict)
    traffic_mode: TrafficMode | None = None
    radio: collections.deque[RadioEntry] = field(default_factory=lambda: collections.deque(maxlen=300))
    resyncs: int = 0
    events: int = 0

    def apply(self, frame: ServerFrame) -> None:
        """Take one frame from the hub; frames of other kinds are ignored."""
        if isinstance(frame, Resync):
            self.resyncs += 1
            self._resync(frame)
        elif isinstance(frame, PositionsFrame):
            for p in frame.items:
                self.positions[p.unit] = p
        elif isinstance(frame, EventFrame):
            self.events += 1
            self._event(frame)

    def _resync(self, frame: Resync) -> None:
        items = frame.snapshot
        if frame.topic == "incidents":
            self.incidents = {i.id: i for i in items if isinstance(i, Incident) and i.status not in _CLOSED}
        elif frame.topic == "units":
            self.units = {u.id: u for u in items if isinstance(u, UnitState)}
        elif frame.topic == "positions":
            self.positions = {p.unit: p for p in items if isinstance(p, Position)}
        elif frame.topic == "alarms":
            self.alarms = {a.id: a for a in items if isinstance(a, Alarm)}
            modes = [m for m in items if isinstance(m, TrafficMode) and m.emergency_only]
            self.traffic_mode = modes[0] if modes else None
        elif frame.topic == "radio":
            self.radio.clear()
            self.radio.extend(e for e in items if isinstance(e, RadioEntry))

    def _event(self, frame: EventFrame) -> None:
        match frame.payload:
            case IncidentCreated(incident=incident) | IncidentUpdated(incident=incident):
                if incident.status in _CLOSED or incident.merged_into:
                    self.incidents.pop(incident.id, None)
                else:
                    self.incidents[incident.id] = incident
            case UnitStatusChanged(unit=unit) | UnitUpdated(unit=unit):
                self.units[unit.id] = unit
            case PositionReported(position=position):
                self.positions[position.unit] = position
            case AlarmRaised(alarm=alarm) | AlarmUpdated(alarm=alarm):
                if alarm.state == "active":
                    self.alarms[alarm.id] = alarm
                else:
                    self.alarms.pop(alarm.id, None)
            case TrafficModeChanged(mode=mode):
                self.traffic_mode = mode if mode.emergency_only else None
            case RadioLogged(entry=entry):
                self.radio.append(entry)
            case _:
                pass

    def queue(self) -> list[Incident]:
        """Open incidents, most urgent first: priority, then the longest waiting."""
        return sorted(self.incidents.values(), key=lambda i: (i.priority, i.created_at))

    def summary(self) -> str:
        by_status = collections.Counter(u.status for u in self.units.values())
        statuses = ", ".join(f"{n} {s}" for s, n in sorted(by_status.items()))
        alarms = f"; ALARMS: {', '.join(sorted(self.alarms))}" if self.alarms else ""
        return f"{len(self.incidents)} open incidents; units: {statuses or 'none'}{alarms}"


class BoardClient:
    """A ``Board`` kept live: reconnects and resumes by itself (see ``clients.connection``)."""

    def __init__(self, url: str, token: str, topics: list[str] | None = None) -> None:
        self.board = Board()
        self.connection = Connection(
            url, token=token, topics=topics or BOARD_TOPICS, on_frame=self.board.apply, queue_frames=False
        )

    async def __aenter__(self) -> BoardClient:
        await self.connection.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.connection.close()


async def _watch(url: str, token: str, every_s: float) -> None:
    async with BoardClient(url, token) as client:
        while True:
            await asyncio.sleep(every_s)
            print(client.board.summary(), flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m clients.board", description=__doc__)
    p.add_argument("--url", default="ws://127.0.0.1:8000/ws")
    p.add_argument("--token-file", type=Path, required=True)
    p.add_argument("--every", type=float, default=5.0, help="seconds between summaries")
    args = p.parse_args(argv)
    try:
        asyncio.run(_watch(args.url, args.token_file.read_text().strip(), args.every))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

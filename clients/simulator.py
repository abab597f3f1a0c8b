"""OfficerSimulator: an officer's client that drives around the service area, reports its
position, and works the calls it is given with a realistic progression of statuses.

Acknowledge within seconds, en route, on scene when it arrives, check in while there,
clear (available) when done. ``speedup`` compresses the timings for demos and tests.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field

from clients.connection import CommandRejected, Connection, ConnectionLost
from clients.geo import metres_between, random_point, step_towards
from protocol.events import IncidentCreated, IncidentUpdated
from protocol.messages import EventFrame, UnitAcknowledge, UnitCheckIn, UnitPosition, UnitStatus

__all__ = ["OfficerSimulator"]

log = logging.getLogger("dispatch.simulator")


@dataclass
class _Call:
    incident: str
    lat: float | None
    lon: float | None
    acknowledged: bool = False


@dataclass
class OfficerSimulator:
    url: str
    token: str
    unit: str
    area: list[list[float]]  # the service-area ring, [lat, lon] pairs
    start: tuple[float, float]
    speedup: float = 1.0
    report_every_s: float = 2.0
    patrol_speed_mps: float = 9.0
    response_speed_mps: float = 16.0
    rng: random.Random = field(default_factory=random.Random)
    statuses: list[str] = field(default_factory=list)  # what it sent, for tests

    def __post_init__(self) -> None:
        self.lat, self.lon = self.start
        self.heading = 0.0
        self.call: _Call | None = None
        self.conn = Connection(
            self.url,
            token=self.token,
            topics=["incidents"],
            on_frame=self._on_frame,
            queue_frames=False,
            backoff=(0.2, 5.0),
        )
        self._waypoint = random_point(self.area, self.rng)
        self._assigned = asyncio.Event()

    def _on_frame(self, frame: object) -> None:
        if not isinstance(frame, EventFrame) or not isinstance(frame.payload, IncidentCreated | IncidentUpdated):
            return
        incident = frame.payload.incident
        mine = any(a.unit == self.unit and a.cleared_at is None for a in incident.units)
        if (
            mine
            and (self.call is None or self.call.incident != incident.id)
            and incident.status not in ("closed", "cancelled")
        ):
            self.call = _Call(incident.id, incident.location.lat, incident.location.lon)
            self._assigned.set()
        elif self.call is not None and self.call.incident == incident.id and not mine:
            self.call = None  # taken off the call, or the call closed

    async def _send(self, cmd: object) -> None:
        try:
            await self.conn.command(cmd)
        except (CommandRejected, ConnectionLost, TimeoutError) as exc:
            log.info("%s: %s", self.unit, exc)

    async def _status(self, status: str) -> None:
        self.statuses.append(status)
        await self._send(UnitStatus(id=self.conn.next_id(), unit=self.unit, status=status))

    async def _sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / self.speedup)

    async def _drive(self, to_lat: float, to_lon: float, speed: float, stop_when_assigned: bool) -> None:
        while metres_between(self.lat, self.lon, to_lat, to_lon) > 30:
            if stop_when_assigned and self._assigned.is_set():
                return
            self.lat, self.lon, self.heading = step_towards(
                self.lat, self.lon, to_lat, to_lon, speed * self.report_every_s
            )
            await self._send(
                UnitPosition(
                    id=self.conn.next_id(),
                    unit=self.unit,
                    lat=self.lat,
                    lon=self.lon,
                    heading=self.heading,
                    speed=speed,
                )
            )
            await self._sleep(self.report_every_s)

    async def run(self, until: float | None = None) -> None:
        """Work the shift until ``until`` (a time.time()) or cancellation."""
        await self.conn.start(30)
        try:
            while until is None or time.time() < until:
                if self.call is None:
                    self._assigned.clear()
                    if self.call is None:
                        await self._drive(*self._waypoint, self.patrol_speed_mps, stop_when_assigned=True)
                        if not self._assigned.is_set():
                            self._waypoint = random_point(self.area, self.rng)
                            await self._send(UnitCheckIn(id=self.conn.next_id(), unit=self.unit))
                    continue
                await self._work(self.call)
        finally:
            await self.conn.close()

    async def _work(self, call: _Call) -> None:
        await self._sleep(self.rng.uniform(2, 6))
        await self._send(UnitAcknowledge(id=self.conn.next_id(), unit=self.unit, incident=call.incident))
        await self._status("enroute")
        if call.lat is not None and call.lon is not None:
            await self._drive(call.lat, call.lon, self.response_speed_mps, stop_when_assigned=False)
        if self.call is not call:
            return
        await self._status("onscene")
        for _ in range(self.rng.randint(1, 3)):
            await self._sleep(self.rng.uniform(20, 60))
            if self.call is not call:
                return
            await self._send(UnitCheckIn(id=self.conn.next_id(), unit=self.unit))
        await self._status("available")
        self.call = None

"""OfficerSimulator: an officer's client that drives around the service area, reports its
position, and works the calls it is given with a realistic progression of statuses.

Acknowledge within seconds, en route, on scene when it arrives, check in while there,
clear (available) when done. ``speedup`` compresses the timings for demos and tests.

It also keeps its welfare timer green, as a careful officer does: it watches its own unit's
check-in deadline (``welfare_warn_at``, set by the hub from the policy's ``[welfare]``
section) and checks in part-way towards it, so a long drive to a call or a quiet patrol
never turns into a missed check-in alarm. That deadline runs on the hub's clock, which a
``speedup`` does not compress.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from dataclasses import dataclass, field

from clients.connection import CommandRejected, Connection, ConnectionLost
from clients.geo import metres_between, random_point, step_towards
from protocol.events import IncidentCreated, IncidentUpdated, UnitStatusChanged, UnitUpdated
from protocol.messages import EventFrame, Resync, UnitAcknowledge, UnitCheckIn, UnitPosition, UnitStatus
from protocol.state import CoreUnitStatus, Incident, IncidentStatus, UnitState

__all__ = ["OfficerSimulator"]

log = logging.getLogger("dispatch.simulator")

# Where between its last contact and its welfare warning an officer checks in (a share of the
# interval, drawn afresh for every deadline): early enough that a slow network or a busy hub
# never lets the warning fire first, late enough to look like a person and not a metronome.
CHECK_IN_SHARE = (0.5, 0.75)
CHECK_IN_RETRY_S = 1.0
# Real seconds between position reports at the least, however sped up: more would only load the hub.
MIN_REPORT_S = 0.1


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
    check_ins: int = 0  # welfare check-ins the hub accepted, for tests

    def __post_init__(self) -> None:
        self.lat, self.lon = self.start
        self.heading = 0.0
        self.call: _Call | None = None
        self.conn = Connection(
            self.url,
            token=self.token,
            topics=["incidents", "units"],
            on_frame=self._on_frame,
            queue_frames=False,
            backoff=(0.2, 5.0),
        )
        self._waypoint = random_point(self.area, self.rng)
        self._assigned = asyncio.Event()
        self._welfare: tuple[int, int] | None = None  # (last contact, warning at), hub milliseconds
        self._welfare_changed = asyncio.Event()
        self._skew_ms = 0.0  # the hub's clock minus ours, from the last welcome
        self._welcome: object = None

    def _on_frame(self, frame: object) -> None:
        if isinstance(frame, Resync):
            welcome = self.conn.welcome
            if welcome is not None and welcome is not self._welcome:
                # A resync follows the welcome at once: good enough to learn the hub's clock from.
                self._welcome = welcome
                self._skew_ms = welcome.server_time - time.time() * 1000
            for item in frame.snapshot:
                if isinstance(item, UnitState) and item.id == self.unit:
                    self._on_unit(item)
                elif isinstance(item, Incident):
                    self._on_incident(item)  # a call given before this client (re)connected
            return
        if not isinstance(frame, EventFrame):
            return
        payload = frame.payload
        if isinstance(payload, UnitStatusChanged | UnitUpdated) and payload.unit.id == self.unit:
            self._on_unit(payload.unit)
        elif isinstance(payload, IncidentCreated | IncidentUpdated):
            self._on_incident(payload.incident)

    def _on_incident(self, incident: Incident) -> None:
        mine = any(a.unit == self.unit and a.cleared_at is None for a in incident.units)
        if (
            mine
            and (self.call is None or self.call.incident != incident.id)
            and incident.status not in (IncidentStatus.CLOSED, IncidentStatus.CANCELLED)
        ):
            self.call = _Call(incident.id, incident.location.lat, incident.location.lon)
            self._assigned.set()
        elif self.call is not None and self.call.incident == incident.id and not mine:
            self.call = None  # taken off the call, or the call closed

    def _on_unit(self, unit: UnitState) -> None:
        welfare = (unit.last_contact, unit.welfare_warn_at) if unit.welfare_warn_at is not None else None
        if welfare != self._welfare:
            self._welfare = welfare
            self._welfare_changed.set()

    async def _send(self, cmd: object) -> bool:
        try:
            await self.conn.command(cmd)
            return True
        except (CommandRejected, ConnectionLost, TimeoutError) as exc:
            log.info("%s: %s", self.unit, exc)
            return False

    async def _status(self, status: str) -> None:
        self.statuses.append(status)
        await self._send(UnitStatus(id=self.conn.next_id(), unit=self.unit, status=status))

    async def _check_in(self) -> None:
        if await self._send(UnitCheckIn(id=self.conn.next_id(), unit=self.unit)):
            self.check_ins += 1

    async def _sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / self.speedup)

    async def _drive(self, to_lat: float, to_lon: float, speed: float, stop_when_assigned: bool) -> None:
        """Drive there, reporting positions on the way. Each step covers the distance of the time
        that really went by (sped up), not of the time asked for: on a busy machine the reports
        come late, and a unit that moved by the report would fall behind the calls' clock."""
        interval_s = max(self.report_every_s / self.speedup, MIN_REPORT_S)
        last = time.monotonic() - interval_s
        while metres_between(self.lat, self.lon, to_lat, to_lon) > 30:
            if stop_when_assigned and self._assigned.is_set():
                return
            now = time.monotonic()
            driven_s, last = (now - last) * self.speedup, now
            self.lat, self.lon, self.heading = step_towards(self.lat, self.lon, to_lat, to_lon, speed * driven_s)
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
            await asyncio.sleep(interval_s)

    async def run(self, until: float | None = None) -> None:
        """Work the shift until ``until`` (a time.time()) or cancellation."""
        await self.conn.start(30)
        welfare = asyncio.create_task(self._keep_checked_in(), name=f"{self.unit} check-ins")
        try:
            while until is None or time.time() < until:
                if self.call is None:
                    self._assigned.clear()
                    if self.call is None:
                        await self._drive(*self._waypoint, self.patrol_speed_mps, stop_when_assigned=True)
                        if not self._assigned.is_set():
                            self._waypoint = random_point(self.area, self.rng)
                    continue
                await self._work(self.call)
        finally:
            welfare.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await welfare
            await self.conn.close()

    async def _keep_checked_in(self) -> None:
        """Check in before the hub's welfare warning, on the hub's clock (not sped up). Each new
        deadline (after a check-in, a status change, an acknowledgement) is planned afresh;
        ends when cancelled with the run."""
        while True:
            self._welfare_changed.clear()
            welfare = self._welfare
            wait_s: float | None = None
            if welfare is not None:
                last_contact, warn_at = welfare
                due_ms = last_contact + self.rng.uniform(*CHECK_IN_SHARE) * max(warn_at - last_contact, 0)
                wait_s = max(0.0, (due_ms - self._hub_now_ms()) / 1000)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_s):
                    await self._welfare_changed.wait()
                continue  # a new deadline came first: plan for it
            await self._check_in()
            # Its event brings the next deadline. Should it not come (the check-in was refused or
            # lost in a reconnect), the old deadline, now passed, makes the loop try again.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CHECK_IN_RETRY_S):
                    await self._welfare_changed.wait()

    def _hub_now_ms(self) -> float:
        return time.time() * 1000 + self._skew_ms

    async def _work(self, call: _Call) -> None:
        await self._sleep(self.rng.uniform(2, 6))
        await self._send(UnitAcknowledge(id=self.conn.next_id(), unit=self.unit, incident=call.incident))
        await self._status(CoreUnitStatus.ENROUTE)
        if call.lat is not None and call.lon is not None:
            await self._drive(call.lat, call.lon, self.response_speed_mps, stop_when_assigned=False)
        if self.call is not call:
            return
        await self._status(CoreUnitStatus.ONSCENE)
        for _ in range(self.rng.randint(1, 3)):
            await self._sleep(self.rng.uniform(20, 60))
            if self.call is not call:
                return
            await self._check_in()
        await self._status(CoreUnitStatus.AVAILABLE)
        self.call = None

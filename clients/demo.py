"""A demo shift: a roster, simulated officers, calls arriving over time, and a dispatcher
assistant that works the calls a person at the board leaves alone.

    python -m clients.demo --url ws://127.0.0.1:8000/ws --tokens var/demo-tokens.json

``dispatch serve --demo`` (or ``DEMO=1 make serve``) writes the tokens file and runs this.
Every option has a ``DEMO_*`` environment variable (see ``--help``), so ``make serve`` passes
them through.

The assistant is a stand-in for a second dispatcher, there so that calls do not pile up while
nobody is at the board. It stays out of a person's way:

- it works only calls the demo made itself, and never one a person has touched (assigned,
  noted, changed, cancelled, reopened, merged): that call is the person's from then on;
- it leaves each call to the person for a while first (``--assist-after`` for P1 and P2,
  ``--assist-routine-after`` for P3 to P5, in demo seconds);
- it assigns only the units it simulates, so PO60, the unit left to a person in the officer
  app, is never sent anywhere by it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clients.connection import CommandRejected, Connection, ConnectionLost
from clients.geo import random_point
from clients.simulator import OfficerSimulator
from protocol.events import IncidentCreated, IncidentUpdated
from protocol.messages import (
    EventFrame,
    IncidentAssign,
    IncidentClose,
    IncidentCreate,
    Recommend,
    Resync,
    UnitPosition,
    UnitRoster,
    UnitStatus,
)
from protocol.state import CoreUnitStatus, Incident, IncidentStatus, Location

__all__ = [
    "ASSIST_AFTER_S",
    "ASSIST_ROUTINE_AFTER_S",
    "CALL_MIX",
    "HUMAN_UNITS",
    "DemoShift",
    "ROSTER",
    "UNIT_MINUTES_PER_CALL",
    "main",
    "matched_calls_per_minute",
]

log = logging.getLogger("dispatch.demo")

# Places around Edmonton where bylaw and peace-officer calls come from (approximate coordinates).
PLACES = [
    ("Churchill Square", 53.5444, -113.4897),
    ("Whyte Ave & 104 St", 53.5185, -113.4960),
    ("Hawrelak Park", 53.5277, -113.5496),
    ("West Edmonton Mall", 53.5225, -113.6242),
    ("Rogers Place", 53.5469, -113.4978),
    ("Kinsmen Sports Centre", 53.5300, -113.5110),
    ("Mill Creek Ravine", 53.5170, -113.4700),
    ("Coronation Park", 53.5670, -113.5520),
    ("Clareview LRT", 53.6020, -113.4110),
    ("Southgate Centre", 53.4850, -113.5130),
    ("Jasper Ave & 109 St", 53.5412, -113.5100),
    ("Louise McKinney Park", 53.5430, -113.4830),
    ("Borden Park", 53.5650, -113.4690),
    ("Mill Woods Town Centre", 53.4560, -113.4290),
]
CALL_MIX = [  # (call type, weight, sources)
    ("NOISE", 18, ["phone", "311"]),
    ("PARKING", 16, ["311", "phone"]),
    ("ANIMAL", 8, ["phone"]),
    ("TRESPASS", 7, ["phone", "cctv"]),
    ("DISORDER", 8, ["phone", "radio", "cctv"]),
    ("VANDALISM", 6, ["email", "cctv"]),
    ("ENCAMPMENT", 8, ["311", "email"]),
    ("GRAFFITI", 6, ["311"]),
    ("TRANSIT", 6, ["emergency_phone", "cctv"]),
    ("PARK BYLAW", 6, ["officer", "phone"]),
    ("WELFARE CHECK", 5, ["phone", "311"]),
    ("PANIC/DURESS ALARM", 2, ["alarm", "panic"]),
    ("TRAIL PATROL", 2, ["officer"]),
    ("RIVER VALLEY", 2, ["phone"]),
]
NARRATIVES = {
    "NOISE": "Loud music and shouting from a gathering",
    "PARKING": "Vehicle blocking a driveway",
    "ANIMAL": "Dog off leash, aggressive towards walkers",
    "TRESPASS": "Person refusing to leave closed facility",
    "DISORDER": "Group causing disturbance, possibly intoxicated",
    "VANDALISM": "Damage to benches overnight",
    "ENCAMPMENT": "Tents set up near the path",
    "GRAFFITI": "Fresh tags on the underpass",
    "TRANSIT": "Fare dispute escalating on the platform",
    "PARK BYLAW": "Fire lit outside a fire pit",
    "WELFARE CHECK": "Person lying on the ground, not responding",
    "PANIC/DURESS ALARM": "Duress alarm at a facility",
    "TRAIL PATROL": "Check on reported ATV use of the trail",
    "RIVER VALLEY": "Canoe overturned, people on the bank",
}
ROSTER = [  # (unit, district, capabilities)
    ("PO11", "Downtown", ["first_aid"]),
    ("PO12", "Downtown", ["first_aid"]),
    ("PO21", "Northwest", ["first_aid", "k9"]),
    ("PO22", "Northwest", []),
    ("PO31", "Northeast", ["first_aid"]),
    ("PO32", "Northeast", ["atv"]),
    ("PO41", "Southwest", ["first_aid"]),
    ("PO42", "Southwest", ["boat"]),
    ("PO51", "Southeast", ["first_aid"]),
    ("PO52", "Southeast", []),
]
# Rostered but not simulated: the unit a person drives from the officer app (see server/runner.py).
# It starts off duty, as a real unit does before its shift: nobody is signed in as it, so nobody
# could check in, and off duty has no welfare timer, no status alarm, and is never recommended.
# The person starts all of that by going on duty in the app ("Clear: available"), as an officer
# would; from then on a missed check-in is theirs to avoid, as on a real shift. Every start gives
# the demo accounts new passwords, which ends earlier sign-ins (server/runner.py), so a unit left
# on duty by a previous run is put off duty again.
HUMAN_UNITS = [("PO60", "Downtown", ["first_aid"])]
OFF_DUTY = CoreUnitStatus.OFF_DUTY
_WAITING = (IncidentStatus.PENDING, IncidentStatus.REOPENED)  # a call waiting for a unit
DISPOSITIONS = ["report taken", "citation issued", "gone on arrival", "unable to locate", "no action required"]

# How long the assistant leaves a call to a person before working it, in demo seconds (sped up
# like the simulation). P1 and P2 are what a person at the board wants to take first; the P1
# target to dispatch is 60 s and its unassigned alarm 90 s (policy.default.toml), so the
# assistant still makes the alarm when nobody is there. Routine calls are taken sooner.
ASSIST_AFTER_S = 60.0
ASSIST_ROUTINE_AFTER_S = 20.0
URGENT_PRIORITIES = frozenset({1, 2})
RETRY_S = 5.0  # demo seconds between tries at a call no simulated unit can take yet
SWEEP_MIN_S = 0.05  # real seconds between the assistant's looks at the calls, at the least

# The call rate, matched to the units. A simulated unit spends on one call: 4 s to acknowledge
# (2-6 s), the drive at 16 m/s from wherever the nearest free unit is (about 4.4 km, 4.6 minutes,
# on average: units patrol the whole service area, calls come from its busier places), and 1-3
# check-ins 20-60 s apart on scene (80 s): 6.0 minutes on average (median 5.1), measured from
# the assignments of a DemoShift run for ten demo hours at speedup 60 against a hub. With
# BUSY_SHARE of the units on calls on average and the rest free, calls arrive at
# BUSY_SHARE * units / UNIT_MINUTES_PER_CALL a minute: 0.83, one every 1.2 minutes, for the ten
# units. Faster than units / UNIT_MINUTES_PER_CALL (1.7 a minute) and the queue grows without
# end (issue 14: 4 a minute left 61 calls open after 16 minutes).
UNIT_MINUTES_PER_CALL = 6.0
BUSY_SHARE = 0.5


def matched_calls_per_minute(units: int) -> float:
    """The mean call rate that keeps ``BUSY_SHARE`` of ``units`` simulated units busy."""
    return BUSY_SHARE * units / UNIT_MINUTES_PER_CALL


@dataclass
class DemoShift:
    url: str
    dispatcher_token: str
    officer_tokens: dict[str, str]
    calls_per_minute: float | None = None  # None: matched to the simulated units
    speedup: float = 1.0
    seed: int | None = None
    assist_after_s: float = ASSIST_AFTER_S  # P1 and P2
    assist_routine_after_s: float = ASSIST_ROUTINE_AFTER_S  # P3 to P5
    call_mix: list[tuple[str, int, list[str]]] = field(default_factory=lambda: list(CALL_MIX))
    area: list[list[float]] = field(default_factory=list)
    incidents: dict[str, Incident] = field(default_factory=dict)  # open calls, as the desk sees them
    created: int = 0
    sims: list[OfficerSimulator] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)  # open calls a person has had a hand in

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self._desk: Connection | None = None
        self._next_try: dict[str, float] = {}

    @property
    def simulated_units(self) -> list[str]:
        return [unit for unit, _, _ in ROSTER if unit in self.officer_tokens]

    @property
    def rate_per_minute(self) -> float:
        if self.calls_per_minute is not None:
            return self.calls_per_minute
        return matched_calls_per_minute(len(self.simulated_units))

    def _board(self) -> dict[str, Any]:
        http = self.url.replace("ws://", "http://").replace("wss://", "https://").rsplit("/ws", 1)[0]
        req = urllib.request.Request(http + "/api/board", headers={"Authorization": f"Bearer {self.dispatcher_token}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            board: dict[str, Any] = json.loads(resp.read())
        return board

    def _own_users(self) -> set[str]:
        """Who the demo is on the hub: its dispatcher, its simulated officers, and the hub itself."""
        conns = [self._desk] + [s.conn for s in self.sims]
        return {"system"} | {c.welcome.user for c in conns if c is not None and c.welcome is not None}

    def _persons(self, incident: Incident, ours: set[str]) -> bool:
        """Whether a person has had a hand in a call: made it, changed it, or assigned to it.
        The event seen (``touched``) counts even after the demo's own units changed it since."""
        return (
            incident.id in self.touched
            or incident.created_by not in ours
            or incident.updated_by not in ours
            or any(a.assigned_by not in ours for a in incident.units)
        )

    def _on_frame(self, frame: object) -> None:
        if isinstance(frame, Resync) and frame.topic == "incidents":
            self.incidents = {i.id: i for i in frame.snapshot if isinstance(i, Incident) and _open(i)}
            self.touched &= self.incidents.keys()
        elif isinstance(frame, EventFrame) and isinstance(frame.payload, IncidentCreated | IncidentUpdated):
            incident = frame.payload.incident
            if not _open(incident):
                self.incidents.pop(incident.id, None)
                self.touched.discard(incident.id)
                self._next_try.pop(incident.id, None)
                return
            self.incidents[incident.id] = incident
            if frame.payload.by not in self._own_users():
                self.touched.add(incident.id)

    async def run(self, duration_s: float | None = None) -> None:
        until = None if duration_s is None else time.time() + duration_s
        board = await asyncio.to_thread(self._board)
        self.area = board["service_area"]
        desk = self._desk = Connection(
            self.url,
            token=self.dispatcher_token,
            topics=["incidents"],
            on_frame=self._on_frame,
            queue_frames=False,
            backoff=(0.2, 5.0),
        )
        await desk.start(30)
        statuses = {u["id"]: u["status"] for u in board["units"]}
        for unit, district, caps in HUMAN_UNITS:
            roster = UnitRoster(
                id=desk.next_id(), unit=unit, call_sign=unit, district=district, capabilities=caps, status=OFF_DUTY
            )
            await self._try(desk, roster)  # the status counts only for a unit new to the roster
            if statuses.get(unit, OFF_DUTY) != OFF_DUTY:
                await self._off_duty(desk, unit)
        self.sims = []
        for unit, district, caps in ROSTER:
            if unit not in self.officer_tokens:
                continue
            await self._try(
                desk,
                UnitRoster(
                    id=desk.next_id(),
                    unit=unit,
                    call_sign=unit,
                    district=district,
                    capabilities=caps,
                    shift="06:30-23:00",
                ),
            )
            start = random_point(self.area, self.rng)
            await self._try(desk, UnitPosition(id=desk.next_id(), unit=unit, lat=start[0], lon=start[1]))
            self.sims.append(
                OfficerSimulator(
                    self.url,
                    self.officer_tokens[unit],
                    unit,
                    self.area,
                    start,
                    speedup=self.speedup,
                    rng=random.Random(self.rng.random()),
                )
            )
        tasks = [asyncio.create_task(s.run(until)) for s in self.sims]
        tasks.append(asyncio.create_task(self._calls(desk, until)))
        tasks.append(asyncio.create_task(self._assistant(desk, until)))
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await desk.close()

    async def _off_duty(self, desk: Connection, unit: str) -> None:
        """Put a unit off duty; from a status that may not go there directly (on a call), by way
        of available, which also clears it from the call."""
        if await self._try(desk, UnitStatus(id=desk.next_id(), unit=unit, status=OFF_DUTY)) is None:
            await self._try(desk, UnitStatus(id=desk.next_id(), unit=unit, status=CoreUnitStatus.AVAILABLE))
            await self._try(desk, UnitStatus(id=desk.next_id(), unit=unit, status=OFF_DUTY))

    async def _try(self, desk: Connection, cmd: Any) -> Any:
        try:
            return await desk.command(cmd)
        except (CommandRejected, ConnectionLost, TimeoutError) as exc:
            log.info("demo: %s", exc)
            return None

    async def _calls(self, desk: Connection, until: float | None) -> None:
        rate = self.rate_per_minute
        if rate <= 0:
            return
        weights = [w for _, w, _ in self.call_mix]
        while until is None or time.time() < until:
            call_type, _, sources = self.rng.choices(self.call_mix, weights=weights)[0]
            place, lat, lon = self.rng.choice(PLACES)
            lat += self.rng.uniform(-0.002, 0.002)
            lon += self.rng.uniform(-0.003, 0.003)
            ack = await self._try(
                desk,
                IncidentCreate(
                    id=desk.next_id(),
                    call_type=call_type,
                    location=Location(place, round(lat, 6), round(lon, 6)),
                    narrative=NARRATIVES.get(call_type, ""),
                    source=self.rng.choice(sources),  # type: ignore[arg-type]
                    caller=self.rng.choice(["", "Anonymous", "J. Tran", "M. Cardinal", "S. Okafor", "R. Desjardins"]),
                ),
            )
            if ack is not None:
                self.created += 1
            await asyncio.sleep(self.rng.expovariate(rate / 60) / self.speedup)

    def _leaves_for_s(self, priority: int) -> float:
        return self.assist_after_s if priority in URGENT_PRIORITIES else self.assist_routine_after_s

    async def _assistant(self, desk: Connection, until: float | None) -> None:
        while until is None or time.time() < until:
            await asyncio.sleep(max(1 / self.speedup, SWEEP_MIN_S))
            if any(s.conn.welcome is None for s in self.sims):
                continue  # who is the demo's own is known once every simulated officer is connected
            for incident in list(self.incidents.values()):
                if self._persons(incident, self._own_users()):
                    continue
                now = time.time() * 1000
                active = [a for a in incident.units if a.cleared_at is None]
                if incident.status in _WAITING:
                    waited_s = (now - incident.created_at) / 1000 * self.speedup
                    if waited_s > self._leaves_for_s(incident.priority) and now >= self._next_try.get(incident.id, 0):
                        self._next_try[incident.id] = now + RETRY_S / self.speedup * 1000
                        await self._assign(desk, incident.id)
                elif incident.units and not active:
                    await self._try(
                        desk,
                        IncidentClose(
                            id=desk.next_id(), incident=incident.id, disposition=self.rng.choice(DISPOSITIONS)
                        ),
                    )

    async def _assign(self, desk: Connection, incident_id: str) -> None:
        """Send the best-ranked unit the demo simulates, if the call is still pending and nobody's
        but the demo's once the recommendation is in (a person may have taken it meanwhile)."""
        ack = await self._try(desk, Recommend(id=desk.next_id(), incident=incident_id))
        if ack is None or ack.recommendation is None:
            return
        simulated = {s.unit for s in self.sims}
        units = [r.unit for r in ack.recommendation.units if r.unit in simulated]
        incident = self.incidents.get(incident_id)
        if not units or incident is None or incident.status not in _WAITING:
            return
        if self._persons(incident, self._own_users()):
            return
        await self._try(desk, IncidentAssign(id=desk.next_id(), incident=incident_id, unit=units[0]))


def _open(incident: Incident) -> bool:
    return incident.status not in (IncidentStatus.CLOSED, IncidentStatus.CANCELLED)


def _env_float(name: str, default: float | None) -> str | None:
    value = os.environ.get(name, "")
    return value if value else (None if default is None else str(default))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m clients.demo", description=__doc__)
    p.add_argument("--url", default="ws://127.0.0.1:8000/ws")
    p.add_argument("--tokens", type=Path, required=True, help="JSON: {dispatcher: token, officers: {unit: token}}")
    tunables = [  # (option, environment variable, default, help)
        (
            "--calls-per-minute",
            "DEMO_CALLS_PER_MINUTE",
            None,
            "mean call rate (default: matched to the units, half busy)",
        ),
        (
            "--assist-after",
            "DEMO_ASSIST_AFTER_S",
            ASSIST_AFTER_S,
            "seconds the assistant leaves a P1 or P2 call to you",
        ),
        ("--assist-routine-after", "DEMO_ASSIST_ROUTINE_AFTER_S", ASSIST_ROUTINE_AFTER_S, "the same for P3 to P5"),
        ("--speedup", "DEMO_SPEEDUP", 1.0, "run the simulation this many times faster"),
    ]
    for option, variable, default, what in tunables:
        shown = "" if default is None else "; default %(default)s"
        p.add_argument(option, type=float, default=_env_float(variable, default), help=f"{what} ({variable}{shown})")
    p.add_argument("--duration", type=float, default=None, help="seconds (default: until stopped)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    tokens = json.loads(args.tokens.read_text())
    shift = DemoShift(
        args.url,
        tokens["dispatcher"],
        tokens["officers"],
        calls_per_minute=args.calls_per_minute,
        speedup=args.speedup,
        assist_after_s=args.assist_after,
        assist_routine_after_s=args.assist_routine_after,
    )
    rate = shift.rate_per_minute
    every = f"one every {1 / rate:.1f} minutes" if rate > 0 else "none"
    print(
        f"  Demo shift: {len(shift.simulated_units)} simulated units; calls {every} on average"
        f" (DEMO_CALLS_PER_MINUTE); the assistant leaves P1/P2 calls to you for {args.assist_after:g} s"
        f" (DEMO_ASSIST_AFTER_S), P3-P5 for {args.assist_routine_after:g} s (DEMO_ASSIST_ROUTINE_AFTER_S).",
        file=sys.stderr,
        flush=True,
    )
    asyncio.run(shift.run(args.duration))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

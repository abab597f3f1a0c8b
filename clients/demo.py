"""A demo shift: a roster, simulated officers, calls arriving over time, and a dispatcher
assistant that assigns from the recommendation and closes calls once their units clear.

    python -m clients.demo --url ws://127.0.0.1:8000/ws --tokens var/demo-tokens.json

``dispatch serve --demo`` (or ``DEMO=1 make serve``) writes the tokens file and runs this.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
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
)
from protocol.state import Incident, Location

__all__ = ["CALL_MIX", "HUMAN_UNITS", "DemoShift", "ROSTER", "main"]

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
HUMAN_UNITS = [("PO60", "Downtown", ["first_aid"])]
DISPOSITIONS = ["report taken", "citation issued", "gone on arrival", "unable to locate", "no action required"]
ASSIGN_AFTER_S = {1: 4, 2: 10, 3: 25, 4: 45, 5: 90}  # the assistant leaves time for a human to go first


@dataclass
class DemoShift:
    url: str
    dispatcher_token: str
    officer_tokens: dict[str, str]
    calls_per_minute: float = 4.0
    speedup: float = 1.0
    seed: int | None = None
    area: list[list[float]] = field(default_factory=list)
    incidents: dict[str, Incident] = field(default_factory=dict)
    created: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def _board_outline(self) -> list[list[float]]:
        http = self.url.replace("ws://", "http://").replace("wss://", "https://").rsplit("/ws", 1)[0]
        req = urllib.request.Request(http + "/api/board", headers={"Authorization": f"Bearer {self.dispatcher_token}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            outline: list[list[float]] = json.loads(resp.read())["service_area"]
        return outline

    def _on_frame(self, frame: object) -> None:
        if isinstance(frame, Resync) and frame.topic == "incidents":
            self.incidents = {i.id: i for i in frame.snapshot if isinstance(i, Incident)}
        elif isinstance(frame, EventFrame) and isinstance(frame.payload, IncidentCreated | IncidentUpdated):
            incident = frame.payload.incident
            if incident.status in ("closed", "cancelled"):
                self.incidents.pop(incident.id, None)
            else:
                self.incidents[incident.id] = incident

    async def run(self, duration_s: float | None = None) -> None:
        until = None if duration_s is None else time.time() + duration_s
        self.area = await asyncio.to_thread(self._board_outline)
        desk = Connection(
            self.url,
            token=self.dispatcher_token,
            topics=["incidents"],
            on_frame=self._on_frame,
            queue_frames=False,
            backoff=(0.2, 5.0),
        )
        await desk.start(30)
        sims = []
        for unit, district, caps in HUMAN_UNITS:
            roster = UnitRoster(id=desk.next_id(), unit=unit, call_sign=unit, district=district, capabilities=caps)
            await self._try(desk, roster)
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
            sims.append(
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
        tasks = [asyncio.create_task(s.run(until)) for s in sims]
        tasks.append(asyncio.create_task(self._calls(desk, until)))
        tasks.append(asyncio.create_task(self._assistant(desk, until)))
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            await desk.close()

    async def _try(self, desk: Connection, cmd: Any) -> Any:
        try:
            return await desk.command(cmd)
        except (CommandRejected, ConnectionLost, TimeoutError) as exc:
            log.info("demo: %s", exc)
            return None

    async def _calls(self, desk: Connection, until: float | None) -> None:
        while until is None or time.time() < until:
            call_type, _, sources = self.rng.choices(CALL_MIX, weights=[w for _, w, _ in CALL_MIX])[0]
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
            await asyncio.sleep(self.rng.expovariate(self.calls_per_minute / 60) / self.speedup)

    async def _assistant(self, desk: Connection, until: float | None) -> None:
        while until is None or time.time() < until:
            await asyncio.sleep(1 / self.speedup)
            now = time.time() * 1000
            for incident in list(self.incidents.values()):
                active = [a for a in incident.units if a.cleared_at is None]
                waited_s = (now - incident.created_at) / 1000 * self.speedup
                if incident.status in ("pending", "reopened") and waited_s > ASSIGN_AFTER_S.get(incident.priority, 60):
                    ack = await self._try(desk, Recommend(id=desk.next_id(), incident=incident.id))
                    if ack is not None and ack.recommendation is not None and ack.recommendation.units:
                        unit = ack.recommendation.units[0].unit
                        await self._try(desk, IncidentAssign(id=desk.next_id(), incident=incident.id, unit=unit))
                elif incident.units and not active and incident.status not in ("pending", "reopened"):
                    await self._try(
                        desk,
                        IncidentClose(
                            id=desk.next_id(), incident=incident.id, disposition=self.rng.choice(DISPOSITIONS)
                        ),
                    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m clients.demo", description=__doc__)
    p.add_argument("--url", default="ws://127.0.0.1:8000/ws")
    p.add_argument("--tokens", type=Path, required=True, help="JSON: {dispatcher: token, officers: {unit: token}}")
    p.add_argument("--calls-per-minute", type=float, default=4.0)
    p.add_argument("--speedup", type=float, default=1.0)
    p.add_argument("--duration", type=float, default=None, help="seconds (default: until stopped)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    tokens = json.loads(args.tokens.read_text())
    shift = DemoShift(args.url, tokens["dispatcher"], tokens["officers"], args.calls_per_minute, args.speedup)
    asyncio.run(shift.run(args.duration))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The demo shift and the officer simulator: calls are worked from dispatch to close, a person at
the board goes first, PO60 is left to a person, simulated officers check in, and calls arrive no
faster than the units clear them."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from clients.connection import Connection
from clients.demo import CALL_MIX, HUMAN_UNITS, ROSTER, DemoShift
from clients.geo import contains, random_point, step_towards
from protocol.events import AlarmRaised, IncidentCreated, IncidentUpdated, UnitUpdated
from protocol.messages import (
    EventFrame,
    IncidentAssign,
    IncidentCreate,
    IncidentNote,
    IncidentUpdate,
    Recommend,
    UnitCheckIn,
    UnitPosition,
    UnitRoster,
    UnitStatus,
)
from protocol.state import Alarm, Incident, Location
from server.access.roles import Role
from server.bus.valkey import EmbeddedValkey
from tests.helpers import RunningHub, S, hub_in_process, wait_for

SQUARE = [[53.5, -113.6], [53.5, -113.4], [53.6, -113.4], [53.6, -113.6], [53.5, -113.6]]
DEMO_DESK = "demo-dispatcher"
PERSON_UNIT = HUMAN_UNITS[0][0]  # PO60
P1_ONLY = [c for c in CALL_MIX if c[0] == "PANIC/DURESS ALARM"]
ROUTINE_ONLY = [c for c in CALL_MIX if c[0] == "NOISE"]  # P4, any unit will do
SENTINEL = "PO99"  # rostered by a test, simulated by nobody, signed in by nobody: its check-ins go missed


def test_simulator_geometry() -> None:
    """Random points fall inside the area; a step moves towards the target and stops on it."""
    rng = random.Random(1)
    assert all(contains(SQUARE, *random_point(SQUARE, rng)) for _ in range(50))
    assert not contains(SQUARE, 53.7, -113.5)
    lat, lon, heading = step_towards(53.5, -113.5, 53.6, -113.5, 1000)
    assert 53.5 < lat < 53.6 and lon == -113.5 and heading == 0.0
    assert step_towards(53.5, -113.5, 53.5001, -113.5, 1000)[:2] == (53.5001, -113.5)


class Board:
    """What a second dispatcher's board sees of the shift: calls in topic order, the most open at
    once, every alarm raised, and the welfare check-ins per unit."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str, Incident]] = []  # (by, "created" or "updated", incident)
        self.calls: dict[str, Incident] = {}
        self.most_open = 0
        self.alarms: list[Alarm] = []
        self.check_ins: Counter[str] = Counter()

    def on_frame(self, frame: object) -> None:
        if not isinstance(frame, EventFrame):
            return
        event = frame.payload
        if isinstance(event, IncidentCreated | IncidentUpdated):
            kind = "created" if isinstance(event, IncidentCreated) else "updated"
            self.log.append((event.by, kind, event.incident))
            self.calls[event.incident.id] = event.incident
            self.most_open = max(self.most_open, len(self.open()))
        elif isinstance(event, AlarmRaised):
            self.alarms.append(event.alarm)
        elif isinstance(event, UnitUpdated) and event.reason == "checked in":
            self.check_ins[event.unit.id] += 1

    def open(self) -> list[Incident]:
        return [i for i in self.calls.values() if i.status not in ("closed", "cancelled")]

    def created_after_last_by(self, user: str) -> list[str]:
        """Calls created after ``user``'s last change, in topic order (the order the demo sees too)."""
        last = max((n for n, (by, _, _) in enumerate(self.log) if by == user), default=-1)
        return [i.id for _, kind, i in self.log[last + 1 :] if kind == "created"]

    def assigned_by(self, user: str) -> list[tuple[str, str]]:
        """(call, unit) for every assignment ``user`` made, as the calls stand now."""
        return [(i.id, a.unit) for i in self.calls.values() for a in i.units if a.assigned_by == user]

    def unit_alarms(self, units: set[str], kinds: set[str] | None = None) -> list[Alarm]:
        return [a for a in self.alarms if a.unit in units and (kinds is None or a.alarm in kinds)]


@contextlib.asynccontextmanager
async def demo(
    valkey: EmbeddedValkey,
    tmp_path: Path,
    *,
    welfare_s: int | None = None,
    before: Callable[[RunningHub], Awaitable[None]] | None = None,
    **shift: Any,
) -> AsyncIterator[tuple[RunningHub, DemoShift, Board]]:
    """A hub (with short welfare timers if asked), a board watching it, and a demo shift running
    (after ``before`` has set the hub up as an earlier run might have left it)."""
    policy: dict[str, Any] = {}
    if welfare_s is not None:
        policy_file = tmp_path / "policy.toml"
        policy_file.write_text(
            f"[welfare]\non_call_s = {welfare_s}\nidle_s = {welfare_s}\ncritical_after_s = {welfare_s // 2}\n"
            f"[priorities.1]\nwelfare_s = {welfare_s}\n"
        )
        policy["policy_file"] = str(policy_file)
    async with hub_in_process(valkey.url, tmp_path / "data", commands_per_s=1e6, commands_burst=10**6, **policy) as hub:
        board = Board()
        watch = Connection(
            hub.url, token=hub.token("watch"), topics=["incidents", "alarms", "units"], on_frame=board.on_frame
        )
        await watch.start()
        if before is not None:
            await before(hub)
        officers = {unit: hub.token(f"demo-{unit}", Role.OFFICER, unit) for unit, _, _ in ROSTER}
        running = DemoShift(hub.url, hub.token(DEMO_DESK), officers, **shift)
        task = asyncio.create_task(running.run())
        try:
            await wait_for(lambda: _units_on_roster(hub.ctx.hub.service.live), 20)
            yield hub, running, board
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await watch.close()


async def roster_sentinel(hub: RunningHub) -> None:
    """A unit on duty that nobody simulates or signs in as: when its missed check-in alarm is up,
    the hub's welfare timers have had their time."""
    async with Connection(hub.url, token=hub.token("ana")) as ana:
        await ana.command(UnitRoster(id=ana.next_id(), unit=SENTINEL, call_sign=SENTINEL, district="Downtown"))


def sentinel_missed(board: Board) -> Callable[[], bool]:
    return lambda: bool(board.unit_alarms({SENTINEL}, {"welfare_missed"}))


async def test_demo_shift_works_calls_from_dispatch_to_close(
    redis: aioredis.Redis, valkey: EmbeddedValkey, tmp_path: Path
) -> None:
    """Ten simulated officers and a call mix: calls get assigned, worked (en route, on scene, clear) and closed."""
    async with demo(valkey, tmp_path, calls_per_minute=60, speedup=60, seed=7) as (hub, shift, _):

        async def closed_call() -> bool:
            row = await hub.ctx.store._row(
                "SELECT COUNT(*) FROM incident_timeline t JOIN incidents i ON i.id = t.incident"
                " WHERE i.status = 'closed' AND t.action IN ('acknowledged', 'closed')"
            )
            return bool(row and row[0] >= 2)

        await wait_for(closed_call, 90)
        assert shift.created > 0
        timeline = await hub.ctx.store._rows(
            "SELECT detail FROM incident_timeline WHERE action = 'unit status' ORDER BY at"
        )
        steps = [r[0].split()[-1] for r in timeline]
        assert "enroute" in steps and "onscene" in steps


async def test_a_person_signed_in_as_dispatcher_takes_a_p1_before_the_assistant(
    redis: aioredis.Redis, valkey: EmbeddedValkey, tmp_path: Path
) -> None:
    """P1 calls arrive; a dispatcher assigns the first (then clears its unit), notes the second and
    changes the third while the assistant leaves them alone. The assistant goes on to work later
    calls, and never assigns or closes any of the three: they are the person's."""
    p1_wait_s = 120 * S  # demo seconds: 4 s at this speedup, several times what the person takes here
    async with demo(
        valkey, tmp_path, calls_per_minute=6, speedup=30, seed=5, assist_after_s=p1_wait_s, call_mix=P1_ONLY
    ) as (hub, _, board):

        def three_p1s() -> list[str] | None:
            p1s = [i.id for by, kind, i in board.log if kind == "created" and by == DEMO_DESK and i.priority == 1]
            return p1s[:3] if len(p1s) >= 3 else None

        first, second, third = await wait_for(three_p1s, 20)
        async with Connection(hub.url, token=hub.token("ana")) as ana:
            ranked = await ana.command(Recommend(id=ana.next_id(), incident=first))
            assert ranked.recommendation is not None and ranked.recommendation.units
            unit = ranked.recommendation.units[0].unit
            await ana.command(IncidentAssign(id=ana.next_id(), incident=first, unit=unit))
            await ana.command(UnitStatus(id=ana.next_id(), unit=unit, status="available"))  # cleared: hers to close
            await ana.command(IncidentNote(id=ana.next_id(), incident=second, text="Alarm company on the line"))
            await ana.command(IncidentUpdate(id=ana.next_id(), incident=third, narrative="Keyholder on the way"))

        def assistant_worked_a_later_call() -> bool:
            later = set(board.created_after_last_by("ana"))
            return any(call in later for call, _ in board.assigned_by(DEMO_DESK))

        # The assistant sweeps its calls in order; it assigned one made after the person's last
        # change, so it has looked at all three since, each past its wait and the first cleared.
        await wait_for(assistant_worked_a_later_call, 30)
        calls = board.calls
        assert [(a.unit, a.assigned_by) for a in calls[first].units] == [(unit, "ana")]
        assert calls[second].units == [] and calls[third].units == []
        assert all(calls[c].status not in ("closed", "cancelled") for c in (first, second, third))
        assert not {first, second, third} & {call for call, _ in board.assigned_by(DEMO_DESK)}


@pytest.mark.slow  # a sped-up shift of simulated minutes
async def test_po60_is_left_to_the_person(redis: aioredis.Redis, valkey: EmbeddedValkey, tmp_path: Path) -> None:
    """Nobody signed in: PO60 is off duty, raises no alarm while another unattended unit's check-in
    goes missed, and is never assigned. Signed in and on duty near the calls, with every simulated
    unit busy, it is the top recommendation, yet the assistant assigns only its own units."""
    welfare_s = max(4, round(4 * S))
    async with demo(
        valkey, tmp_path, welfare_s=welfare_s, calls_per_minute=6, speedup=30, seed=11, call_mix=ROUTINE_ONLY,
        assist_after_s=0, assist_routine_after_s=0,
    ) as (hub, _, board):  # fmt: skip
        await roster_sentinel(hub)
        await wait_for(sentinel_missed(board), 30)
        units = {u.id: u for u in await hub.ctx.hub.service.live.all_units()}
        assert units[PERSON_UNIT].status == "off_duty"
        assert board.unit_alarms({PERSON_UNIT}) == []

        person = Connection(hub.url, token=hub.token("person", Role.OFFICER, PERSON_UNIT))
        await person.start()

        async def keep_checking_in() -> None:
            while True:
                await person.command(UnitCheckIn(id=person.next_id(), unit=PERSON_UNIT))
                await asyncio.sleep(welfare_s / 4)

        checking_in = asyncio.create_task(keep_checking_in())
        try:
            await person.command(UnitStatus(id=person.next_id(), unit=PERSON_UNIT, status="available"))
            await person.command(UnitPosition(id=person.next_id(), unit=PERSON_UNIT, lat=53.5444, lon=-113.4897))
            before = len(board.assigned_by(DEMO_DESK))
            async with Connection(hub.url, token=hub.token("ana")) as ana:

                async def offered_first() -> bool:
                    pending = [c for c in board.open() if c.status == "pending"]
                    if not pending:
                        return False
                    ranked = await ana.command(Recommend(id=ana.next_id(), incident=pending[-1].id))
                    rec = ranked.recommendation
                    return rec is not None and bool(rec.units) and rec.units[0].unit == PERSON_UNIT

                await wait_for(offered_first, 30, interval=0.2)
            # Units keep clearing and the assistant keeps sending them; PO60 is passed over each time.
            await wait_for(lambda: len(board.assigned_by(DEMO_DESK)) >= before + 5, 60)
        finally:
            checking_in.cancel()
            await asyncio.gather(checking_in, return_exceptions=True)
            await person.close()
        assert PERSON_UNIT not in {unit for _, unit in board.assigned_by(DEMO_DESK)}
        assert board.unit_alarms({PERSON_UNIT}) == []


async def test_po60_left_on_duty_by_an_earlier_run_starts_off_duty(
    redis: aioredis.Redis, valkey: EmbeddedValkey, tmp_path: Path
) -> None:
    """A restart gives the demo accounts new passwords, so nobody is signed in as PO60 any more:
    a PO60 still on a call from the run before is cleared from it and put off duty."""

    async def on_a_call(hub: RunningHub) -> None:
        async with Connection(hub.url, token=hub.token("ana")) as ana:
            await ana.command(UnitRoster(id=ana.next_id(), unit=PERSON_UNIT, call_sign=PERSON_UNIT))
            ack = await ana.command(
                IncidentCreate(id=ana.next_id(), call_type="NOISE", location=Location("Churchill Square"))
            )
            assert ack.result is not None
            await ana.command(IncidentAssign(id=ana.next_id(), incident=ack.result["incident"], unit=PERSON_UNIT))

    async with demo(valkey, tmp_path, before=on_a_call, calls_per_minute=0) as (hub, _, board):

        async def off_duty() -> bool:
            units = {u.id: u for u in await hub.ctx.hub.service.live.all_units()}
            return units[PERSON_UNIT].status == "off_duty"

        await wait_for(off_duty, 20)
        (call,) = board.calls.values()
        assert [a.cleared_at is not None for a in call.units] == [True]
        assert board.unit_alarms({PERSON_UNIT}) == []


@pytest.mark.slow  # a sped-up shift of simulated minutes
async def test_simulated_officers_check_in_before_their_welfare_timers(
    redis: aioredis.Redis, valkey: EmbeddedValkey, tmp_path: Path
) -> None:
    """With check-ins due every few seconds, on patrol and on calls, every simulated officer
    checks in again and again, and none misses one, while an unattended unit does."""
    welfare_s = max(6, round(6 * S))
    async with demo(
        valkey, tmp_path, welfare_s=welfare_s, calls_per_minute=3, speedup=20, seed=3, assist_routine_after_s=0
    ) as (hub, shift, board):
        await roster_sentinel(hub)
        await wait_for(sentinel_missed(board), 30)
        simulated = {unit for unit, _, _ in ROSTER}
        missed = board.unit_alarms(simulated, {"welfare_missed"})
        assert missed == [], "they were due before the sentinel was rostered"
        await wait_for(lambda: all(board.check_ins[u] >= 3 for u in simulated), 60)
        on_calls = {unit for _, unit in board.assigned_by(DEMO_DESK)}
        assert on_calls, "some simulated units were checking in while on calls"
        assert board.unit_alarms(simulated, {"welfare_missed"}) == []
        # A simulator counts a check-in once its ack is back, which may be a moment after the board saw it.
        await wait_for(lambda: all(sim.check_ins >= 3 for sim in shift.sims), 10)


@pytest.mark.slow  # a sped-up shift of simulated minutes
async def test_open_calls_stay_bounded_at_the_matched_rate(
    redis: aioredis.Redis, valkey: EmbeddedValkey, tmp_path: Path
) -> None:
    """At the default rate (matched to the ten units, about half of them busy), forty calls in
    never leave more than twice as many open as there are units: the units clear calls about as
    fast as they come (a busy spell reached 15 in ten demo hours; at issue 14's four calls a
    minute, 40 calls in, about 30 are open and the count only grows)."""
    async with demo(valkey, tmp_path, speedup=90, seed=2) as (_, shift, board):
        await wait_for(lambda: shift.created >= 40, 120)
        assert board.most_open <= 2 * len(ROSTER), f"{board.most_open} calls open at once"


async def _units_on_roster(live: object) -> bool:
    return len(await live.all_units()) == len(ROSTER) + len(HUMAN_UNITS)  # type: ignore[attr-defined]

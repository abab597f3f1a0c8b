"""Recovery: when Redis comes back empty, the live state is rebuilt from the records store
before anything is served from it or written into it.

Redis marks the live state present with the partition's ``live`` key, holding the id of the records store it
was built from. While the mark is missing, every dispatch plan and every new incident number is
refused (``server/bus/log.py``, ``take_number.lua``), and whoever meets the refusal first (a
command, the bus reader before it reads the epochs, the hub at start) calls ``ensure``. One hub
rebuilds, under a Redis lock; the others wait for the mark. The rebuild writes, in one step:

- the open incidents, with the newest lines of their timelines;
- every unit of the roster with its status, the resource inventory, the alarms still active
  (latching ones stay up until acknowledged) and emergency traffic if it was on;
- the timers still to fire, from those records by the same rules that set them (a timer whose
  alarm the records show raised already is not set again);

then floors the incident counter past the highest number archived (with a margin for numbers
given in the last moments and never archived), so no id is given twice. The subscribers' resync
follows, as for any new epoch.

A mark naming another records store means hubs on this Redis archive elsewhere: this hub
refuses to start (``SplitRecords``) rather than split the records silently.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass

import msgspec
from redis.asyncio import Redis
from redis.exceptions import LockError

from protocol.state import TRAFFIC_MODE_ID, Alarm, Incident, IncidentStatus, Resource, TrafficMode, UnitState
from server.agency.policy import Policy
from server.bus.log import Bus, Plan
from server.bus.scripts import RAISE_FLOOR
from server.bus.topics import TOPICS, Family
from server.dispatch.live import ALARMS, INCIDENTS, TIMELINE_KEEP, UNITS
from server.dispatch.resources import RESOURCES
from server.dispatch.rules import is_open
from server.dispatch.timers import schedule_status, schedule_unassigned, schedule_welfare
from server.records.live import LiveRecords
from server.records.store import RecordsStore

__all__ = ["ID_MARGIN", "Rebuilt", "Recovery", "SplitRecords", "attach_recovery", "fired_alarm"]

log = logging.getLogger("dispatch.recovery")

# Incident numbers skipped after a rebuild: more than a hub gives in the archiver's window
# (DISPATCH_ARCHIVE_EVERY_S), so a number given and never archived is not given again.
ID_MARGIN = 100
_LOCK_S = 600.0  # a rebuild holds the lock at most this long (hubs waiting for it wait as long)
DISPATCH_TOPICS = tuple(t for t in TOPICS if t.family is Family.DISPATCH)


class SplitRecords(RuntimeError):
    """The hubs on this Redis keep their records in another store."""


@dataclass(frozen=True, slots=True)
class Rebuilt:
    incidents: int
    units: int
    resources: int
    alarms: int
    timers: int
    first_number: int  # the next incident number given


def fired_alarm(timer_id: str, due_ms: int) -> str:
    """The id of the alarm a timer raises (``server/dispatch/timers.py``)."""
    kind, _, subject = timer_id.partition(":")
    if kind == "welfare-warn":
        return f"welfare:{subject}"
    if kind == "welfare-critical":
        return f"welfare-missed:{subject}:{due_ms}"
    return timer_id  # unassigned:<incident>, status:<unit>


class Recovery:
    def __init__(self, bus: Bus, redis: Redis, records: LiveRecords, policy: Policy, store_id: str, describe: str):
        self.bus = bus
        self.redis = redis
        self.records = records
        self.policy = policy
        self.store_id = store_id
        self.describe = describe  # the records store, for the refusal's message
        self.rebuilt: Rebuilt | None = None  # what this hub rebuilt last, if it did
        self._running = asyncio.Lock()
        self._floored = False

    async def ensure(self, wait_s: float = _LOCK_S) -> None:
        """Return once Redis holds live state built from this hub's records store: rebuilt here
        if none is there (and no other hub is at it). Raises SplitRecords if it was built from
        another store."""
        async with self._running:
            deadline = time.monotonic() + wait_s
            while True:
                if await self._marked():
                    if not self._floored:
                        # Once per process: a Redis restored from an older copy keeps its mark but
                        # may have an older counter; numbers archived since are never given again.
                        await RAISE_FLOOR(
                            self.redis, (self.bus.part.incident_seq,), (await self.records.highest_incident_number(),)
                        )
                        self._floored = True
                    return
                lock = self.redis.lock(self.bus.part.rebuilding, timeout=_LOCK_S, blocking=False)
                if await lock.acquire():
                    try:
                        if not await self._marked():  # another hub may have finished meanwhile
                            if await self._streams_kept():
                                log.info("live state present (a hub from before the mark): marked, not rebuilt")
                            else:
                                self.rebuilt = await self._rebuild()
                            await self.redis.set(self.bus.part.live, self.store_id)
                    finally:
                        try:
                            await lock.release()
                        except LockError:  # it ran out: the mark is set, which is what counts
                            log.warning("the rebuild outlasted its lock (%.0fs)", _LOCK_S)
                    continue
                if time.monotonic() > deadline:
                    raise TimeoutError("another hub has been rebuilding the live state for too long")
                await asyncio.sleep(0.05)

    async def _marked(self) -> bool:
        raw = await self.redis.get(self.bus.part.live)
        if raw is None:
            return False
        found = raw.decode() if isinstance(raw, bytes) else str(raw)
        if found in (self.store_id, ""):  # "": set by a hub with no records to rebuild from
            return True
        raise SplitRecords(
            f"the hubs on this Redis keep their records in another store (id {found}); this hub's is"
            f" {self.describe} (id {self.store_id}). Records would be split between them: give every"
            " hub of this partition the same DATABASE_URL (PostgreSQL), or each agency its own partition"
            " (DISPATCH_PARTITION) or its own Redis."
        )

    async def _streams_kept(self) -> bool:
        """Whether Redis kept its dispatch streams (their epochs): it did not come back empty."""
        return bool(await self.redis.exists(*(self.bus.keys(t).epoch for t in DISPATCH_TOPICS)))

    async def _rebuild(self) -> Rebuilt:
        started = time.monotonic()
        incidents = [msgspec.msgpack.decode(r, type=Incident) for r in await self.records.open_incidents()]
        incidents = [i for i in incidents if is_open(i.status)]
        units = [msgspec.msgpack.decode(r, type=UnitState) for r in await self.records.live(UNITS.name)]
        resources = [msgspec.msgpack.decode(r, type=Resource) for r in await self.records.live(RESOURCES.name)]
        alarms: list[Alarm] = []
        mode: TrafficMode | None = None
        for raw in await self.records.live(ALARMS.name):
            record = msgspec.msgpack.decode(raw)
            if isinstance(record, dict) and record.get("kind") == "traffic_mode":
                mode = msgspec.msgpack.decode(raw, type=TrafficMode)
            else:
                alarms.append(msgspec.msgpack.decode(raw, type=Alarm))
        timelines = await self.records.timelines([i.id for i in incidents], TIMELINE_KEEP)

        plan = self.bus.plan()
        for incident in incidents:
            plan.write(INCIDENTS, incident.id, incident)
            for entry in timelines.get(incident.id, []):
                plan.append(self.bus.part.timeline(incident.id), entry, TIMELINE_KEEP)
        for unit in units:
            plan.write(UNITS, unit.id, unit)
        for resource in resources:
            plan.write(RESOURCES, resource.id, resource)
        for alarm in alarms:
            plan.write(ALARMS, alarm.id, alarm)
        if mode is not None and mode.emergency_only:
            plan.write(ALARMS, TRAFFIC_MODE_ID, mode)
        timers = await self._timers(plan, incidents, units, {a.id: a.raised_at for a in alarms})

        highest = await self.records.highest_incident_number()
        # A store that has archived anything may have been given numbers it never archived.
        floor = highest + ID_MARGIN if highest or await self.records.any_events() else 0
        if incidents or units or resources or alarms:
            # A rebuild cut short is run again whole: the timelines start empty each time.
            if incidents:
                await self.redis.delete(*(self.bus.part.timeline(i.id) for i in incidents))
            await self.bus.apply(plan)
        await RAISE_FLOOR(self.redis, (self.bus.part.incident_seq,), (floor,))
        done = Rebuilt(len(incidents), len(units), len(resources), len(alarms), timers, floor + 1)
        log.warning(
            "live state rebuilt from the records store in %.2fs: %d open incidents, %d units, %d resources,"
            " %d active alarms, %d timers; incident numbers go on from %d",
            time.monotonic() - started,
            done.incidents,
            done.units,
            done.resources,
            done.alarms,
            done.timers,
            done.first_number,
        )
        return done

    async def _timers(
        self, plan: Plan, incidents: list[Incident], units: list[UnitState], live_alarms: dict[str, int]
    ) -> int:
        """Set again the timers of these records; leave out those whose alarm was raised already."""
        by_id = {i.id: i for i in incidents}
        for incident in incidents:
            cleared = [a.cleared_at for a in incident.units if a.cleared_at is not None]
            if len(cleared) == len(incident.units):  # nobody on it: waiting since it came in, or since the last left
                since = max(cleared, default=incident.created_at)
                if incident.status == IncidentStatus.REOPENED:
                    since = max(since, incident.updated_at)  # waiting again since it was reopened (or after)
                schedule_unassigned(plan, self.bus, self.policy, incident, since)
        for unit in units:
            call = by_id.get(unit.incident) if unit.incident else None
            schedule_welfare(plan, self.bus, self.policy, unit, call)
            schedule_status(plan, self.bus, self.policy, unit, call)
        timers = plan.timers_set()
        raised = {**await self.records.alarms_raised([fired_alarm(t, due) for t, due in timers]), **live_alarms}
        kept = 0
        for timer_id, due in timers:
            if raised.get(fired_alarm(timer_id, due), -1) >= due:
                plan.drop_timer(timer_id)  # it fired before Redis was lost
            else:
                kept += 1
        return kept


async def attach_recovery(bus: Bus, redis: Redis, store: RecordsStore, policy: Policy) -> Recovery:
    """Give ``bus`` the rebuild from ``store`` (every process that writes dispatch state does:
    the hub, the intake workers), and make sure of the live state now."""
    store_id = await store.shared_key("store-id", uuid.uuid4().hex)
    recovery = Recovery(bus, redis, LiveRecords(store), policy, store_id, store.describe)
    bus.on_empty = recovery.ensure
    await recovery.ensure()  # rebuilt if Redis came back empty; refused if it serves another store
    return recovery

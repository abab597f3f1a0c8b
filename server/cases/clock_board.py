"""Where the clocks of complaint files stand in Redis, and the sweep that announces each turn once.

A clock's next turn (warning, then overdue) is a member ``file|clock`` of one sorted set by
when it turns. Every intake worker sweeps it about once a second: a script claims what is
due with a lease, in one step, so one worker alone handles each turn; the turn is then
recorded in the records store only if the clock is still as last announced
(``CaseRecords.announce``), so a lease that ran out and was claimed again announces nothing
twice. The set is seeded from the records store at start and every ``SEED_EVERY_S``, so
Redis losing it loses no turn: at worst one is announced a little late.

The sweep runs on the intake lane (the workers run at a lower CPU priority than the hub):
its cost lands below everything dispatch does.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from protocol.events import CaseClockTurned
from server.agency.policy import Policy
from server.bus.log import Bus
from server.bus.partition import Partition
from server.bus.scripts import CLAIM_CLOCKS
from server.bus.topics import topic_named
from server.cases.early_warning import EarlyWarnings
from server.cases.letters import LetterDesk
from server.cases.retention import Retention
from server.cases.reviews import Reviews
from server.cases.rules import clocks as engine
from server.cases.rules.letters import LetterKind
from server.cases.timing import STATUS_UPDATE, TERMS, clock_of, next_turn, policy_for
from server.records.cases import CaseRecords, ClockRow
from server.records.store import RecordsStore

__all__ = ["DAILY_KEY", "DUE_KEY", "ClockBoard", "ClockSweep", "SweepLoop"]

log = logging.getLogger("dispatch.cases")

# On the partition's intake slot (``Partition.intake``):
DUE_KEY = "case-clocks"
CLAIMED_KEY = "case-clocks:claimed"
DAILY_KEY = "case-daily:"  # + the day: which worker ran the day's retention and early warning
LEASE_MS = 60_000
SEED_EVERY_S = 600.0
_CASES = topic_named("cases")


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class ClockBoard:
    """The due set: when each counting clock next turns."""

    def __init__(self, redis: Redis, policy: Policy, part: Partition | None = None) -> None:
        self.redis = redis
        self.policy = policy
        self.part = part if part is not None else Partition()
        self.due_key = self.part.intake(DUE_KEY)
        self.claimed_key = self.part.intake(CLAIMED_KEY)

    def next_turn(self, row: ClockRow, now_ms: int) -> int | None:
        """When this clock must next be looked at (``timing.next_turn``)."""
        return next_turn(row, policy_for(self.policy, row.name), TERMS(self.policy), now_ms)

    async def schedule(self, file_number: str, rows: Iterable[ClockRow], now_ms: int | None = None) -> None:
        """Set (or clear) the next turn of each of these clocks of a file."""
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        add: dict[str, int] = {}
        gone: list[str] = []
        for row in rows:
            member = f"{file_number}|{row.name}"
            at = self.next_turn(row, now)
            if at is None:
                gone.append(member)
            else:
                add[member] = at
        async with self.redis.pipeline(transaction=False) as pipe:
            if add:
                pipe.zadd(self.due_key, add)  # type: ignore[arg-type]
            if gone:
                pipe.zrem(self.due_key, *gone)
            await pipe.execute()

    async def seed(self, store: RecordsStore, now_ms: int | None = None) -> int:
        """Every counting clock's next turn, from the records store (kept where already set). -> how many."""
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        records = CaseRecords(store)
        after, seeded = ("", ""), 0
        while True:
            page = await records.counting_clocks(after)
            if not page:
                return seeded
            add = {}
            for file_number, row in page:
                at = self.next_turn(row, now)
                if at is not None:
                    add[f"{file_number}|{row.name}"] = at
            if add:
                await self.redis.zadd(self.due_key, add, nx=True)  # type: ignore[arg-type]
                seeded += len(add)
            after = (page[-1][0], page[-1][1].name)

    async def claim(self, now_ms: int, most: int = 200) -> list[str]:
        got = await CLAIM_CLOCKS(self.redis, (self.due_key, self.claimed_key), (now_ms, most, LEASE_MS))
        return [_s(m) for m in got]

    async def release(self, members: list[str]) -> None:
        if members:
            await self.redis.zrem(self.claimed_key, *members)


class SweepLoop:
    """A sweep run about once a second until stopped, in an intake worker: a failed sweep is
    logged and tried again at the next beat."""

    name = "sweep"
    _stop: asyncio.Event

    async def sweep(self, now_ms: int | None = None) -> int:
        raise NotImplementedError

    def stop(self) -> None:
        self._stop.set()

    async def run(self, every_s: float = 1.0) -> None:
        while not self._stop.is_set():
            try:
                await self.sweep()
            except (RedisError, OSError) as exc:
                log.warning("%s: %s; trying again", self.name, exc)
            except Exception:
                log.exception("%s failed; trying again", self.name)
            try:
                await asyncio.wait_for(self._stop.wait(), every_s)
            except TimeoutError:
                pass


class ClockSweep(SweepLoop):
    """Announce each clock's turn once: on the file's timeline, and as an event on the bus."""

    name = "clock sweep"

    def __init__(
        self, redis: Redis, store: RecordsStore, policy: Policy, bus: Bus, data_dir: Path | None = None
    ) -> None:
        self.redis = redis
        self.board = ClockBoard(redis, policy, bus.part)
        self.letters = LetterDesk(store, bus, policy, data_dir)
        self.retention = Retention(store, policy)
        self.warnings = EarlyWarnings(store, bus, policy)
        self.reviews = Reviews(store, policy)
        self._day = ""
        self.store = store
        self.records = CaseRecords(store)
        self.policy = policy
        self.bus = bus
        self.announced = 0
        self._seeded_at = 0.0
        self._stop = asyncio.Event()

    async def sweep(self, now_ms: int | None = None) -> int:
        """One sweep. -> turns this sweeper announced."""
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        if time.monotonic() - self._seeded_at > SEED_EVERY_S:
            await self.board.seed(self.store, now)
            self._seeded_at = time.monotonic()
        await self.daily(now)
        members = await self.board.claim(now)
        done = 0
        for member in members:
            file_number, _, name = member.rpartition("|")
            if await self._turn(file_number, name, now):
                done += 1
        await self.board.release(members)
        self.announced += done
        return done

    async def _turn(self, file_number: str, name: str, now: int) -> bool:
        found = await self.records.clock(file_number, name)
        if found is None:
            return False
        row, _stage, assignee, _version = found
        state = engine.state(clock_of(row), now, policy_for(self.policy, name), TERMS(self.policy))
        announced = False
        was = row.announced
        if state in ("warning", "overdue") and row.announced != state:
            detail = f"{name} is {'overdue' if state == 'overdue' else 'due soon'}"
            announced = await self.records.announce(file_number, name, row.announced, state, "clock", detail)
            if announced and _CASES is not None:
                event = CaseClockTurned(
                    ts=now,
                    by="clock",
                    file=file_number,
                    clock=name,
                    state=state,
                    due_at=row.due_at,
                    assignee=assignee or "",
                )
                await self.bus.commit(_CASES, event)
            row.announced = state if announced else row.announced
            if announced and name == STATUS_UPDATE and was == "running":
                # The update comes due: a draft of it waits in the coordinator's letters.
                await self.letters.auto_draft(file_number, LetterKind.STATUS_UPDATE, STATUS_UPDATE)
        await self.board.schedule(file_number, [row], now)
        return announced

    async def daily(self, now_ms: int) -> bool:
        """Once a day, by one worker of all: transitory records disposed of, every officer assessed
        again for early warning (old allegations leave the window), last month's audit sample
        drawn. -> whether this worker ran it."""
        day = time.strftime("%Y-%m-%d", time.gmtime(now_ms / 1000))
        if day == self._day:
            return False
        if not await self.redis.set(self.board.part.intake(DAILY_KEY + day), "1", nx=True, ex=3 * 86_400):
            self._day = day  # another worker has it
            return False
        self._day = day
        await self.retention.run(now_ms)
        await self.warnings.reassess_all(now_ms)
        # Last month's file audit sample, drawn once (drawing again adds nothing).
        first = dt.datetime.fromtimestamp(now_ms / 1000, dt.UTC).date().replace(day=1)
        await self.reviews.draw((first - dt.timedelta(days=1)).strftime("%Y-%m"))
        return True

"""The demo shift and the officer simulator: calls are worked from dispatch to close."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import redis.asyncio as aioredis

from clients.demo import HUMAN_UNITS, ROSTER, DemoShift
from clients.geo import contains, random_point, step_towards
from server.auth import Role
from server.valkey import EmbeddedValkey
from tests.helpers import hub_in_process, wait_for

SQUARE = [[53.5, -113.6], [53.5, -113.4], [53.6, -113.4], [53.6, -113.6], [53.5, -113.6]]


def test_simulator_geometry() -> None:
    """Random points fall inside the area; a step moves towards the target and stops on it."""
    rng = random.Random(1)
    assert all(contains(SQUARE, *random_point(SQUARE, rng)) for _ in range(50))
    assert not contains(SQUARE, 53.7, -113.5)
    lat, lon, heading = step_towards(53.5, -113.5, 53.6, -113.5, 1000)
    assert 53.5 < lat < 53.6 and lon == -113.5 and heading == 0.0
    assert step_towards(53.5, -113.5, 53.5001, -113.5, 1000)[:2] == (53.5001, -113.5)


async def test_demo_shift_works_calls_from_dispatch_to_close(
    redis: aioredis.Redis, valkey: EmbeddedValkey, tmp_path: Path
) -> None:
    """Ten simulated officers and a call mix: calls get assigned, worked (en route, on scene, clear) and closed."""
    async with hub_in_process(valkey.url, tmp_path, commands_per_s=1e6, commands_burst=10**6) as hub:
        officers = {unit: hub.token(f"demo-{unit}", Role.OFFICER, unit) for unit, _, _ in ROSTER}
        shift = DemoShift(hub.url, hub.token("demo-dispatcher"), officers, calls_per_minute=60, speedup=60, seed=7)
        task = asyncio.create_task(shift.run())
        try:
            live = hub.ctx.hub.service.live
            await wait_for(lambda: _units_on_roster(live), 20)

            async def closed_call() -> bool:
                async with hub.ctx.store.db.execute(
                    "SELECT COUNT(*) FROM incident_timeline t JOIN incidents i ON i.id = t.incident"
                    " WHERE i.status = 'closed' AND t.action IN ('acknowledged', 'closed')"
                ) as cur:
                    row = await cur.fetchone()
                return bool(row and row[0] >= 2)

            await wait_for(closed_call, 90)
            assert shift.created > 0
            async with hub.ctx.store.db.execute(
                "SELECT detail FROM incident_timeline WHERE action = 'unit status' ORDER BY at"
            ) as cur:
                steps = [r[0].split()[-1] for r in await cur.fetchall()]
            assert "enroute" in steps and "onscene" in steps
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def _units_on_roster(live: object) -> bool:
    return len(await live.all_units()) == len(ROSTER) + len(HUMAN_UNITS)  # type: ignore[attr-defined]

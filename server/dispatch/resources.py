"""ResourceDesk: the inventory of vehicles, boats, ATVs and seasonal equipment.

A resource given to a unit lends it its capabilities (a boat, an ATV), which
the recommendations then count; both records change in one atomic plan.
"""

from __future__ import annotations

from typing import Any

import msgspec

from protocol.codes import ErrorCode
from protocol.events import ResourceUpdated, UnitUpdated
from protocol.messages import ResourceAssign, ResourceUpsert
from protocol.state import Resource, UnitState
from server.access.roles import Principal
from server.bus.log import Plan
from server.bus.topics import topic_named
from server.dispatch.live import UNITS, CommandError, Live, now_ms

__all__ = ["RESOURCES", "ResourceDesk", "lent_capabilities"]

_t = topic_named("resources")
assert _t is not None
RESOURCES = _t
_resource = msgspec.msgpack.Decoder(Resource)
_replace = msgspec.structs.replace


def lent_capabilities(resources: list[Resource]) -> list[str]:
    """What a unit can do thanks to its resources (those in service only)."""
    return sorted({c for r in resources if r.available for c in r.capabilities})


class ResourceDesk:
    def __init__(self, live: Live) -> None:
        self.live = live
        self.bus = live.bus

    async def _read(self, resource_id: str) -> tuple[Resource | None, int]:
        ((raw, version),) = await self.live._read(RESOURCES, [resource_id])
        return (_resource.decode(raw) if raw is not None else None), version

    async def _of_unit(self, unit_id: str) -> list[Resource]:
        raws: Any = await self.live.redis.hvals(self.live.bus.keys(RESOURCES).state)
        return [r for r in (_resource.decode(x) for x in raws) if r.unit == unit_id]

    async def _lend(self, plan: Plan, who: Principal, unit_id: str, held: list[Resource], now: int) -> None:
        unit, version = await self.live.unit(unit_id)
        equipped: UnitState = _replace(unit, equipment=lent_capabilities(held), updated_by=who.user)
        plan.check(UNITS, unit.id, version).write(UNITS, unit.id, equipped)
        plan.emit(UNITS, UnitUpdated(ts=now, by=who.user, unit=equipped, reason="equipment changed"))

    async def upsert(self, who: Principal, cmd: ResourceUpsert) -> tuple[str, str, None]:
        async def attempt() -> tuple[str, str, None]:
            current, version = await self._read(cmd.resource)
            now = now_ms()
            resource = Resource(
                id=cmd.resource,
                category=cmd.category,
                name=cmd.name,
                capabilities=sorted(set(cmd.capabilities)),
                available=cmd.available,
                note=cmd.note,
                unit=current.unit if current else None,
                updated_at=now,
                updated_by=who.user,
            )
            plan = self.bus.plan().check(RESOURCES, resource.id, version).write(RESOURCES, resource.id, resource)
            if resource.unit is not None:  # its capabilities or availability may have changed
                held = [r for r in await self._of_unit(resource.unit) if r.id != resource.id] + [resource]
                await self._lend(plan, who, resource.unit, held, now)
            plan.emit(RESOURCES, ResourceUpdated(ts=now, by=who.user, resource=resource))
            return RESOURCES.name, (await self.bus.apply(plan))[-1][0], None

        return await self.live.retrying(attempt, f"resource {cmd.resource}")

    async def assign(self, who: Principal, cmd: ResourceAssign) -> tuple[str, str, None]:
        async def attempt() -> tuple[str, str, None]:
            resource, version = await self._read(cmd.resource)
            if resource is None:
                raise CommandError(ErrorCode.NOT_FOUND, f"no resource {cmd.resource} in the inventory")
            if cmd.unit is not None and not resource.available:
                raise CommandError(ErrorCode.INVALID_TRANSITION, f"{resource.id} is not in service")
            now = now_ms()
            moved = _replace(resource, unit=cmd.unit, updated_at=now, updated_by=who.user)
            plan = self.bus.plan().check(RESOURCES, resource.id, version).write(RESOURCES, resource.id, moved)
            for unit_id in {resource.unit, cmd.unit} - {None}:
                assert unit_id is not None
                held = [r for r in await self._of_unit(unit_id) if r.id != resource.id]
                if moved.unit == unit_id:
                    held.append(moved)
                await self._lend(plan, who, unit_id, held, now)
            plan.emit(RESOURCES, ResourceUpdated(ts=now, by=who.user, resource=moved))
            return RESOURCES.name, (await self.bus.apply(plan))[-1][0], None

        return await self.live.retrying(attempt, f"resource {cmd.resource}")

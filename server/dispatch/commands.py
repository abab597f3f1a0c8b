"""DispatchService: checks permission, hands each command to its desk, answers it.

Every command gets exactly one answer: ``ack`` (with the offset of the event
it caused) or ``error`` with a stable code.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from protocol.codes import ErrorCode
from protocol.events import IncidentCreated
from protocol.messages import (
    Ack,
    AlarmAcknowledge,
    AlarmCancel,
    AlarmPolice,
    Command,
    Error,
    IncidentAssign,
    IncidentCancel,
    IncidentClose,
    IncidentCreate,
    IncidentLink,
    IncidentMerge,
    IncidentNote,
    IncidentPolice,
    IncidentReopen,
    IncidentUnassign,
    IncidentUpdate,
    RadioAppend,
    Recommend,
    ResourceAssign,
    ResourceUpsert,
    TrafficEmergency,
    UnitAcknowledge,
    UnitCheckIn,
    UnitPanic,
    UnitPosition,
    UnitRoster,
    UnitStatus,
)
from protocol.state import Alarm, Incident
from server.access.permissions import may_command
from server.access.roles import Principal
from server.agency.policy import Policy
from server.bus.log import Bus, Duplicate, Unconfirmed, current_command
from server.dispatch.alarms import OfficerSafety
from server.dispatch.incidents import IncidentDesk
from server.dispatch.live import INCIDENTS, CommandError, Live, Reply
from server.dispatch.radio_log import RadioLog
from server.dispatch.resources import ResourceDesk
from server.dispatch.units import UnitDesk

__all__ = ["CommandError", "DispatchService"]

log = logging.getLogger("dispatch.commands")

ArchivedIncident = Callable[[str], Awaitable[Incident | None]]


ArchivedAlarm = Callable[[str], Awaitable[Alarm | None]]


async def _none(_: str) -> Incident | None:
    return None


async def _no_alarm(_: str) -> Alarm | None:
    return None


class DispatchService:
    def __init__(
        self,
        bus: Bus,
        redis: Redis,
        policy: Policy,
        archived_incident: ArchivedIncident = _none,
        archived_alarm: ArchivedAlarm = _no_alarm,
    ) -> None:
        self.live = Live(bus, redis, policy)
        self.incidents = IncidentDesk(self.live)
        self.units = UnitDesk(self.live)
        self.safety = OfficerSafety(self.live, self.incidents)
        self.radio = RadioLog(self.live)
        self.resources = ResourceDesk(self.live)
        self.archived_incident = archived_incident
        self.archived_alarm = archived_alarm

    async def handle(self, who: Principal, cmd: Command) -> Ack | Error:
        tag = type(cmd).__struct_config__.tag
        assert isinstance(tag, str)
        if not may_command(who, tag, getattr(cmd, "unit", None)):
            why = "for its own unit only" if who.unit else "not permitted"
            return Error(ErrorCode.FORBIDDEN, f"{who.role.value} may not send {tag}: {why}", cmd.id)
        token = current_command.set((who.user, cmd.id))
        try:
            if isinstance(cmd, Recommend):
                return Ack(ref=cmd.id, recommendation=await self.incidents.recommend(who, cmd))
            topic, offset, result = await self._apply(who, cmd)
        except Duplicate as exc:
            result = {"duplicate": "yes"}
            if isinstance(cmd, IncidentCreate):  # a retried create learns the id of the call it made
                made = await self._created_at(exc.offset)
                if made is not None:
                    result["incident"] = made
            return Ack(ref=cmd.id, offset=exc.offset, result=result)
        except CommandError as exc:
            return Error(exc.code, exc.message, cmd.id)
        except Unconfirmed as exc:
            log.warning("command %s applied at %s with no replica confirming it", tag, exc.offset)
            message = (
                f"applied at {exc.offset}, but no replica confirmed it in time: a failover now could lose it."
                " Send it again with the same id: it is applied once"
            )
            return Error(ErrorCode.UNAVAILABLE, message, cmd.id)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            # The answer was lost, not necessarily the write: the same id again is applied once.
            log.error("command %s: no answer from redis: %s", tag, exc)
            message = (
                "the live store did not answer; it may or may not have been applied: send it again with the same id"
            )
            return Error(ErrorCode.UNAVAILABLE, message, cmd.id)
        except (RedisError, RedisClusterException) as exc:
            log.error("command %s failed on redis: %s", tag, exc)
            return Error(ErrorCode.UNAVAILABLE, "the live store is unavailable; nothing was written", cmd.id)
        except Exception:
            log.exception("command %s failed", tag)
            return Error(ErrorCode.INTERNAL, "internal error; logged", cmd.id)
        finally:
            current_command.reset(token)
        return Ack(ref=cmd.id, topic=topic, offset=offset, result=result)

    async def _created_at(self, offset: str) -> str | None:
        """The incident an earlier create made, read from its event (while the stream keeps it)."""
        try:
            event = await self.live.event_at(INCIDENTS, offset)
        except RedisError:
            return None
        return event.incident.id if isinstance(event, IncidentCreated) else None

    async def _apply(self, who: Principal, cmd: Command) -> Reply:
        i, u, s = self.incidents, self.units, self.safety
        match cmd:
            case IncidentCreate():
                return await i.create(who, cmd)
            case IncidentUpdate():
                return await i.update(who, cmd)
            case IncidentAssign():
                return await i.assign(who, cmd)
            case IncidentUnassign():
                return await i.unassign(who, cmd)
            case IncidentClose():
                return await i.close(who, cmd)
            case IncidentCancel():
                return await i.cancel(who, cmd)
            case IncidentReopen():
                return await i.reopen(who, cmd, await self.archived_incident(cmd.incident))
            case IncidentMerge():
                return await i.merge(who, cmd)
            case IncidentLink():
                return await i.link(who, cmd)
            case IncidentNote():
                return await i.note(who, cmd)
            case IncidentPolice():
                return await i.request_police(who, cmd)
            case UnitRoster():
                return await u.roster(who, cmd)
            case UnitStatus():
                return await u.status(who, cmd)
            case UnitAcknowledge():
                return await u.acknowledge(who, cmd)
            case UnitCheckIn():
                return await u.check_in(who, cmd)
            case UnitPosition():
                return await u.position(who, cmd)
            case UnitPanic():
                return await s.panic(who, cmd)
            case AlarmAcknowledge():
                return await s.acknowledge(who, cmd)
            case AlarmCancel():
                return await s.cancel(who, cmd)
            case AlarmPolice():
                return await s.request_police(who, cmd, await self.archived_alarm(cmd.alarm))
            case TrafficEmergency():
                return await s.emergency_traffic(who, cmd)
            case RadioAppend():
                return await self.radio.append(who, cmd)
            case ResourceUpsert():
                return await self.resources.upsert(who, cmd)
            case ResourceAssign():
                return await self.resources.assign(who, cmd)
        raise CommandError(ErrorCode.INVALID_FRAME, f"unhandled command {type(cmd).__name__}")

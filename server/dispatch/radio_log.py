"""RadioLog: append-only entries per channel and per incident."""

from __future__ import annotations

from protocol.events import RadioLogged
from protocol.messages import RadioAppend
from protocol.state import RadioEntry
from server.access.roles import Principal
from server.dispatch.live import RADIO, Live, now_ms

__all__ = ["RadioLog"]


class RadioLog:
    def __init__(self, live: Live) -> None:
        self.bus = live.bus

    async def append(self, who: Principal, cmd: RadioAppend) -> tuple[str, str, None]:
        now = now_ms()
        entry = RadioEntry(
            channel=cmd.channel, text=cmd.text, at=now, by=who.user, unit=cmd.unit, incident=cmd.incident
        )
        plan = self.bus.plan().emit(RADIO, RadioLogged(ts=now, by=who.user, entry=entry))
        return RADIO.name, (await self.bus.apply(plan))[0][0], None

"""What the records hold of the live state, read when Redis came back empty and the hub rebuilds
it (``server/dispatch/recovery.py``): open incidents with their timelines, the newest record of
each unit, resource and live alarm, the alarms already raised, and the highest incident number
given. All their SQL is here."""

from __future__ import annotations

from collections.abc import Sequence

from protocol.state import IncidentStatus, TimelineEntry
from server.records.store import RecordsStore

__all__ = ["LiveRecords"]

_CLOSED = (IncidentStatus.CLOSED.value, IncidentStatus.CANCELLED.value)


class LiveRecords:
    def __init__(self, store: RecordsStore) -> None:
        self.store = store

    async def open_incidents(self) -> list[bytes]:
        """The records of incidents neither closed nor cancelled, as last archived (msgpack)."""
        rows = await self.store._rows("SELECT record FROM incidents WHERE status NOT IN (?,?) ORDER BY id", _CLOSED)
        return [bytes(r[0]) for r in rows]

    async def live(self, topic: str) -> list[bytes]:
        """The newest record of each live unit, resource or alarm of ``topic`` (msgpack)."""
        rows = await self.store._rows("SELECT record FROM live_records WHERE topic=? AND live=1 ORDER BY id", (topic,))
        return [bytes(r[0]) for r in rows]

    async def timelines(self, incident_ids: Sequence[str], keep: int) -> dict[str, list[TimelineEntry]]:
        """The newest ``keep`` lines of each incident's timeline, oldest first."""
        out: dict[str, list[TimelineEntry]] = {}
        for incident in incident_ids:
            rows = await self.store._rows(
                "SELECT at, by, action, detail, unit FROM incident_timeline WHERE incident=?"
                " ORDER BY at DESC, length(event_id) DESC, event_id DESC LIMIT ?",
                (incident, keep),
            )
            out[incident] = [
                TimelineEntry(at=r[0], by=r[1], action=r[2], detail=r[3], unit=r[4]) for r in reversed(rows)
            ]
        return out

    async def alarms_raised(self, alarm_ids: Sequence[str]) -> dict[str, int]:
        """When each of these alarms was raised, for those the records know (fired timers)."""
        found: dict[str, int] = {}
        ids = list(dict.fromkeys(alarm_ids))
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = await self.store._rows(
                f"SELECT id, raised_at FROM alarms WHERE id IN ({','.join('?' * len(chunk))})", chunk
            )
            found.update({str(r[0]): int(r[1]) for r in rows})
        return found

    async def any_events(self) -> bool:
        """Whether anything was ever archived."""
        return await self.store._row("SELECT 1 FROM events LIMIT 1") is not None

    async def highest_incident_number(self) -> int:
        """The highest number of an incident archived (I261203-00042: 42); 0 if none."""
        number = self.store.engine.number_at_end("id")
        row = await self.store._row(f"SELECT MAX({number}) FROM incidents WHERE id LIKE 'I%'")
        return int(row[0] or 0) if row else 0

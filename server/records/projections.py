"""What each event changes in the records store's tables, as SQL. Pure.

Idempotent, so an event archived twice (after a crash) changes nothing more;
an older event never overwrites a newer incident row.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec

from protocol.events import AlarmRaised, AlarmUpdated, Event, IncidentCreated, IncidentUpdated, RadioLogged

__all__ = ["project"]

_enc = msgspec.msgpack.Encoder()

_UPSERT_INCIDENT = """
INSERT INTO incidents(id, call_type, priority, status, source, address, lat, lon, district, inside,
                      created_at, first_dispatch_at, closed_at, disposition, updated_at, record)
VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
ON CONFLICT(id) DO UPDATE SET
    call_type=excluded.call_type, priority=excluded.priority, status=excluded.status,
    address=excluded.address, lat=excluded.lat, lon=excluded.lon, district=excluded.district,
    inside=excluded.inside, first_dispatch_at=excluded.first_dispatch_at, closed_at=excluded.closed_at,
    disposition=excluded.disposition, updated_at=excluded.updated_at, record=excluded.record
WHERE excluded.updated_at >= incidents.updated_at
"""

_UPSERT_ALARM = """
INSERT INTO alarms(id, kind, unit, incident, reason, raised_at, raised_by, state, acked_by, acked_at,
                   cancelled_by, cancel_reason, police_requested_by, police_requested_at, updated_at)
VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
ON CONFLICT(id) DO UPDATE SET
    -- what was recorded stays recorded: a later event never clears who acknowledged,
    -- nor brings an acknowledged, cancelled or resolved alarm back to active
    state=CASE WHEN excluded.state = 'active' THEN alarms.state ELSE excluded.state END,
    acked_by=COALESCE(excluded.acked_by, alarms.acked_by), acked_at=COALESCE(excluded.acked_at, alarms.acked_at),
    cancelled_by=COALESCE(excluded.cancelled_by, alarms.cancelled_by),
    cancel_reason=COALESCE(NULLIF(excluded.cancel_reason, ''), alarms.cancel_reason),
    police_requested_by=COALESCE(excluded.police_requested_by, alarms.police_requested_by),
    police_requested_at=COALESCE(excluded.police_requested_at, alarms.police_requested_at),
    updated_at=MAX(excluded.updated_at, alarms.updated_at)
"""


def project(event_id: str, event: Event) -> Iterator[tuple[str, tuple[Any, ...]]]:
    match event:
        case IncidentCreated(incident=i, entry=entry) | IncidentUpdated(incident=i, entry=entry):
            loc = i.location
            yield (
                _UPSERT_INCIDENT,
                (
                    i.id,
                    i.call_type,
                    i.priority,
                    i.status,
                    i.source,
                    loc.address,
                    loc.lat,
                    loc.lon,
                    loc.district,
                    None if loc.inside is None else int(loc.inside),
                    i.created_at,
                    i.first_dispatch_at,
                    i.closed_at,
                    i.disposition,
                    i.updated_at,
                    _enc.encode(i),
                ),
            )
            if entry is not None:
                yield (
                    "INSERT OR IGNORE INTO incident_timeline(incident, event_id, at, by, action, detail, unit)"
                    " VALUES (?,?,?,?,?,?,?)",
                    (i.id, event_id, entry.at, entry.by, entry.action, entry.detail, entry.unit),
                )
        case RadioLogged(entry=r):
            yield (
                "INSERT OR IGNORE INTO radio_log(id, at, channel, unit, incident, by, text) VALUES (?,?,?,?,?,?,?)",
                (event_id, r.at, r.channel, r.unit, r.incident, r.by, r.text),
            )
        case AlarmRaised(alarm=a) | AlarmUpdated(alarm=a):
            yield (
                _UPSERT_ALARM,
                (
                    a.id,
                    a.alarm,
                    a.unit,
                    a.incident,
                    a.reason,
                    a.raised_at,
                    a.raised_by,
                    a.state,
                    a.acked_by,
                    a.acked_at,
                    a.cancelled_by,
                    a.cancel_reason,
                    a.police_requested_by,
                    a.police_requested_at,
                    event.ts,
                ),
            )
        case _:
            return

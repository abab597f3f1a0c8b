"""What each event changes in the records store's tables, as SQL. Pure.

Idempotent, so an event archived twice (after a crash) changes nothing more;
an older event never overwrites a newer incident row.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec

from protocol.events import (
    AlarmRaised,
    AlarmUpdated,
    Event,
    IncidentCreated,
    IncidentUpdated,
    RadioLogged,
    ResourceUpdated,
    TrafficModeChanged,
    UnitStatusChanged,
    UnitUpdated,
)
from protocol.state import TRAFFIC_MODE_ID

__all__ = ["lock_order", "project"]

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
    -- an incident of the same id made since (Redis lost its counter) never overwrites this one
    AND excluded.created_at = incidents.created_at
"""

# A timeline line only for the incident the event is about (the row above, not another of that id).
_TIMELINE = """
INSERT INTO incident_timeline(incident, event_id, at, by, action, detail, unit)
SELECT ?,?,?,?,?,?,? WHERE EXISTS (SELECT 1 FROM incidents WHERE id=? AND created_at=?)
ON CONFLICT DO NOTHING
"""

_UPSERT_ALARM = """
INSERT INTO alarms(id, kind, unit, incident, reason, raised_at, raised_by, state, acked_by, acked_at,
                   cancelled_by, cancel_reason, police_requested_by, police_requested_at, updated_at)
VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
ON CONFLICT(id) DO UPDATE SET
    -- Raised again (an id such as status:<unit> is reused): the row is the new raising's.
    -- Else what was recorded stays recorded: a later event never clears who acknowledged,
    -- nor brings an acknowledged, cancelled or resolved alarm back to active.
    kind=excluded.kind, unit=excluded.unit, incident=excluded.incident, reason=excluded.reason,
    raised_by=CASE WHEN excluded.raised_at > alarms.raised_at THEN excluded.raised_by ELSE alarms.raised_by END,
    state=CASE WHEN excluded.raised_at > alarms.raised_at OR excluded.state <> 'active'
               THEN excluded.state ELSE alarms.state END,
    acked_by=CASE WHEN excluded.raised_at > alarms.raised_at THEN excluded.acked_by
                  ELSE COALESCE(excluded.acked_by, alarms.acked_by) END,
    acked_at=CASE WHEN excluded.raised_at > alarms.raised_at THEN excluded.acked_at
                  ELSE COALESCE(excluded.acked_at, alarms.acked_at) END,
    cancelled_by=CASE WHEN excluded.raised_at > alarms.raised_at THEN excluded.cancelled_by
                      ELSE COALESCE(excluded.cancelled_by, alarms.cancelled_by) END,
    cancel_reason=CASE WHEN excluded.raised_at > alarms.raised_at THEN excluded.cancel_reason
                       ELSE COALESCE(NULLIF(excluded.cancel_reason, ''), alarms.cancel_reason) END,
    police_requested_by=CASE WHEN excluded.raised_at > alarms.raised_at THEN excluded.police_requested_by
                             ELSE COALESCE(excluded.police_requested_by, alarms.police_requested_by) END,
    police_requested_at=CASE WHEN excluded.raised_at > alarms.raised_at THEN excluded.police_requested_at
                             ELSE COALESCE(excluded.police_requested_at, alarms.police_requested_at) END,
    raised_at=CASE WHEN excluded.raised_at > alarms.raised_at THEN excluded.raised_at ELSE alarms.raised_at END,
    updated_at=CASE WHEN excluded.updated_at > alarms.updated_at THEN excluded.updated_at ELSE alarms.updated_at END
"""


# The newest record of each unit, resource, alarm and the traffic mode, and whether it is still live
# (an alarm acknowledged, cancelled or resolved is not; nor emergency traffic turned off).
_LIVE = """
INSERT INTO live_records(topic, id, record, live, event_ms, event_seq) VALUES (?,?,?,?,?,?)
ON CONFLICT(topic, id) DO UPDATE SET
    record=excluded.record, live=excluded.live, event_ms=excluded.event_ms, event_seq=excluded.event_seq
WHERE excluded.event_ms > live_records.event_ms
   OR (excluded.event_ms = live_records.event_ms AND excluded.event_seq > live_records.event_seq)
"""


def _live(event_id: str, topic: str, record_id: str, record: Any, live: bool) -> tuple[str, tuple[Any, ...]]:
    ms, _, seq = event_id.partition("-")
    return _LIVE, (topic, record_id, _enc.encode(record), int(live), int(ms), int(seq or 0))


def lock_order(sql: str, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """The key of the row a statement writes: hubs archiving at once write rows in this order
    (and the events of one row in the order they came), so their transactions never deadlock."""
    return args[:2] if sql in (_LIVE, _TIMELINE) else args[:1]


def project(event_id: str, event: Event) -> Iterator[tuple[str, tuple[Any, ...]]]:
    match event:
        case UnitStatusChanged(unit=u) | UnitUpdated(unit=u):
            yield _live(event_id, "units", u.id, u, True)
        case ResourceUpdated(resource=r):
            yield _live(event_id, "resources", r.id, r, True)
        case TrafficModeChanged(mode=m):
            yield _live(event_id, "alarms", TRAFFIC_MODE_ID, m, m.emergency_only)
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
                    _TIMELINE,
                    (i.id, event_id, entry.at, entry.by, entry.action, entry.detail, entry.unit, i.id, i.created_at),
                )
        case RadioLogged(entry=r):
            yield (
                "INSERT INTO radio_log(id, at, channel, unit, incident, by, text) VALUES (?,?,?,?,?,?,?)"
                " ON CONFLICT DO NOTHING",
                (event_id, r.at, r.channel, r.unit, r.incident, r.by, r.text),
            )
        case AlarmRaised(alarm=a) | AlarmUpdated(alarm=a):
            yield _live(event_id, "alarms", a.id, a, a.state == "active")
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

"""An incident as NENA EIDO JSON (NENA-STA-021 field names). Pure.

Units are emergencyResource components with the EIDO unit status registry
(Available, ConditionallyAvailable, NotAvailable) and our own status as the
secondary text; the location is a PIDF-LO point with a civic address.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from protocol.state import Availability, CoreUnitStatus, Incident, IncidentStatus, TimelineEntry, UnitState
from server.agency.policy import Policy
from server.dispatch.rules.lifecycle import EIDO_INCIDENT_STATUS, availability_of

__all__ = ["EIDO_UNIT_STATUS", "incident_to_eido"]

EIDO_UNIT_STATUS = {
    Availability.AVAILABLE: "Available",
    Availability.CONDITIONAL: "ConditionallyAvailable",
    Availability.NOT_AVAILABLE: "NotAvailable",
}


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _pidf_lo(policy: Policy, incident: Incident) -> dict[str, Any]:
    loc = incident.location
    a = policy.agency
    info: dict[str, Any] = {
        "civicAddress": {"country": a.country, "A1": a.region, "A3": a.city, "civicAddressText": loc.address}
    }
    if loc.lat is not None and loc.lon is not None:
        info["Point"] = {"srsName": "urn:ogc:def:crs:EPSG::4326", "pos": f"{loc.lat} {loc.lon}"}
    return {"presence": {"entity": f"pres:{incident.id}", "tuple": {"status": {"geopriv": {"location-info": info}}}}}


def incident_to_eido(
    policy: Policy, incident: Incident, timeline: list[TimelineEntry], units: dict[str, UnitState], agency: str
) -> dict[str, Any]:
    """The EIDO document for one incident, with its units and its timeline as notes."""
    status = EIDO_INCIDENT_STATUS[IncidentStatus(incident.status)]
    resources = []
    for a in incident.units:
        unit = units.get(a.unit)
        ours = unit.status if unit is not None and a.cleared_at is None else CoreUnitStatus.AVAILABLE
        resources.append(
            {
                "componentIdentifier": f"{incident.id}:unit:{a.unit}:{a.assigned_at}",
                "resourceIdentifier": a.unit,
                "unitPrimaryIndicator": a.primary,
                "primaryUnitStatusRegistryText": EIDO_UNIT_STATUS[availability_of(policy, ours)],
                "secondaryUnitStatusRegistryText": ours,
                "dispatchDateTimeStamp": _iso(a.assigned_at),
                "acknowledgeDateTimeStamp": _iso(a.acknowledged_at),
                "clearedDateTimeStamp": _iso(a.cleared_at),
            }
        )
    return {
        "eidoMessageIdentifier": f"urn:dispatch-hub:eido:{incident.id}:{incident.updated_at}",
        "lastUpdateTimeStamp": _iso(incident.updated_at),
        "sendingSystemIdentifier": agency,
        "sendingAgencyName": policy.agency.name,
        "incidentComponent": {
            "componentIdentifier": f"{incident.id}:incident",
            "incidentTrackingIdentifier": incident.id,
            "incidentTypeCommonRegistryText": [incident.call_type],
            "incidentStatusCommonRegistryText": [status],
            "incidentCommonPriorityNumber": policy.priority(incident.priority).eido,
            "incidentLocalPriorityText": policy.priority(incident.priority).label,
            "beatOrDispatchGroupText": incident.location.district or "",
            "incidentCreationTimeStamp": _iso(incident.created_at),
            "incidentFirstDispatchTimeStamp": _iso(incident.first_dispatch_at),
            "incidentClosedTimeStamp": _iso(incident.closed_at),
            "dispositionCommonRegistryText": incident.disposition,
            "incidentSourceText": incident.source,
            "linkedIncidentTrackingIdentifier": list(incident.linked),
            "mergedIntoIncidentTrackingIdentifier": incident.merged_into,
        },
        "locationComponent": [
            {
                "componentIdentifier": f"{incident.id}:location",
                "locationByValue": _pidf_lo(policy, incident),
                "insideServiceAreaIndicator": incident.location.inside,
            }
        ],
        "emergencyResourceComponent": resources,
        "notesComponent": [
            {
                "noteDateTimeStamp": _iso(e.at),
                "authorReference": e.by,
                "noteText": f"{e.action}: {e.detail}".strip(": "),
            }
            for e in timeline
        ],
    }

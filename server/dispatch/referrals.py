"""311 referrals: what a service request holds, where it goes, and what 311 is told back.

A referral becomes a low-priority call on the dispatch board or an
information request routed to a business area, as its service says. Its
status is read from what it became: 311 sees ``closed`` with the reason once
the call is closed or cancelled, or the information request answered.
"""

from __future__ import annotations

from typing import Any

import msgspec

from protocol.messages import IncidentCreate
from protocol.state import Incident, IncidentStatus, Location
from server.access.roles import Principal, Role
from server.agency.policy import Policy, Service
from server.bus.log import Conflict
from server.dispatch.incidents import IncidentDesk
from server.intake.worker import Entry, Malformed
from server.records.referrals import NewInfoRequest, NewServiceRequest, ReferralRecords
from server.records.store import RecordsStore

__all__ = ["ReferralFiler", "ReferralIn", "incident_id_for", "narrative_for", "request_status"]


class ReferralIn(msgspec.Struct, forbid_unknown_fields=True):
    """A service request as posted (Open311 names), after the door's checks."""

    service_code: str
    lat: float | None = None
    long: float | None = None
    address_string: str = ""
    address_id: str = ""
    email: str = ""
    device_id: str = ""
    account_id: str = ""
    first_name: str = ""
    last_name: str = ""
    phone: str = ""
    description: str = ""
    media_url: str = ""
    attributes: dict[str, str | list[str]] = {}


def incident_id_for(request_id: str) -> str:
    """The call a referral becomes has an id made from the request's: it can only be made once."""
    return f"311-{request_id}"


_incident_decoder = msgspec.msgpack.Decoder(Incident)

_ACTIVE: dict[str, str] = {
    IncidentStatus.PENDING: "Received by dispatch; waiting for an officer.",
    IncidentStatus.REOPENED: "Reopened by dispatch; waiting for an officer.",
    IncidentStatus.ASSIGNED: "An officer has been assigned.",
    IncidentStatus.ENROUTE: "An officer is on the way.",
    IncidentStatus.ONSCENE: "An officer is on scene.",
}


def request_status(
    route: str,
    requested_at: int,
    incident: Incident | None = None,
    info: dict[str, Any] | None = None,
    *,
    full: bool = True,
) -> tuple[str, str, int]:
    """(open or closed, status notes, updated ms) of a service request, from what it became. Pure.

    ``full``: with what staff wrote (a closing note, a cancel reason, a business area's
    answer), which may name people; without it, only the outcome (for the public)."""
    if route == "incident":
        if incident is None:
            return "open", "Received; being passed to dispatch.", requested_at
        if incident.status == IncidentStatus.CLOSED:
            why = incident.disposition or "closed"
            note = f"Closed: {why}." + (f" {incident.closing_note}" if incident.closing_note and full else "")
            return "closed", note, incident.updated_at
        if incident.status == IncidentStatus.CANCELLED:
            why = (incident.cancel_reason or "no reason given") if full else "by dispatch"
            return "closed", f"Cancelled: {why}.", incident.updated_at
        return "open", _ACTIVE.get(incident.status, "Open with dispatch."), incident.updated_at
    if info is None:
        return "open", "Received; being routed.", requested_at
    notes = str(info.get("notes") or "") if full else ""
    area = info.get("business_area") or "a business area"
    if info["status"] in ("answered", "closed"):
        return "closed", (f"{str(info['status']).capitalize()}." + (f" {notes}" if notes else "")), info["updated_at"]
    if info["status"] == "routed":
        return "open", f"Sent to {area}." + (f" {notes}" if notes else ""), info["updated_at"]
    return "open", "Received; waiting to be routed.", info["updated_at"]


def narrative_for(service: Service, ref: str, r: ReferralIn) -> str:
    lines = [f"311 request {ref}: {service.name}."]
    if r.description:
        lines.append(r.description)
    labels = {a.code: a for a in service.attributes}
    for code, value in r.attributes.items():
        attr = labels.get(code)
        names = {v.key: v.name for v in attr.values} if attr else {}
        shown = ", ".join(names.get(v, v) for v in (value if isinstance(value, list) else [value]))
        lines.append(f"{attr.description if attr else code}: {shown}")
    if r.media_url:
        lines.append(f"Photo: {r.media_url}")
    return "\n".join(lines)[:4000]


class ReferralFiler:
    """Files one queued referral: the call or information request it becomes, then its record."""

    def __init__(self, store: RecordsStore, policy: Policy, desk: IncidentDesk) -> None:
        self.store = store
        self.policy = policy
        self.desk = desk

    async def __call__(self, entry: Entry) -> None:
        ref = entry.need("ref")
        try:
            r = msgspec.json.decode(entry.need("body").encode(), type=ReferralIn)
            requested_at = int(entry.need("at"))
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            raise Malformed(f"unreadable entry: {exc}") from None
        service = self.policy.open311.services.get(r.service_code)
        if service is None:
            raise Malformed(f"no service {r.service_code!r} (was it removed from the policy?)")
        records = ReferralRecords(self.store)
        filed_with = await records.token_of(ref)
        if filed_with is not None:
            if filed_with == entry.need("key"):
                return  # filed before (a redelivery)
            # Another request has this id (Redis lost its counter): keep this one, do not drop it.
            raise Malformed(f"request id {ref} is already another request's; replay it to file it anew")
        by = entry.fields.get("by") or "311"
        incident: str | None = None
        info: NewInfoRequest | None = None
        if service.route == "incident":
            incident = await self._call(service, ref, r, by)
        else:
            info = self._info_request(service, ref, r, requested_at, by)
        await records.file(
            NewServiceRequest(
                id=ref,
                token=entry.need("key"),
                service_code=r.service_code,
                requested_at=requested_at,
                submitted_by=by,
                route=service.route,
                incident=incident,
                agency_responsible=service.agency,
                description=r.description,
                address=r.address_string,
                address_id=r.address_id,
                lat=r.lat,
                lon=r.long,
                media_url=r.media_url,
                attributes=msgspec.json.encode(r.attributes).decode(),
                first_name=r.first_name,
                last_name=r.last_name,
                email=r.email,
                phone=r.phone,
                device_id=r.device_id,
                account_id=r.account_id,
            ),
            info,
        )

    async def _call(self, service: Service, ref: str, r: ReferralIn, by: str) -> str:
        """The call on the board; made once, whatever happens between here and the record."""
        incident_id = incident_id_for(ref)
        cmd = IncidentCreate(
            id=f"intake-{ref}",
            call_type=service.call_type,
            location=Location(address=r.address_string[:200], lat=r.lat, lon=r.long),
            priority=service.priority,
            narrative=narrative_for(service, ref, r),
            caller=f"{r.first_name} {r.last_name}".strip()[:200],
            callback=r.phone[:200],
            source="311",
        )
        try:
            await self.desk.create(Principal(by[:64], Role.INTAKE_311), cmd, incident_id=incident_id)
        except Conflict:
            pass  # made by an earlier attempt that died before its record was written
        return incident_id

    def _info_request(self, service: Service, ref: str, r: ReferralIn, requested_at: int, by: str) -> NewInfoRequest:
        """The information request a referral becomes, routed to its service's business area."""
        sender = " ".join(x for x in (r.first_name, r.last_name) if x) or r.email or f"311 ({by})"
        return NewInfoRequest(
            received_at=requested_at,
            sender=sender[:200],
            subject=f"311 request {ref}: {service.name}"[:200],
            body=narrative_for(service, ref, r),
            status="routed",
            business_area=service.business_area,
        )

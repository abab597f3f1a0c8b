"""311 service requests in the store: filing one (with the information request it may become),
reading them back with what they became, and the API keys 311 systems post with. All their SQL
is here; what a request holds and where it goes is in ``server.dispatch.referrals``."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from server.records.store import RecordsStore

__all__ = [
    "ApiKey",
    "NewInfoRequest",
    "NewServiceRequest",
    "ReferralRecords",
    "ServiceRequestRow",
]


@dataclass(frozen=True, slots=True)
class ServiceRequestRow:
    """A filed 311 request, with what it became (an incident's record, an information request's state)."""

    id: str
    service_code: str
    requested_at: int
    route: str
    agency_responsible: str
    description: str
    address: str
    address_id: str
    lat: float | None
    lon: float | None
    media_url: str
    incident_record: bytes | None
    info_status: str | None
    business_area: str | None
    info_notes: str | None
    info_updated_at: int | None
    incident: str | None


@dataclass(frozen=True, slots=True)
class NewInfoRequest:
    """The information request a referral becomes when its service routes to a business area."""

    received_at: int  # ms
    sender: str
    subject: str
    body: str
    status: str
    business_area: str | None


@dataclass(frozen=True, slots=True)
class NewServiceRequest:
    """A service request as it is filed (its Open311 fields, and where it went)."""

    id: str
    token: str  # the submission's key: a redelivery of it is recognised by it
    service_code: str
    requested_at: int  # ms
    submitted_by: str
    route: str
    incident: str | None
    agency_responsible: str
    description: str
    address: str
    address_id: str
    lat: float | None
    lon: float | None
    media_url: str
    attributes: str  # JSON
    first_name: str
    last_name: str
    email: str
    phone: str
    device_id: str
    account_id: str


@dataclass(frozen=True, slots=True)
class ApiKey:
    name: str  # the 311 system it was issued to
    created_at: int  # ms
    last_used_at: int | None
    revoked_at: int | None


def _now() -> int:
    return int(time.time() * 1000)


class ReferralRecords:
    def __init__(self, store: RecordsStore) -> None:
        self.store = store

    # ---- service requests ---------------------------------------------------

    async def token_of(self, request_id: str) -> str | None:
        """The key a filed request was submitted with; None: no request has this id."""
        row = await self.store._row("SELECT token FROM service_requests WHERE id=?", (request_id,))
        return str(row[0]) if row else None

    async def file(self, r: NewServiceRequest, info: NewInfoRequest | None = None) -> int | None:
        """File a request (and the information request it becomes, if any) with its audit row,
        in one transaction. -> the information request's id."""
        async with self.store.transaction() as db:
            info_id: int | None = None
            if info is not None:
                made = await db.row(
                    "INSERT INTO info_requests(received_at, sender, subject, body, status, business_area,"
                    " updated_at, updated_by) VALUES (?,?,?,?,?,?,?,?) RETURNING id",
                    (
                        info.received_at,
                        info.sender,
                        info.subject,
                        info.body,
                        info.status,
                        info.business_area,
                        _now(),
                        r.submitted_by,
                    ),
                )
                assert made is not None
                info_id = int(made[0])
            await db.execute(
                "INSERT INTO service_requests(id, token, service_code, requested_at, submitted_by, route, incident,"
                " info_request, agency_responsible, description, address, address_id, lat, lon, media_url,"
                " attributes, first_name, last_name, email, phone, device_id, account_id)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    r.id,
                    r.token,
                    r.service_code,
                    r.requested_at,
                    r.submitted_by,
                    r.route,
                    r.incident,
                    info_id,
                    r.agency_responsible,
                    r.description,
                    r.address,
                    r.address_id,
                    r.lat,
                    r.lon,
                    r.media_url,
                    r.attributes,
                    r.first_name,
                    r.last_name,
                    r.email,
                    r.phone,
                    r.device_id,
                    r.account_id,
                ),
            )
            where = f"incident {r.incident}" if info is None else f"info request {info_id} ({info.business_area})"
            await self.store.audit(r.submitted_by, "open311.file", r.id, f"{r.service_code} -> {where}")
        return info_id

    async def service_requests(
        self,
        *,
        ids: list[str] | None = None,
        codes: list[str] | None = None,
        since: int | None = None,
        until: int | None = None,
        limit: int = 1000,
    ) -> list[ServiceRequestRow]:
        """Filed 311 requests by id, or by service and time requested, newest first."""
        where: list[str] = []
        args: list[Any] = []
        if ids:
            where.append(f"s.id IN ({','.join('?' * len(ids))})")
            args += ids
        if codes:
            where.append(f"s.service_code IN ({','.join('?' * len(codes))})")
            args += codes
        if since is not None:
            where.append("s.requested_at >= ?")
            args.append(since)
        if until is not None:
            where.append("s.requested_at <= ?")
            args.append(until)
        sql = (
            "SELECT s.id, s.service_code, s.requested_at, s.route, s.agency_responsible, s.description, s.address,"
            " s.address_id, s.lat, s.lon, s.media_url, i.record, f.status, f.business_area, f.notes, f.updated_at,"
            " s.incident FROM service_requests s LEFT JOIN incidents i ON i.id = s.incident"
            " LEFT JOIN info_requests f ON f.id = s.info_request"
        )
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = await self.store._rows(sql + " ORDER BY s.requested_at DESC LIMIT ?", (*args, limit))
        return [ServiceRequestRow(*r) for r in rows]

    async def request_of_token(self, token: str) -> str | None:
        """The id of the request submitted with this key."""
        row = await self.store._row("SELECT id FROM service_requests WHERE token=?", (token,))
        return str(row[0]) if row else None

    async def highest_request_id(self) -> int:
        """The highest request id given (filed, or dead-lettered before it could be)."""
        number = self.store.engine.number_at_end
        row = await self.store._row(
            f"SELECT MAX(n) FROM (SELECT {number('id')} AS n FROM service_requests UNION ALL"
            f" SELECT {number('ref')} FROM intake_dead_letters WHERE stream='referrals') refs"
        )
        return int(row[0] or 0) if row else 0

    # ---- API keys -----------------------------------------------------------

    async def api_key_user(self, key_hash: str) -> str | None:
        """The 311 system a live API key was issued to (and it is marked as used now)."""
        row = await self.store._row("SELECT name FROM api_keys WHERE key_hash=? AND revoked_at IS NULL", (key_hash,))
        if row is None:
            return None
        async with self.store.transaction() as db:
            await db.execute("UPDATE api_keys SET last_used_at=? WHERE name=?", (_now(), row[0]))
        return str(row[0])

    async def has_api_key(self, name: str) -> bool:
        """Whether a key (live or revoked) was ever issued to this name."""
        return await self.store._row("SELECT 1 FROM api_keys WHERE name=?", (name,)) is not None

    async def issue_api_key(self, name: str, key_hash: str, by: str) -> None:
        """Issue a key to a 311 system (replacing any it had, live again and never used)."""
        async with self.store.transaction() as db:
            await db.execute(
                "INSERT INTO api_keys(name, key_hash, created_at) VALUES (?,?,?)"
                " ON CONFLICT(name) DO UPDATE SET key_hash=excluded.key_hash, created_at=excluded.created_at,"
                " revoked_at=NULL, last_used_at=NULL",
                (name, key_hash, _now()),
            )
            await self.store.audit(by, "apikey.add", name)

    async def revoke_api_key(self, name: str, by: str) -> bool:
        """Revoke a system's live key (the attempt is audited either way). -> False: it had none."""
        async with self.store.transaction() as db:
            changed = await db.execute(
                "UPDATE api_keys SET revoked_at=? WHERE name=? AND revoked_at IS NULL", (_now(), name)
            )
            await self.store.audit(by, "apikey.revoke", name)
        return bool(changed)

    async def api_keys(self) -> list[ApiKey]:
        rows = await self.store._rows("SELECT name, created_at, last_used_at, revoked_at FROM api_keys ORDER BY name")
        return [ApiKey(*r) for r in rows]

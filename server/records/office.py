"""The office records in the store: the directory of agencies and business areas, the inbox of
emailed information requests, and investigations opened from incidents. All their SQL is here."""

from __future__ import annotations

import time
from typing import Any

import msgspec

from server.records.store import RecordsStore

__all__ = [
    "AgencyRecord",
    "BusinessAreaRecord",
    "InfoRequestRecord",
    "InvestigationNote",
    "InvestigationRecord",
    "OfficeRecords",
]


class AgencyRecord(msgspec.Struct):
    id: int
    name: str
    kind: str
    phone: str
    email: str
    notes: str


class BusinessAreaRecord(msgspec.Struct):
    id: int
    name: str
    email: str
    keywords: list[str]


class InfoRequestRecord(msgspec.Struct):
    id: int
    received_at: int
    sender: str
    subject: str
    body: str
    status: str
    business_area: str | None
    incident: str | None
    updated_at: int
    updated_by: str
    notes: str


class InvestigationNote(msgspec.Struct):
    at: int
    by: str
    text: str


class InvestigationRecord(msgspec.Struct):
    id: int
    incident: str
    title: str
    status: str
    assigned_to: str | None
    opened_at: int
    opened_by: str
    closed_at: int | None
    outcome: str
    notes: list[InvestigationNote] = []


_INFO = "id, received_at, sender, subject, body, status, business_area, incident, updated_at, updated_by, notes"
_INVESTIGATION = "id, incident, title, status, assigned_to, opened_at, opened_by, closed_at, outcome"


def _now() -> int:
    return int(time.time() * 1000)


class OfficeRecords:
    def __init__(self, store: RecordsStore) -> None:
        self.store = store

    async def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        return await self.store._rows(sql, args)

    # ---- the directory ----------------------------------------------------

    async def save_agency(self, name: str, kind: str, phone: str, email: str, notes: str, by: str) -> None:
        async with self.store.transaction() as db:
            await db.execute(
                "INSERT INTO agencies(name, kind, phone, email, notes) VALUES (?,?,?,?,?)"
                " ON CONFLICT(name) DO UPDATE SET kind=excluded.kind, phone=excluded.phone, email=excluded.email,"
                " notes=excluded.notes",
                (name, kind, phone, email, notes),
            )
            await self.store.audit(by, "agency.save", name)

    async def agencies(self, kind: str | None = None) -> list[AgencyRecord]:
        where = " WHERE kind=?" if kind else ""
        sql = f"SELECT id, name, kind, phone, email, notes FROM agencies{where} ORDER BY name"
        return [AgencyRecord(*r) for r in await self._all(sql, (kind,) if kind else ())]

    async def save_business_area(self, name: str, email: str, keywords: list[str], by: str) -> None:
        async with self.store.transaction() as db:
            await db.execute(
                "INSERT INTO business_areas(name, email, keywords) VALUES (?,?,?)"
                " ON CONFLICT(name) DO UPDATE SET email=excluded.email, keywords=excluded.keywords",
                (name, email, ",".join(k.strip() for k in keywords)),
            )
            await self.store.audit(by, "business_area.save", name)

    async def business_areas(self) -> list[BusinessAreaRecord]:
        rows = await self._all("SELECT id, name, email, keywords FROM business_areas ORDER BY id")
        return [BusinessAreaRecord(r[0], r[1], r[2], [k for k in r[3].split(",") if k]) for r in rows]

    # ---- information requests ----------------------------------------------

    async def receive_info_request(
        self, sender: str, subject: str, body: str, area: str | None, by: str
    ) -> InfoRequestRecord:
        now = _now()
        async with self.store.transaction() as db:
            made = await db.row(
                "INSERT INTO info_requests(received_at, sender, subject, body, status, business_area, updated_at,"
                " updated_by) VALUES (?,?,?,?,?,?,?,?) RETURNING id",
                (now, sender, subject, body, "routed" if area else "new", area, now, by),
            )
            assert made is not None
            rid = int(made[0])
            await self.store.audit(by, "info_request.receive", str(rid), f"routed to {area}")
        found = await self.info_request(rid)
        assert found is not None
        return found

    async def info_request(self, rid: int) -> InfoRequestRecord | None:
        rows = await self._all(f"SELECT {_INFO} FROM info_requests WHERE id=?", (rid,))
        return InfoRequestRecord(*rows[0]) if rows else None

    async def info_requests(self, status: str | None = None) -> list[InfoRequestRecord]:
        where = " WHERE status=?" if status else ""
        sql = f"SELECT {_INFO} FROM info_requests{where} ORDER BY received_at DESC, id DESC LIMIT 500"
        return [InfoRequestRecord(*r) for r in await self._all(sql, (status,) if status else ())]

    async def change_info_request(self, rid: int, fields: dict[str, str], by: str) -> bool:
        """Set ``fields`` (of status, business_area, incident, notes). -> False if there is no such request."""
        allowed = {"status", "business_area", "incident", "notes"}
        assert set(fields) <= allowed
        sets = ", ".join(f"{k}=?" for k in fields)
        async with self.store.transaction() as db:
            changed = await db.execute(
                f"UPDATE info_requests SET {sets}, updated_at=?, updated_by=? WHERE id=?",
                (*fields.values(), _now(), by, rid),
            )
            if changed == 0:
                return False
            await self.store.audit(by, "info_request.update", str(rid), repr(fields))
        return True

    # ---- investigations ---------------------------------------------------

    async def open_investigation(self, incident: str, title: str, assigned_to: str | None, by: str) -> int:
        async with self.store.transaction() as db:
            made = await db.row(
                "INSERT INTO investigations(incident, title, status, assigned_to, opened_at, opened_by)"
                " VALUES (?,?,?,?,?,?) RETURNING id",
                (incident, title, "assigned" if assigned_to else "open", assigned_to, _now(), by),
            )
            assert made is not None
            iid = int(made[0])
            await self.store.audit(by, "investigation.open", str(iid), incident)
        return iid

    async def investigations(self, incident: str | None, status: str | None) -> list[InvestigationRecord]:
        where, args = [], []
        for column, value in (("incident", incident), ("status", status)):
            if value:
                where.append(f"{column}=?")
                args.append(value)
        sql = f"SELECT {_INVESTIGATION} FROM investigations" + (" WHERE " + " AND ".join(where) if where else "")
        return [InvestigationRecord(*r) for r in await self._all(sql + " ORDER BY id DESC", tuple(args))]

    async def investigation(self, iid: int) -> InvestigationRecord | None:
        rows = await self._all(f"SELECT {_INVESTIGATION} FROM investigations WHERE id=?", (iid,))
        if not rows:
            return None
        notes = await self._all(
            "SELECT at, by, text FROM investigation_notes WHERE investigation=? ORDER BY at, rowid", (iid,)
        )
        found = InvestigationRecord(*rows[0])
        found.notes = [InvestigationNote(*n) for n in notes]
        return found

    async def change_investigation(
        self, iid: int, assigned_to: str | None, status: str, outcome: str, note: str, by: str
    ) -> None:
        now = _now()
        async with self.store.transaction() as db:
            await db.execute(
                "UPDATE investigations SET assigned_to=COALESCE(?, assigned_to), status=?, outcome=?, closed_at=?"
                " WHERE id=?",
                (assigned_to, status, outcome, now if status == "closed" else None, iid),
            )
            if note:
                await db.execute(
                    "INSERT INTO investigation_notes(investigation, at, by, text) VALUES (?,?,?,?)",
                    (iid, now, by, note),
                )
            await self.store.audit(by, "investigation.update", str(iid), status)

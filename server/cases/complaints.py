"""Complaints, concerns and compliments about police: what one must hold, its private status
code, and filing it into a case file with its acknowledgement clock started.

The rules for what a complaint must hold are pure (``check``), and run twice:
at the door (``server/intake/complaint_door.py``), so a person sees every
problem at once next to the field it is about, and again by the worker that
files it, so nothing malformed is filed, whatever put it on the stream.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal

import msgspec

from server.agency.policy import Policy
from server.cases.rules import clocks as engine
from server.cases.timing import ACKNOWLEDGE, DECISION, STATUS_UPDATE, TERMS, policy_for
from server.intake.attachments import AttachmentRef
from server.intake.worker import Entry, Malformed
from server.records.complaints import AttachmentRow, ClockStart, ComplaintRecords, Filing, NewComplaint, OfficerRow
from server.records.store import RecordsStore

__all__ = [
    "LIMITS",
    "MAX_OFFICERS",
    "OFFICER_LIMITS",
    "ComplaintFiler",
    "ComplaintIn",
    "Officer",
    "check",
    "code_hash",
    "status_code_for",
]

Kind = Literal["complaint", "concern", "compliment"]
ContactBy = Literal["email", "phone", "text", "mail", "none"]
Channel = Literal["web", "phone", "walk_in", "mail", "email"]


class Officer(msgspec.Struct, forbid_unknown_fields=True):
    name: str = ""
    badge: str = ""
    description: str = ""


class ComplaintIn(msgspec.Struct, forbid_unknown_fields=True):
    submission_id: str
    kind: Kind
    police_service: str
    narrative: str
    contact_by: ContactBy
    consent_share: bool
    officers: list[Officer] = []
    occurred_on: str = ""
    occurred_time: str = ""
    location: str = ""
    desired_outcome: str = ""
    name: str = ""
    email: str = ""
    phone: str = ""
    mailing_address: str = ""
    safe_times: str = ""
    ok_to_leave_message: bool = False
    accessibility: str = ""
    interpreter: str = ""
    channel: Channel = "web"  # staff entering a complaint taken another way say which


# Every text field and its most characters.
LIMITS: dict[str, int] = {
    "submission_id": 64,
    "police_service": 120,
    "narrative": 20_000,
    "occurred_on": 10,
    "occurred_time": 40,
    "location": 300,
    "desired_outcome": 5_000,
    "name": 120,
    "email": 254,
    "phone": 40,
    "mailing_address": 500,
    "safe_times": 300,
    "accessibility": 2_000,
    "interpreter": 100,
}
OFFICER_LIMITS = {"name": 120, "badge": 20, "description": 300}
MAX_OFFICERS = 10

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^[0-9+()\-. x]{7,40}$")
_SUBMISSION = re.compile(r"^[A-Za-z0-9-]{8,64}$")


def check(raw: Mapping[str, Any], *, today: dt.date | None = None) -> dict[str, str]:
    """Everything wrong with a submission, by field, in plain words. Empty: it can be filed.

    The police service is free text (the portal offers the policy's list): a person
    may name one we do not list, and jurisdiction is decided at screening."""
    errors: dict[str, str] = {}
    known = set(ComplaintIn.__struct_fields__)
    for name in raw:
        if name not in known:
            errors[name] = f"This form does not have a field called {name!r}."
    for name, most in LIMITS.items():
        value = raw.get(name, "")
        if not isinstance(value, str):
            errors[name] = "This should be text."
        elif len(value) > most:
            errors[name] = f"Please keep this to {most:,} characters or fewer (it has {len(value):,})."
    if not _SUBMISSION.match(str(raw.get("submission_id", ""))):
        errors["submission_id"] = "The form lost its reference. Reload the page; what you typed stays."
    if raw.get("kind") not in ("complaint", "concern", "compliment"):
        errors["kind"] = "Choose whether this is a complaint, a concern or a compliment."
    service = raw.get("police_service", "")
    if isinstance(service, str) and not service.strip() and "police_service" not in errors:
        errors["police_service"] = "Tell us which police service this is about. If you are not sure, choose “Not sure”."
    narrative = raw.get("narrative", "")
    if isinstance(narrative, str) and not narrative.strip() and "narrative" not in errors:
        errors["narrative"] = "Tell us what happened, in your own words. A few sentences is enough to start."
    _check_officers(raw.get("officers", []), errors)
    _check_date(raw.get("occurred_on", ""), errors, today or dt.date.today())
    _check_contact(raw, errors)
    for flag in ("consent_share", "ok_to_leave_message"):
        if flag in raw and not isinstance(raw[flag], bool):
            errors[flag] = "This should be yes or no."
    if raw.get("consent_share") is not True and "consent_share" not in errors:
        errors["consent_share"] = (
            "We need your permission to share this with the police service involved; without it we cannot look"
            " into it. If you would like to talk it over first, call us."
        )
    if raw.get("channel", "web") not in ("web", "phone", "walk_in", "mail", "email"):
        errors["channel"] = "Choose how the complaint was received."
    return errors


def _check_officers(officers: Any, errors: dict[str, str]) -> None:
    if not isinstance(officers, list):
        errors["officers"] = "This should be a list of officers."
        return
    if len(officers) > MAX_OFFICERS:
        errors["officers"] = f"Please name at most {MAX_OFFICERS} officers here; tell us about others below."
        return
    for i, officer in enumerate(officers):
        if not isinstance(officer, dict) or set(officer) - set(OFFICER_LIMITS):
            errors[f"officers.{i}"] = "Give a name, a badge number or a description."
            continue
        for name, most in OFFICER_LIMITS.items():
            value = officer.get(name, "")
            if not isinstance(value, str):
                errors[f"officers.{i}.{name}"] = "This should be text."
            elif len(value) > most:
                errors[f"officers.{i}.{name}"] = f"Please keep this to {most} characters or fewer."


def _check_date(value: Any, errors: dict[str, str], today: dt.date) -> None:
    if not isinstance(value, str) or not value or "occurred_on" in errors:
        return
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        errors["occurred_on"] = "Give the date as year-month-day (for example 2026-03-14), or leave it empty."
        return
    if day > today:
        errors["occurred_on"] = "This date is in the future. If you are not sure of the date, leave it empty."


def _check_contact(raw: Mapping[str, Any], errors: dict[str, str]) -> None:
    how = raw.get("contact_by")
    if how not in ("email", "phone", "text", "mail", "none"):
        errors["contact_by"] = "Choose how you would like us to contact you."
        return
    email, phone = str(raw.get("email", "")).strip(), str(raw.get("phone", "")).strip()
    if email and "email" not in errors and not _EMAIL.match(email):
        errors["email"] = "This does not look like an email address (it needs an @ and a domain)."
    if phone and "phone" not in errors and not _PHONE.match(phone):
        errors["phone"] = "Use digits for the phone number (spaces, dashes and + are fine)."
    if how == "email" and not email and "email" not in errors:
        errors["email"] = "You chose email: tell us the address to write to."
    if how in ("phone", "text") and not phone and "phone" not in errors:
        errors["phone"] = f"You chose {'a call' if how == 'phone' else 'a text'}: tell us the number."
    if how == "mail" and not str(raw.get("mailing_address", "")).strip() and "mailing_address" not in errors:
        errors["mailing_address"] = "You chose mail: tell us the address to send letters to."


# ---- the private status code ----------------------------------------------

_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no 0/O, 1/I/L, U: easy to read over the phone


def status_code_for(secret: str, submission_id: str) -> str:
    """The status code for a submission: the same for the same submission (a retried send
    gets the code it was first given) and never stored in plain text."""
    digest = hmac.new(secret.encode(), f"complaint-status:{submission_id}".encode(), hashlib.sha256).digest()
    chars = "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:12])
    return f"{chars[:4]}-{chars[4:8]}-{chars[8:]}"


def code_hash(secret: str, code: str) -> str:
    normal = re.sub(r"[^A-Z0-9]", "", code.upper())
    return hmac.new(secret.encode(), f"complaint-code:{normal}".encode(), hashlib.sha256).hexdigest()


# ---- filing ---------------------------------------------------------------


class ComplaintFiler:
    """Files one queued complaint into the records store, with its acknowledgement clock started."""

    def __init__(
        self, store: RecordsStore, policy: Policy, on_filed: Callable[[str], Awaitable[None]] | None = None
    ) -> None:
        self.store = store
        self.policy = policy
        self.on_filed = on_filed  # announces the new file to the workspaces and sets its clocks in Redis

    def _opening_clocks(self, received_at: int) -> list[ClockStart]:
        """The acknowledgement, the first status update and the decision target, from receipt."""
        cal = TERMS(self.policy)
        out = []
        for name in (ACKNOWLEDGE, STATUS_UPDATE, DECISION):
            rule = policy_for(self.policy, name)
            clock = engine.start(name, received_at, rule, cal)
            out.append(
                ClockStart(name, received_at, clock.due_at, clock.day_kind, engine.warning_from(clock, rule, cal))
            )
        return out

    async def __call__(self, entry: Entry) -> None:
        ref = entry.need("ref")
        try:
            raw = msgspec.json.decode(entry.need("body").encode())
            received_at = int(entry.need("at"))
            attachments = msgspec.json.decode(entry.fields.get("attachments", "[]").encode(), type=list[AttachmentRef])
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            raise Malformed(f"unreadable entry: {exc}") from None
        if not isinstance(raw, dict):
            raise Malformed("the complaint is not an object")
        received_day = dt.datetime.fromtimestamp(received_at / 1000, dt.UTC).date()
        errors = check(raw, today=received_day + dt.timedelta(days=1))
        if errors:
            raise Malformed("; ".join(f"{k}: {v}" for k, v in sorted(errors.items())))
        c = msgspec.convert(raw, ComplaintIn)
        channel = entry.fields.get("channel", "web")
        if channel not in ("web", "phone", "walk_in", "mail", "email"):
            raise Malformed(f"unknown channel {channel!r}")
        code = entry.need("code_hash")
        taken_by = entry.fields.get("taken_by") or None
        filing = NewComplaint(
            file_number=ref,
            received_at=received_at,
            channel=channel,
            taken_by=taken_by,
            kind=c.kind,
            police_service=c.police_service,
            occurred_on=c.occurred_on,
            occurred_time=c.occurred_time,
            location=c.location,
            narrative=c.narrative,
            desired_outcome=c.desired_outcome,
            name=c.name,
            email=c.email,
            phone=c.phone,
            mailing_address=c.mailing_address,
            contact_by=c.contact_by,
            safe_times=c.safe_times,
            ok_to_leave_message=c.ok_to_leave_message,
            accessibility=c.accessibility,
            interpreter=c.interpreter,
            consent_share=c.consent_share,
            stage="received",
            status="open",
            status_code_hash=code,
            intake_entry=entry.id,
            officers=[
                OfficerRow(o.name.strip(), o.badge.strip(), o.description.strip())
                for o in c.officers
                if o.name.strip() or o.badge.strip() or o.description.strip()
            ],
            attachments=[AttachmentRow(a.sha256, a.name, a.type, a.size) for a in attachments],
            clocks=self._opening_clocks(received_at),
        )
        filed = await ComplaintRecords(self.store).file(filing, by=taken_by or "public")
        if filed is Filing.NUMBER_TAKEN:
            # Another submission has this number (Redis lost its counter): keep this one, do not drop it.
            raise Malformed(f"file number {ref} is already another file's; file this one by hand or replay it")
        # Filing.FILED_BEFORE: a redelivery of one filed before (announced again: harmless)
        if self.on_filed is not None:
            await self.on_filed(ref)

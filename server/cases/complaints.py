"""Complaints, concerns and compliments about police: the public door, the status check, filing.

The rules for what a complaint must hold are pure (``check``), and run twice:
at the door, so a person sees every problem at once next to the field it is
about, and again by the worker that files it, so nothing malformed is
filed, whatever put it on the stream.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Mapping
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import msgspec
from msgspec import Meta
from starlette.requests import Request
from starlette.responses import Response

from server.access.auth import Principal, Role
from server.agency.policy import Policy
from server.cases.clocks import due_at
from server.http.endpoints import Endpoint, ErrorBody, answer, error
from server.http.inputs import JSON, InputError, bounded, decode_json, read_json
from server.intake.attachments import AttachmentRef, Checked, discard, keep_uploads, read_uploads
from server.intake.doors import IntakeDoors, client_address
from server.intake.lane import COMPLAINTS, KeyReused
from server.intake.worker import Entry, Malformed
from server.records.store import RecordsStore

__all__ = [
    "ComplaintFiler",
    "ComplaintIn",
    "check",
    "code_hash",
    "endpoints",
    "status_code_for",
]

Kind = Literal["complaint", "concern", "compliment"]
ContactBy = Literal["email", "phone", "text", "mail", "none"]
Channel = Literal["web", "phone", "walk_in", "mail", "email"]
STAFF = frozenset({Role.CASE_COORDINATOR, Role.TEAM_LEAD, Role.ADMIN})

_JSON_MAX = 256 * 1024


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


# ---- the door -------------------------------------------------------------


def _doors(request: Request) -> IntakeDoors:
    doors: IntakeDoors = request.app.state.ctx.intake
    return doors


def _problem(message: str, status: int, errors: dict[str, str] | None = None) -> Response:
    return error(status, message, errors)


async def _read(request: Request, doors: IntakeDoors) -> tuple[dict[str, Any], Checked, dict[str, str]] | Response:
    """The submission and its attachments, from JSON or a multipart form (field ``complaint``
    holding the JSON, files in ``attachments``)."""
    s = doors.settings
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    many = kind == "multipart/form-data"
    limit = _JSON_MAX + s.attachments_max * s.attachment_max_bytes + 64 * 1024 if many else _JSON_MAX
    try:
        if many:
            async with bounded(request, limit).form(
                max_files=s.attachments_max, max_fields=4, max_part_size=_JSON_MAX
            ) as form:
                raw_json = form.get("complaint")
                if not isinstance(raw_json, str):
                    return _problem("send the complaint as JSON in the form field 'complaint'", 400)
                uploads = [f for f in form.getlist("attachments") if not isinstance(f, str)]
                raw = decode_json(raw_json.encode(), dict[str, Any])
                checked, problems = await read_uploads(uploads, s.attachments_max, s.attachment_max_bytes)
                return raw, checked, problems
        if kind != JSON:
            return _problem(f"send the complaint as JSON ({JSON}) or as a multipart form", 415)
        return await read_json(request, dict[str, Any], limit), [], {}
    except InputError as exc:
        if exc.status != 413:
            return _problem(f"the complaint could not be read: {exc.message}", exc.status)
        return _problem(
            "This is more than we can take in one go."
            + (" Attach fewer or smaller files." if many else " Please shorten the longest answers."),
            413,
        )
    except Exception as exc:  # the multipart parser's own limits (too many files or fields)
        if type(exc).__name__ in ("MultiPartException", "HTTPException"):
            return _problem(f"the form could not be read: {getattr(exc, 'detail', exc)}", 400)
        raise


def _later(wait_s: float) -> str:
    minutes = round(wait_s / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}" if minutes >= 1 else "a minute"


class Receipt(msgspec.Struct):
    """A complaint taken: its file number and the private status code (the same for a resend)."""

    file_number: str
    status_code: str
    received: bool  # False: this submission had reached us before; nothing new was filed
    message: str


class ComplaintForm(msgspec.Struct):
    """The multipart form of a complaint with files: the complaint as JSON, and up to three files."""

    complaint: str
    attachments: list[bytes] = []


async def submit(request: Request, who: Principal | None) -> Response:
    """A complaint, concern or compliment: checked, queued, answered with a file number and status code.

    Public, with two limits per address: attempts of any kind (taken before the
    body is read, so a flood of bad posts costs little) and accepted new
    submissions (a person fixing mistakes, or resending one we already have, is
    not counted). Case staff signed in enter ones taken by phone, walk-in, mail
    or email: they say which and when it was received, and are recorded as taking it."""
    doors = _doors(request)
    staff = who is not None and who.role in STAFF
    address = client_address(request)
    busy = (
        "We have had a lot of submissions from your connection. Please try again in {}, or call us."
        " Nothing you typed has been lost."
    )
    if not staff:
        wait = await doors.wait(doors.attempts, address)
        if wait:
            doors.count("complaint", "limited")
            return _problem(busy.format(_later(wait)), 429)
    read = await _read(request, doors)
    if isinstance(read, Response):
        return read
    raw, uploads, upload_errors = read
    if not staff:
        raw.pop("channel", None)  # the public door is the web
        raw.pop("received_on", None)
    received = raw.pop("received_on", "") if staff else ""
    errors = check(raw) | upload_errors
    received_at, received_error = _received_at(received, doors.policy.complaints.timezone)
    if received_error:
        errors["received_on"] = received_error
    elif received and "occurred_on" not in errors:
        errors |= _after_received(raw.get("occurred_on"), str(received))
    if errors:  # nothing is kept
        doors.count("complaint", "refused")
        return _problem("Some answers need a second look.", 422, errors)
    complaint = msgspec.convert(raw, ComplaintIn)
    if not staff and not await doors.door.seen(COMPLAINTS, complaint.submission_id):
        wait = await doors.wait(doors.submissions, address)
        if wait:
            doors.count("complaint", "limited")
            return _problem(busy.format(_later(wait)), 429)
    body = msgspec.json.encode(raw)
    content = body + b"".join(hashlib.sha256(data).digest() for data, _, _ in uploads)
    secret = doors.status_secret
    code = status_code_for(secret, complaint.submission_id)
    zone = ZoneInfo(doors.policy.complaints.timezone)
    year = dt.datetime.fromtimestamp(received_at / 1000, zone).year
    fields = {
        "kind": "complaint",
        "key": complaint.submission_id,
        "at": str(received_at),
        "channel": complaint.channel,
        "taken_by": who.user if staff and who is not None else "",
        "code_hash": code_hash(secret, code),
        "attachments": "[]",
        "body": body.decode(),
    }
    reused = _problem(
        "An earlier send of this form reached us with different answers. Press Send again to send these"
        " answers as a new file, or call us to add to the first one.",
        409,
    )
    if await doors.door.reused(COMPLAINTS, complaint.submission_id, content):
        doors.count("complaint", "refused")
        return reused  # refused before any file is kept
    folder = doors.settings.attachments_dir
    made: list[str] = []
    try:
        if uploads:
            attachments, made = await keep_uploads(uploads, folder)
            fields["attachments"] = msgspec.json.encode(attachments).decode()
        submitted = await doors.door.submit(
            COMPLAINTS,
            complaint.submission_id,
            fields,
            prefix=f"{doors.policy.complaints.file_prefix}-{year}-",
            width=5,
            receipt=fields["code_hash"],
            content=content,
        )
    except KeyReused:  # another send with this id got there between the check and now
        discard(folder, made)
        doors.count("complaint", "refused")
        return reused
    except BaseException:
        discard(folder, made)  # not queued: nothing may stay behind for it
        raise
    doors.count("complaint", "queued" if submitted.new else "repeated")
    keep = "Keep the file number and the status code: with them you can check where things stand at any time."
    return answer(Receipt(submitted.ref, code, submitted.new, keep), 201 if submitted.new else 200)


def _received_at(day: Any, zone: str) -> tuple[int, str]:
    """When a complaint was received: now, or (staff entering one taken by mail or phone) the day given,
    at the start of that day in the agency's time zone. -> (ms, problem)."""
    now = int(time.time() * 1000)
    if not day:
        return now, ""
    try:
        when = dt.datetime.combine(dt.date.fromisoformat(str(day)), dt.time(), ZoneInfo(zone))
    except ValueError:
        return now, "Give the date it was received as year-month-day."
    ms = int(when.timestamp() * 1000)
    if ms > now or now - ms > 366 * 86_400_000:
        return now, "The date received must be within the last year, and not in the future."
    return ms, ""


def _after_received(occurred: Any, received: str) -> dict[str, str]:
    """A day it happened after the day it was received is a slip of the keyboard (and the filer,
    which checks the date it happened against the day received, would refuse the file)."""
    try:
        late = dt.date.fromisoformat(str(occurred)) > dt.date.fromisoformat(received)
    except ValueError:
        return {}  # empty or unreadable: check() has told that already
    if not late:
        return {}
    return {"occurred_on": "This is after the day it was received. Check both dates, or leave this one empty."}


class StatusAsk(msgspec.Struct, forbid_unknown_fields=True):
    file_number: Annotated[str, Meta(max_length=40)]
    status_code: Annotated[str, Meta(max_length=40)]


class FileStatus(msgspec.Struct, omit_defaults=True):
    """Where a file stands, in plain words (never staff notes)."""

    file_number: str
    stage: str
    message: str
    kind: str | None = None
    received: str | None = None
    status: str | None = None
    next: str | None = None


_STAGES = {
    "intake": "We have received your file. A case coordinator is reviewing it.",
}
# For a person who chose "Please do not contact me": what happens instead of our contacting them.
_NOT_CONTACTING = (
    "We will not contact you, as you asked. You can check on your file yourself at any time: come back to this"
    " page and enter your file number and status code. If you change your mind, call us and tell us how you"
    " would like to hear from us."
)


async def status(request: Request, who: Principal | None) -> Response:
    """Where a file stands, for whoever holds its file number and status code."""
    doors = _doors(request)
    wait = await doors.wait(doors.status_checks, client_address(request))
    if wait:
        return _problem(f"Too many checks from your connection. Please try again in {_later(wait)}.", 429)
    try:
        ask = await read_json(request, StatusAsk, 4096)
    except InputError as exc:
        return _problem(f"send {{file_number, status_code}} as JSON: {exc.message}", exc.status)
    wrong = _problem("We could not find a file with that number and status code. Check both and try again.", 404)
    given = code_hash(doors.status_secret, ask.status_code)
    store: RecordsStore = request.app.state.ctx.store
    found = await store.complaint_status(ask.file_number)
    if found is None:
        pending = await doors.door.receipt(COMPLAINTS, ask.file_number)
        if pending is None or not hmac.compare_digest(pending, given):
            return wrong
        opening = "We have your submission and are opening your file now. Please check again in a few minutes."
        return answer(FileStatus(ask.file_number, "received", opening))
    if not hmac.compare_digest(found.code_hash, given):
        return wrong
    await store.audit("public", "complaint.status_check", ask.file_number)
    zone = doors.policy.complaints.timezone
    out = FileStatus(
        ask.file_number,
        found.stage,
        _STAGES.get(found.stage, "Your file is open and being worked on."),
        kind=found.kind,
        received=_local_date(found.received_at, zone),
        status=found.status,
    )
    if found.contact_by == "none":
        out.next = _NOT_CONTACTING
    elif found.acknowledge_due is not None and found.acknowledged_at is None:
        out.next = f"We will contact you to acknowledge your file by {_local_date(found.acknowledge_due, zone)}."
    return answer(out)


def _local_date(ms: int, zone: str) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, ZoneInfo(zone)).strftime("%A %B %-d, %Y")


class AttachmentLimits(msgspec.Struct):
    max: int
    max_bytes: int


class PortalForm(msgspec.Struct):
    """What the portal draws the form with: police services, limits, who is entering it."""

    police_services: list[str]
    limits: dict[str, int]
    attachments: AttachmentLimits
    staff: str | None  # the case staff member signed in, entering a complaint taken another way
    submission_id: str  # a new one: a resend of the same form uses it again
    today: str = ""  # the agency's date (YYYY-MM-DD): the latest day received that staff may give


async def form(request: Request, who: Principal | None) -> Response:
    doors = _doors(request)
    s = doors.settings
    return answer(
        PortalForm(
            police_services=list(doors.policy.complaints.police_services),
            limits={**LIMITS, "officers": MAX_OFFICERS, **{f"officer_{k}": v for k, v in OFFICER_LIMITS.items()}},
            attachments=AttachmentLimits(s.attachments_max, s.attachment_max_bytes),
            staff=who.user if who is not None and who.role in STAFF else None,
            submission_id=secrets.token_hex(16),
            today=dt.datetime.now(ZoneInfo(doors.policy.complaints.timezone)).date().isoformat(),
        )
    )


def endpoints() -> list[Endpoint]:
    tag = "complaints"
    most = _JSON_MAX + 3 * 8 * 1024 * 1024 + 64 * 1024
    return [
        Endpoint(
            "POST",
            "/api/complaints",
            submit,
            "File a complaint, concern or compliment",
            tag,
            None,
            {201: Receipt, 200: Receipt, 422: ErrorBody},
            body={JSON: ComplaintIn, "multipart/form-data": ComplaintForm},
            max_body=most,
        ),
        Endpoint(
            "POST",
            "/api/complaints/status",
            status,
            "Check where a file stands",
            tag,
            None,
            {200: FileStatus},
            body=StatusAsk,
            max_body=4096,
        ),
        Endpoint("GET", "/api/complaints/form", form, "Get what the portal's form needs", tag, None, {200: PortalForm}),
    ]


# ---- filing ---------------------------------------------------------------


class ComplaintFiler:
    """Files one queued complaint into the records store, with its acknowledgement clock started."""

    def __init__(self, store: RecordsStore, policy: Policy) -> None:
        self.store = store
        self.policy = policy

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
        db = self.store.db
        cur = await db.execute(
            "INSERT INTO complaints(file_number, received_at, channel, taken_by, kind, police_service,"
            " occurred_on, occurred_time, location, narrative, desired_outcome, name, email, phone, mailing_address,"
            " contact_by, safe_times, ok_to_leave_message, accessibility, interpreter, consent_share, stage, status,"
            " status_code_hash, intake_entry, updated_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT(file_number) DO NOTHING",
            (
                ref,
                received_at,
                channel,
                entry.fields.get("taken_by") or None,
                c.kind,
                c.police_service,
                c.occurred_on,
                c.occurred_time,
                c.location,
                c.narrative,
                c.desired_outcome,
                c.name,
                c.email,
                c.phone,
                c.mailing_address,
                c.contact_by,
                c.safe_times,
                int(c.ok_to_leave_message),
                c.accessibility,
                c.interpreter,
                int(c.consent_share),
                "intake",
                "open",
                code,
                entry.id,
                received_at,
            ),
        )
        if cur.rowcount == 0:
            async with db.execute("SELECT status_code_hash FROM complaints WHERE file_number=?", (ref,)) as found:
                row = await found.fetchone()
            await db.rollback()
            if row is not None and row[0] == code:
                return  # filed before (a redelivery): nothing more to do
            # Another submission has this number (Redis lost its counter): keep this one, do not drop it.
            raise Malformed(f"file number {ref} is already another file's; file this one by hand or replay it")
        named = [o for o in c.officers if o.name.strip() or o.badge.strip() or o.description.strip()]
        await db.executemany(
            "INSERT INTO complaint_officers(file_number, seq, name, badge, description) VALUES (?,?,?,?,?)",
            [(ref, i, o.name.strip(), o.badge.strip(), o.description.strip()) for i, o in enumerate(named)],
        )
        await db.executemany(
            "INSERT OR IGNORE INTO complaint_attachments(file_number, sha256, name, type, size) VALUES (?,?,?,?,?)",
            [(ref, a.sha256, a.name, a.type, a.size) for a in attachments],
        )
        rules = self.policy.complaints
        due = due_at(
            dt.datetime.fromtimestamp(received_at / 1000, dt.UTC),
            rules.acknowledge_days,
            rules.acknowledge_day_kind,
            tz=rules.timezone,
            country=rules.holidays_country,
            subdiv=rules.holidays_subdiv,
        )
        await db.execute(
            "INSERT INTO complaint_clocks(file_number, clock, started_at, due_at, day_kind) VALUES (?,?,?,?,?)",
            (ref, "acknowledge", received_at, int(due.timestamp() * 1000), rules.acknowledge_day_kind),
        )
        detail = json.dumps({"channel": channel, "kind": c.kind, "entry": entry.id})
        await self.store.audit(entry.fields.get("taken_by") or "public", "complaint.file", ref, detail, commit=False)
        await db.commit()

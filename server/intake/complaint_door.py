"""The complaint portal's door: a complaint, concern or compliment taken from the public (or
entered by case staff), checked and queued on the complaint lane; the form it is drawn with; and
the status check a person makes with their file number and private status code.

What a complaint must hold and its status codes are case management's (``server.cases.complaints``);
the worker files what this door queues (``ComplaintFiler``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import time
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import msgspec
from msgspec import Meta
from starlette.requests import Request
from starlette.responses import Response

from server.access.permissions import Grant, holds
from server.access.roles import Principal
from server.cases.complaints import (
    LIMITS,
    MAX_OFFICERS,
    OFFICER_LIMITS,
    ComplaintIn,
    check,
    code_hash,
    status_code_for,
)
from server.cases.rules.stages import Route, Stage, public_words
from server.cases.workspace import Workspace
from server.context import context
from server.http.endpoints import Endpoint, ErrorBody, answer, error
from server.http.inputs import JSON, InputError, bounded, decode_json, read_json
from server.intake.attachments import Checked, discard, keep_uploads, read_uploads
from server.intake.doors import IntakeDoors, client_address
from server.intake.lane import COMPLAINTS, KeyReused
from server.records.complaints import ComplaintRecords

__all__ = [
    "AttachmentLimits",
    "ComplaintForm",
    "FileStatus",
    "PortalForm",
    "Receipt",
    "ReplyAsk",
    "ReplyTaken",
    "StatusAsk",
    "endpoints",
    "form",
    "reply",
    "status",
    "submit",
]

_JSON_MAX = 256 * 1024


def _doors(request: Request) -> IntakeDoors:
    return context(request).part(IntakeDoors)


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
    staff = holds(who, Grant.COMPLAINT_STAFF)
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
    asked: str | None = None  # what we asked the person, while the file waits on them


def _public_words(stage: str, route: str) -> str:
    """The stage in plain words (the stage machine's), for any stage a file may be at."""
    try:
        where = Stage(stage)
    except ValueError:
        return "Your file is open and being worked on."
    return public_words(where, Route(route) if route in {r.value for r in Route} else None)


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
    store = context(request).store
    found = await ComplaintRecords(store).status(ask.file_number)
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
        _public_words(found.stage, found.route),
        kind=found.kind,
        received=_local_date(found.received_at, zone),
        status=found.status,
    )
    if found.asked:
        out.asked = found.asked
    if found.contact_by == "none":
        out.next = _NOT_CONTACTING
    elif found.acknowledge_due is not None and found.acknowledged_at is None:
        out.next = f"We will contact you to acknowledge your file by {_local_date(found.acknowledge_due, zone)}."
    return answer(out)


class ReplyAsk(msgspec.Struct, forbid_unknown_fields=True):
    file_number: Annotated[str, Meta(max_length=40)]
    status_code: Annotated[str, Meta(max_length=40)]
    text: Annotated[str, Meta(min_length=1, max_length=5_000)]


class ReplyTaken(msgspec.Struct):
    file_number: str
    message: str


async def reply(request: Request, who: Principal | None) -> Response:
    """The person answers what we asked them, with the file number and status code: the file
    carries on (its clocks run again) and the coordinator sees the answer on the file."""
    doors = _doors(request)
    wait = await doors.wait(doors.status_checks, client_address(request))
    if wait:
        return _problem(f"Too many tries from your connection. Please try again in {_later(wait)}.", 429)
    try:
        ask = await read_json(request, ReplyAsk, 16 * 1024)
    except InputError as exc:
        return _problem(f"send {{file_number, status_code, text}} as JSON: {exc.message}", exc.status)
    wrong = _problem("We could not find a file with that number and status code. Check both and try again.", 404)
    store = context(request).store
    found = await ComplaintRecords(store).status(ask.file_number)
    if found is None or not hmac.compare_digest(found.code_hash, code_hash(doors.status_secret, ask.status_code)):
        return wrong
    if found.stage != "waiting":
        return _problem(
            "Thank you. We are not waiting on an answer from you right now; if you want to add"
            " something, call us and we will add it to your file.",
            409,
        )
    await context(request).part(Workspace).reply_from_complainant(ask.file_number, ask.text)
    return answer(ReplyTaken(ask.file_number, "Thank you. We have your answer and will carry on with your file."))


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
            staff=who.user if who is not None and holds(who, Grant.COMPLAINT_STAFF) else None,
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
            {201: Receipt, 200: Receipt, 422: ErrorBody},
            body={JSON: ComplaintIn, "multipart/form-data": ComplaintForm},
            max_body=most,
        ),
        Endpoint(
            "POST",
            "/api/complaints/reply",
            reply,
            "Answer what we asked about a file",
            tag,
            {200: ReplyTaken},
            body=ReplyAsk,
            max_body=16 * 1024,
        ),
        Endpoint(
            "POST",
            "/api/complaints/status",
            status,
            "Check where a file stands",
            tag,
            {200: FileStatus},
            body=StatusAsk,
            max_body=4096,
        ),
        Endpoint("GET", "/api/complaints/form", form, "Get what the portal's form needs", tag, {200: PortalForm}),
    ]

"""Access-to-information requests: the request log, the legislated clock, records gathered from
the case files, letters, dispatch and uploads, redaction marked on them, a second review, and
the release package issued (``server/records/access.py`` keeps it all).

The path of a request: received (staff enter one taken by mail or email with the day it came),
gathering (records attached, each kept as it came; boxes drawn or every match of a text or a
pattern marked, each with a reason code), perhaps waiting on the requester (the clock paused) or
extended (with its ground and a notice of the right to a review), submitted for review, and
released by a second person: the response letter, the released copy (``redaction.release``) and
a summary of what was withheld, as one numbered, hashed PDF. Clocks turn once across hubs in the
intake workers' sweep, like the case clocks.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import jinja2
import msgspec
from msgspec import Meta
from redis.asyncio import Redis
from redis.exceptions import RedisError

from protocol.events import AccessChanged
from server.access.roles import Principal
from server.agency.policy import Policy
from server.bus.log import Bus
from server.bus.scripts import CLAIM_CLOCKS
from server.bus.topics import topic_named
from server.cases import redaction
from server.cases.clock_board import SweepLoop
from server.cases.pdf import PdfRenderer, render_pdf, run_anywhere
from server.cases.rules import access as rules
from server.cases.rules import clocks as engine
from server.cases.rules.stages import Refused
from server.cases.timing import TERMS, clock_of, next_turn, stored
from server.records.access import (
    AccessChange,
    AccessRecords,
    AccessRequest,
    NewRequest,
    NotGathering,
    RequestConflict,
    RequestRow,
)
from server.records.cases import CaseRecords, ClockRow
from server.records.letters import LetterRecords
from server.records.store import RecordsStore

__all__ = [
    "CLAIMED_KEY",
    "DUE_KEY",
    "AccessDesk",
    "AccessSweep",
    "BoxIn",
    "Fraction",
    "MatchIn",
    "MoveIn",
    "ReceiveIn",
    "RecordIn",
    "Short",
    "Text",
    "build_package",
    "release_copy",
]

log = logging.getLogger("dispatch.access")
_ACCESS = topic_named("access")
DUE_KEY = "access-clocks"  # on the partition's intake slot
MAX_PAGES = 5_000  # pages a request may hold (a release is made of all of them)
MAX_BOXES = 50_000  # boxes a request may hold
CLAIMED_KEY = "access-clocks:claimed"
Text = Annotated[str, Meta(max_length=4000)]
Short = Annotated[str, Meta(max_length=200)]
Fraction = Annotated[float, Meta(ge=0.0, le=1.0)]


class ReceiveIn(msgspec.Struct, forbid_unknown_fields=True):
    requester_name: Annotated[str, Meta(min_length=1, max_length=200)]
    scope: Annotated[str, Meta(min_length=1, max_length=8000)]  # what they asked for, in their words
    channel: Literal["web", "email", "mail", "in_person", "phone", "fax"] = "email"
    received_on: Annotated[str, Meta(pattern=r"^\d{4}-\d{2}-\d{2}$")] | None = None  # default: today
    requester_email: Short = ""
    requester_phone: Annotated[str, Meta(max_length=40)] = ""
    requester_address: Short = ""
    contact_by: Literal["email", "mail", "phone"] = "email"
    systems: Annotated[list[Short], Meta(max_length=20)] = []  # the records systems to search


class MoveIn(msgspec.Struct, forbid_unknown_fields=True):
    version: Annotated[int, Meta(ge=1, le=2**53 - 1)]
    move: rules.Move
    to: Annotated[str, Meta(max_length=64)] = ""  # assign: who
    note: Text = ""  # wait: what we asked; return: what to change; withdraw: why; extend: more words
    days: Annotated[int, Meta(ge=1, le=rules.MAX_EXTENSION_DAYS)] = 30  # extend
    ground: Annotated[str, Meta(max_length=40)] = ""  # extend


class RecordIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: Literal["complaint", "letter", "incident"]
    ref: Annotated[str, Meta(min_length=1, max_length=64)]  # a file number, a letter's id, an incident id


class BoxIn(msgspec.Struct, forbid_unknown_fields=True):
    document: Annotated[int, Meta(ge=1, le=2**53 - 1)]
    page: Annotated[int, Meta(ge=0, le=100_000)]
    x0: Fraction
    y0: Fraction
    x1: Fraction
    y1: Fraction
    reason: Annotated[str, Meta(min_length=1, max_length=20)]


class MatchIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, Meta(min_length=1, max_length=20)]
    text: Annotated[str, Meta(max_length=200)] = ""  # every place this text appears
    pattern: Annotated[str, Meta(max_length=40)] = ""  # or a named pattern: phone, email, postal_code...


def release_copy(records: list[tuple[bytes, list[tuple[int, float, float, float, float, str]]]]) -> tuple[bytes, int]:
    """(in the PDF worker) The released copy of the records with their boxes."""
    marks = [(pdf, [redaction.Mark(*b) for b in boxes]) for pdf, boxes in records]
    return redaction.release(marks)


def build_package(
    letter_html: str, records: list[tuple[bytes, list[tuple[int, float, float, float, float, str]]]], summary_html: str
) -> tuple[bytes, int, list[dict[str, Any]]]:
    """(in the PDF worker) The release package: the response letter, the released copy of the
    records and the summary of what was withheld, as one PDF. -> (PDF, pages, its parts)."""
    import hashlib

    import pypdfium2

    letter = render_pdf(letter_html)
    released, _ = release_copy(records)
    summary = render_pdf(summary_html)
    out = pypdfium2.PdfDocument.new()
    parts = []
    for name, part in (("response letter", letter), ("released records", released), ("what was withheld", summary)):
        doc = pypdfium2.PdfDocument(part)
        parts.append({"part": name, "pages": len(doc), "sha256": hashlib.sha256(part).hexdigest()})
        out.import_pages(doc)
        doc.close()
    import io

    buffer = io.BytesIO()
    out.save(buffer)
    pages = len(out)
    out.close()
    return buffer.getvalue(), pages, parts


class AccessDesk:
    def __init__(
        self,
        store: RecordsStore,
        bus: Bus,
        redis: Redis,
        policy: Policy,
        *,
        data_dir: Path | None = None,
        attachments: Path | None = None,
        renderer: PdfRenderer | None = None,
        incident: Callable[[str], Awaitable[dict[str, Any] | None]] | None = None,
    ) -> None:
        self.records = AccessRecords(store)
        self.cases = CaseRecords(store)
        self.letters = LetterRecords(store)
        self.store = store
        self.bus = bus
        self.redis = redis
        self.policy = policy
        self.settings = policy.access
        self.attachments = attachments
        self.renderer = renderer
        self.incident = incident  # dispatch's record of an incident (the app wires it: cases never imports dispatch)
        loaders: list[jinja2.BaseLoader] = []
        if data_dir is not None:
            loaders.append(jinja2.FileSystemLoader(data_dir / "access"))
        loaders.append(jinja2.PackageLoader("server.cases", "templates/access"))
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders), autoescape=True, undefined=jinja2.StrictUndefined
        )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.policy.complaints.timezone)

    def _day(self, ms: int | None) -> str:
        return dt.datetime.fromtimestamp(ms / 1000, self.zone).strftime("%B %-d, %Y") if ms else ""

    def _when(self, ms: int) -> str:
        return dt.datetime.fromtimestamp(ms / 1000, self.zone).strftime("%Y-%m-%d %H:%M")

    def _base(self, title: str, footer: str) -> dict[str, Any]:
        letters = self.policy.complaints.letters
        return {
            "title": title,
            "footer": footer,
            "sender": letters.sender,
            "signatory": letters.signatory,
            "contact": {"address": letters.address, "phone": letters.phone, "email": letters.email},
            "today": self._day(int(time.time() * 1000)),
            "commissioner": self.settings.commissioner,
        }

    def state(self, clock: ClockRow | None, now_ms: int) -> str:
        if clock is None:
            return ""
        return engine.state(clock_of(clock), now_ms, rules.clock_policy(self.settings.days), TERMS(self.policy))

    # ---- the log ------------------------------------------------------------------

    async def receive(self, who: Principal, ask: ReceiveIn) -> str:
        now = int(time.time() * 1000)
        received = now
        if ask.received_on:
            try:
                day = dt.date.fromisoformat(ask.received_on)
            except ValueError:
                raise Refused(f"{ask.received_on} is not a date.") from None
            if day > dt.datetime.now(self.zone).date():
                raise Refused("A request cannot be received in the future.")
            received = int(dt.datetime.combine(day, dt.time(12), self.zone).timestamp() * 1000)
            if day == dt.datetime.now(self.zone).date():
                received = now
        clock = engine.start(rules.RESPONSE, received, rules.clock_policy(self.settings.days), TERMS(self.policy))
        row = self._stored(clock, None)
        new = NewRequest(
            received, ask.channel, ask.requester_name, ask.requester_email, ask.requester_phone,
            ask.requester_address, ask.contact_by, ask.scope, list(ask.systems) or list(self.settings.systems),
        )  # fmt: skip
        number = await self.records.receive(new, who.user, self.settings.prefix, row)
        await self._announce(number, 1, "received", "received", "", who.user)
        await self._schedule(number, row)
        return number

    def _stored(self, clock: engine.Clock, was: ClockRow | None) -> ClockRow:
        return stored(clock, rules.clock_policy(self.settings.days), TERMS(self.policy), was)

    # ---- moves --------------------------------------------------------------------

    async def move(self, who: Principal, number: str, ask: MoveIn) -> AccessRequest:
        found = await self.records.request(number)
        if found is None:
            raise LookupError(number)
        r = found.request
        now = int(time.time() * 1000)
        after = rules.check(
            ask.move, rules.AccessStage(r.stage), who.role, who.user, r.submitted_by, frozenset(r.hands)
        )
        change = AccessChange(act=ask.move.value, by=who.user, detail="")
        if after.value != r.stage:
            change.fields["stage"] = after.value
        cal = TERMS(self.policy)
        clock = clock_of(found.clock) if found.clock else None
        match ask.move:
            case rules.Move.ASSIGN:
                if not ask.to:
                    raise Refused("Say who the request is assigned to.")
                change.fields["assignee"] = ask.to
                change.detail = f"assigned to {ask.to}"
            case rules.Move.GATHER:
                change.detail = "gathering records"
            case rules.Move.WAIT:
                if not ask.note.strip():
                    raise Refused("Say what we asked the requester (a clarification, a fee).")
                change.fields["resume_to"] = r.stage
                if clock is not None:
                    change.clock = self._stored(engine.pause(clock, now, cal), found.clock)
                change.detail = f"waiting on the requester: {ask.note.strip()}; the clock is paused"
            case rules.Move.RESUMED:
                change.fields["resume_to"] = ""
                if clock is not None:
                    change.clock = self._stored(engine.resume(clock, now, cal), found.clock)
                change.detail = "the requester answered; the clock runs again" + (f": {ask.note}" if ask.note else "")
            case rules.Move.EXTEND:
                return await self._extend(who, found, ask, now)
            case rules.Move.SUBMIT:
                if not found.documents:
                    raise Refused("Gather the records first: the review is of what will be released.")
                change.fields["submitted_by"] = who.user
                change.detail = (
                    f"submitted for the second review ({len(found.boxes)} boxes on {len(found.documents)} records)"
                )
            case rules.Move.RETURN:
                if not ask.note.strip():
                    raise Refused("Say what should change before returning the package.")
                change.fields["submitted_by"] = ""
                change.fields["hands"] = ""  # a new round of gathering: new hands
                change.detail = f"returned by the reviewer: {ask.note.strip()}"
            case rules.Move.RELEASE:
                return await self._release(who, found, ask.version, now)
            case rules.Move.WITHDRAW:
                if not ask.note.strip():
                    raise Refused("Say why the request is withdrawn or abandoned.")
                change.fields["ended_reason"] = ask.note.strip()
                if clock is not None:
                    change.clock = self._stored(engine.stop(clock, "withdrawn"), found.clock)
                change.detail = f"withdrawn: {ask.note.strip()}"
        version = await self.records.change(number, ask.version, change)
        if change.clock is not None:
            await self._schedule(number, change.clock)
        await self._announce(
            number,
            version,
            change.fields.get("stage", r.stage),
            change.act,
            change.fields.get("assignee", r.assignee) or "",
            who.user,
        )
        done = await self.records.request(number)
        assert done is not None
        return done

    def _requester(self, r: RequestRow) -> dict[str, Any]:
        lines = {"mail": [p.strip() for p in r.requester_address.split(",") if p.strip()], "email": [r.requester_email]}
        return {"name": r.requester_name, "address_lines": [x for x in lines.get(r.contact_by, []) if x]}

    def _request_fields(self, r: RequestRow) -> dict[str, Any]:
        return {
            "number": r.number,
            "received": self._day(r.received_at),
            "scope": r.scope,
            "systems": ", ".join(r.systems) or "our records",
        }

    async def _extend(self, who: Principal, found: AccessRequest, ask: MoveIn, now: int) -> AccessRequest:
        r = found.request
        if found.clock is None:
            raise Refused("This request has no clock to extend.")
        was = clock_of(found.clock)
        longer = rules.extend(was, ask.days, ask.ground, self.settings.grounds, now, TERMS(self.policy))
        row = self._stored(longer, found.clock)
        ground = self.settings.grounds[ask.ground]
        fields = self._base("Extension of the time to respond", r.number) | {
            "requester": self._requester(r), "request": self._request_fields(r), "days": self.settings.days,
            "was_due": self._day(was.due_at), "extra": ask.days, "new_due": self._day(longer.due_at),
            "ground": ground.lower(), "note": ask.note.strip(), "author_name": who.user,
        }  # fmt: skip
        html = self._render("extension.html.j2", fields)
        pdf = await run_anywhere(self.renderer, render_pdf, html)
        row.extension = json.dumps(
            {"days": ask.days, "ground": ask.ground, "approved_by": who.user, "at": now, "new_due": longer.due_at}
        )
        change = AccessChange(
            act="extend", by=who.user, clock=row,
            detail=f"extended by {ask.days} business days to {self._day(longer.due_at)}: {ground}",
        )  # fmt: skip
        version, _ = await self.records.notice(r.number, ask.version, change, pdf)
        await self._schedule(r.number, row)
        await self._announce(r.number, version, r.stage, "extend", r.assignee or "", who.user)
        done = await self.records.request(r.number)
        assert done is not None
        return done

    def _render(self, name: str, fields: dict[str, Any]) -> str:
        try:
            return str(self.env.get_template(name).render(**fields))
        except jinja2.TemplateError as exc:
            raise Refused(f"The {name} template cannot be used: {exc}.") from None

    async def _release(self, who: Principal, found: AccessRequest, version: int, now: int) -> AccessRequest:
        r = found.request
        if version != r.version:
            raise RequestConflict(r.version, r.changed_by)
        docs = await self.records.documents(r.number)
        if [d.id for d, _ in docs] != [d.id for d in found.documents]:
            raise RequestConflict(r.version, r.changed_by)  # what was reviewed is what is released
        by_doc: dict[int, list[tuple[int, float, float, float, float, str]]] = {}
        for b in found.boxes:
            by_doc.setdefault(b.document, []).append((b.page, b.x0, b.y0, b.x1, b.y1, b.reason))
        records = [(pdf, by_doc.get(d.id, [])) for d, pdf in docs]
        reasons = Counter(b.reason for b in found.boxes)
        words = self.settings.reasons
        base = self._base("Response to your request", r.number)
        letter = self._render(
            "response.html.j2",
            base | {
                "requester": self._requester(r), "request": self._request_fields(r), "records": len(docs),
                "pages": sum(d.pages for d, _ in docs), "author_name": r.submitted_by or who.user,
                "reasons": [(c, words.get(c, c), n) for c, n in sorted(reasons.items())],
            },
        )  # fmt: skip
        titles = {d.id: f"Record {i}" for i, (d, _) in enumerate(docs, 1)}  # titles may name people
        summary = self._render(
            "redaction_log.html.j2",
            base | {
                "request": self._request_fields(r), "records": len(docs), "reviewer": who.user,
                "boxes": [{"record": titles.get(b.document, b.document), "page": b.page + 1, "reason": b.reason,
                           "words": words.get(b.reason, b.reason)} for b in found.boxes],
            },
        )  # fmt: skip
        package, pages, parts = await run_anywhere(self.renderer, build_package, letter, records, summary)
        change = AccessChange(act="release", by=who.user, detail=f"{pages} pages, {len(found.boxes)} places withheld")
        if found.clock is not None:
            change.clock = self._stored(engine.meet(clock_of(found.clock), now), found.clock)
        _, number = await self.records.issue(r.number, version, change, package, parts, pages, who.user)
        log.info("%s released as %s", r.number, number)
        if change.clock is not None:
            await self._schedule(r.number, change.clock)
        await self._announce(r.number, version + 1, "released", "release", r.assignee or "", who.user)
        done = await self.records.request(r.number)
        assert done is not None
        return done

    # ---- records gathered -----------------------------------------------------------

    async def gather(self, who: Principal, number: str, ask: RecordIn) -> list[int]:
        found = await self.records.request(number)
        if found is None:
            raise LookupError(number)
        if found.request.stage not in ("received", "gathering"):
            raise Refused("Records are gathered while the request is received or being gathered.")
        made: list[int] = []
        if ask.kind == "complaint":
            f = await self.cases.file(ask.ref)
            if f is None:
                raise Refused(f"There is no complaint file {ask.ref}.")
            fields = self._base(f"Complaint file {f.file_number}", f.file_number) | {
                "f": f, "received": self._day(f.received_at),
                "timeline": [
                    {"when": self._when(t.at), "by": t.by, "act": t.act, "detail": t.detail} for t in f.timeline
                ],
                "messages": [{"when": self._when(m.at), "direction": "to them" if m.direction == "out" else "from them",
                              "channel": m.channel, "text": m.text} for m in f.messages],
            }  # fmt: skip
            pdf = await run_anywhere(self.renderer, render_pdf, self._render("complaint.html.j2", fields))
            made.append(
                await self._keep(
                    number, "complaint", f.file_number, f"Complaint file {f.file_number}", pdf, who, f.file_number
                )
            )
            for att in f.attachments:
                data = self._attachment(att.sha256)
                if data is None or att.type not in ("application/pdf", *redaction.IMAGE_TYPES):
                    continue
                kept = await run_anywhere(self.renderer, redaction.as_pdf, data, att.type)
                made.append(
                    await self._keep(
                        number,
                        "complaint",
                        f"{f.file_number}/{att.name}",
                        f"{att.name} (attached to {f.file_number})",
                        kept,
                        who,
                        f.file_number,
                    )
                )
        elif ask.kind == "letter":
            if not re.fullmatch(r"[0-9]{1,15}", ask.ref):
                raise Refused("A letter is named by its id.")
            got = await self.letters.pdf(int(ask.ref))
            letter = await self.letters.letter(int(ask.ref))
            if got is None or letter is None:
                raise Refused(f"There is no issued letter {ask.ref}.")
            made.append(
                await self._keep(number, "letter", got[0], f"Letter {got[0]} ({letter.file_number})", got[2], who)
            )
        else:
            if self.incident is None:
                raise Refused("Dispatch records are not available on this hub.")
            doc = await self.incident(ask.ref)
            if doc is None:
                raise Refused(f"There is no incident {ask.ref}.")
            pdf = await run_anywhere(
                self.renderer, render_pdf, self._render("incident.html.j2", self._incident_fields(ask.ref, doc))
            )
            made.append(
                await self._keep(number, "incident", ask.ref, f"Dispatch record of incident {ask.ref}", pdf, who)
            )
        await self._announce(
            number, found.request.version, found.request.stage, "gathered", found.request.assignee or "", who.user
        )
        return made

    def _incident_fields(self, ref: str, doc: dict[str, Any]) -> dict[str, Any]:
        incident = doc.get("incident") or doc.get("eido") or {}
        flat = [
            (k, v if isinstance(v, str | int | float) else json.dumps(v, default=str))
            for k, v in dict(incident).items()
        ]
        timeline = [
            {
                "when": self._when(int(t.get("at", 0))),
                "by": t.get("by", ""),
                "what": f"{t.get('action', '')} {t.get('detail', '')}".strip(),
            }
            for t in doc.get("timeline", [])
        ]
        radio = [
            {
                "when": self._when(int(x.get("at", 0) or x.get("ts", 0))),
                "unit": x.get("unit", ""),
                "text": x.get("text", ""),
            }
            for x in doc.get("radio", [])
        ]
        more = {"ref": ref, "incident": flat, "timeline": timeline, "radio": radio}
        return self._base(f"Incident {ref}", ref) | more

    def _attachment(self, digest: str) -> bytes | None:
        if self.attachments is None:
            return None
        path = self.attachments / digest[:2] / digest
        return path.read_bytes() if path.is_file() else None

    async def upload(self, who: Principal, number: str, data: bytes, media_type: str, title: str) -> int:
        found = await self.records.request(number)
        if found is None:
            raise LookupError(number)
        if found.request.stage not in ("received", "gathering"):
            raise Refused("Records are gathered while the request is received or being gathered.")
        try:
            pdf = await run_anywhere(self.renderer, redaction.as_pdf, data, media_type)
        except Exception as exc:  # PDFium's own error for a broken file
            raise Refused(f"This file cannot be read as a PDF or an image: {exc}") from None
        return await self._keep(number, "upload", title, title, pdf, who)

    async def _keep(
        self, number: str, kind: str, ref: str, title: str, pdf: bytes, who: Principal, case_file: str = ""
    ) -> int:
        pages = await run_anywhere(self.renderer, redaction.page_count, pdf)
        total = await self.records.pages(number)
        if total + pages > MAX_PAGES:
            raise Refused(f"A request holds at most {MAX_PAGES} pages: split it, or release in parts.")
        try:
            return await self.records.gather(number, kind, ref, title[:200], pdf, pages, who.user, case_file)
        except NotGathering:
            raise Refused("The request was submitted for review meanwhile: nothing was added.") from None

    # ---- redaction ------------------------------------------------------------------

    def _reason(self, code: str) -> None:
        if code not in self.settings.reasons:
            raise Refused(f"{code!r} is not a reason code: one of {', '.join(self.settings.reasons)}.")

    async def _open(self, number: str) -> AccessRequest:
        found = await self.records.request(number)
        if found is None:
            raise LookupError(number)
        if found.request.stage not in ("received", "gathering"):
            raise Refused("Boxes are marked while the records are being gathered (return the package to change it).")
        return found

    async def box(self, who: Principal, number: str, boxes: list[BoxIn]) -> list[int]:
        found = await self._open(number)
        pages = {d.id: d.pages for d in found.documents}
        rows = []
        for b in boxes:
            self._reason(b.reason)
            if b.document not in pages or b.page >= pages[b.document]:
                raise Refused(f"Record {b.document} has no page {b.page + 1} in this request.")
            if b.x1 <= b.x0 or b.y1 <= b.y0:
                raise Refused("A box needs a width and a height.")
            rows.append((b.document, b.page, b.x0, b.y0, b.x1, b.y1, b.reason, "drawn"))
        detail = "; ".join(f"record {b.document} page {b.page + 1}: {b.reason}" for b in boxes)
        return await self._mark(number, rows, who, detail)

    async def _mark(
        self,
        number: str,
        rows: list[tuple[int, int, float, float, float, float, str, str]],
        who: Principal,
        detail: str,
    ) -> list[int]:
        if await self.records.box_count(number) + len(rows) > MAX_BOXES:
            raise Refused(f"A request holds at most {MAX_BOXES} boxes: box a whole page or record instead.")
        try:
            return await self.records.mark(number, rows, who.user, detail)
        except NotGathering:
            raise Refused("The request was submitted for review meanwhile: nothing was marked.") from None

    async def match(self, who: Principal, number: str, ask: MatchIn) -> list[int]:
        """Every match of a text or a named pattern across the package, boxed with one reason."""
        found = await self._open(number)
        self._reason(ask.reason)
        if bool(ask.text.strip()) == bool(ask.pattern):
            raise Refused("Give a text, or a pattern (one of " + ", ".join(rules.PATTERNS) + "), not both.")
        if ask.text.strip() and len(ask.text.strip()) < 3:
            raise Refused("Give at least three characters to search for.")
        if ask.pattern and ask.pattern not in rules.PATTERNS:
            raise Refused(f"{ask.pattern!r} is not a pattern: one of {', '.join(rules.PATTERNS)}.")
        needle, regex = (rules.PATTERNS[ask.pattern], True) if ask.pattern else (ask.text.strip(), False)
        what = f"match: {ask.pattern or ask.text.strip()}"
        rows = []
        for d, pdf in await self.records.documents(found.request.number):
            try:
                found_here = await run_anywhere(self.renderer, _find, pdf, needle, regex)
            except ValueError as exc:
                raise Refused(str(exc)) from None
            for m in found_here:
                rows.append((d.id, m.page, m.x0, m.y0, m.x1, m.y1, ask.reason, what))
        if not rows:
            return []
        return await self._mark(number, rows, who, f"{len(rows)} places of {what[7:]}: {ask.reason}")

    # ---- the clock -------------------------------------------------------------------

    async def _schedule(self, number: str, row: ClockRow) -> None:
        turn = _next_turn(row, self.policy, int(time.time() * 1000))
        try:
            if turn is None:
                await self.redis.zrem(self.bus.part.intake(DUE_KEY), number)
            else:
                await self.redis.zadd(self.bus.part.intake(DUE_KEY), {number: turn})
        except (RedisError, OSError) as exc:
            log.warning("%s: clock saved, not scheduled (%s); the sweep's seeding finds it", number, exc)

    async def _announce(self, number: str, version: int, stage: str, act: str, assignee: str, by: str) -> None:
        if _ACCESS is None:
            return
        try:
            await self.bus.commit(
                _ACCESS, AccessChanged(ts=int(time.time() * 1000), by=by, request=number, version=version,
                                       stage=stage, act=act, assignee=assignee)
            )  # fmt: skip
        except (RedisError, OSError) as exc:
            log.warning("%s: saved, but not announced (%s)", number, exc)

    # ---- statistics -------------------------------------------------------------------

    async def statistics(self, year: int) -> dict[str, Any]:
        start = int(dt.datetime(year, 1, 1, tzinfo=self.zone).timestamp() * 1000)
        end = int(dt.datetime(year + 1, 1, 1, tzinfo=self.zone).timestamp() * 1000)
        got = await self.records.year(start, end)
        received = len(got["requests"])
        done = on_time = 0
        extended: Counter[str] = Counter()
        for _number, stage, _released_at, due_at, extension, met_at, _original in got["requests"]:
            if extension:
                extended[json.loads(extension).get("ground", "")] += 1
            if stage == "released":
                done += 1
                if met_at is not None and due_at is not None and met_at <= due_at:
                    on_time += 1
        return {
            "year": year,
            "received": received,
            "completed": done,
            "completed_within_time": on_time,
            "extended": dict(extended),
            "exceptions": got["boxes"],
        }


def _find(pdf: bytes, needle: str, regex: bool) -> list[redaction.Mark]:
    return redaction.find(pdf, needle, regex=regex)


def _next_turn(row: ClockRow, policy: Policy, now_ms: int) -> int | None:
    return next_turn(row, rules.clock_policy(policy.access.days), TERMS(policy), now_ms)


class AccessSweep(SweepLoop):
    """The access requests' clocks, swept with the case clocks in the intake workers: each turn
    (due soon, overdue) claimed by one worker and recorded once (``AccessRecords.announce``)."""

    name = "access clock sweep"

    def __init__(self, redis: Redis, store: RecordsStore, policy: Policy, bus: Bus) -> None:
        self.redis = redis
        self.records = AccessRecords(store)
        self.policy = policy
        self.bus = bus
        self._seeded_at = 0.0
        self._stop = asyncio.Event()

    async def seed(self, now_ms: int) -> int:
        add = {}
        for number, row in await self.records.counting():
            turn = _next_turn(row, self.policy, now_ms)
            if turn is not None:
                add[number] = turn
        if add:
            await self.redis.zadd(self.bus.part.intake(DUE_KEY), add, nx=True)  # type: ignore[arg-type]
        return len(add)

    async def sweep(self, now_ms: int | None = None) -> int:
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        if time.monotonic() - self._seeded_at > 600:
            await self.seed(now)
            self._seeded_at = time.monotonic()
        got = await CLAIM_CLOCKS(
            self.redis, (self.bus.part.intake(DUE_KEY), self.bus.part.intake(CLAIMED_KEY)), (now, 200, 60_000)
        )
        done = 0
        for raw in got:
            number = raw.decode() if isinstance(raw, bytes) else str(raw)
            found = await self.records.request(number)
            if found is None or found.clock is None:
                continue
            row = found.clock
            rule = rules.clock_policy(self.policy.access.days)
            state = engine.state(clock_of(row), now, rule, TERMS(self.policy))
            if state in ("warning", "overdue") and row.announced != state:
                if await self.records.announce(number, row.announced, state):
                    done += 1
                    row.announced = state
                    r = found.request
                    if _ACCESS is not None:
                        event = AccessChanged(ts=now, by="clock", request=number, version=r.version, stage=r.stage,
                                              act=f"clock.{state}", assignee=r.assignee or "")  # fmt: skip
                        await self.bus.commit(_ACCESS, event)
            turn = _next_turn(row, self.policy, now)
            if turn is None:
                await self.redis.zrem(self.bus.part.intake(DUE_KEY), number)
            else:
                await self.redis.zadd(self.bus.part.intake(DUE_KEY), {number: turn})
        if got:
            await self.redis.zrem(self.bus.part.intake(CLAIMED_KEY), *got)
        return done

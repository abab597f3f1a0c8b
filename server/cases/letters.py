"""Letters: drafted from templates with the file's merge fields, edited, reviewed by the team
lead, and issued as numbered PDFs that never change (``server/records/letters.py`` keeps them).

Templates are Jinja2, autoescaped and strict: a field a template names that the file does not
have is an error when it is drafted or previewed, never a blank in a sent letter. The shipped
templates are in ``server/cases/templates/letters``; a file of the same name in the data dir's
``letters/`` overrides one (``GET /api/cases/letter-templates/{kind}/preview`` shows it against
a sample file). The body a template makes is HTML; what a person edits is cleaned (``nh3``) to
the few tags a letter needs.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import jinja2
import msgspec
import nh3
from jinja2.sandbox import ImmutableSandboxedEnvironment
from msgspec import Meta
from redis.exceptions import RedisError

from protocol.events import CaseLetterChanged
from server.access.roles import Principal, Role
from server.agency.policy import Policy
from server.bus.log import Bus
from server.bus.topics import topic_named
from server.cases.pdf import PdfRenderer, render_pdf, run_anywhere
from server.cases.rules.letters import KIND_TITLES, Delivery, LetterKind, LetterMove, LetterState, delivery, move
from server.cases.rules.stages import GROUND_DEFINITIONS, Ground, Refused, Route, Stage, public_words
from server.cases.timing import DECISION, STATUS_UPDATE, policy_for
from server.records.cases import AllegationRow, CaseFile, CaseRecords, Complainant
from server.records.letters import LetterConflict, LetterRecords, LetterRow
from server.records.store import RecordsStore

__all__ = [
    "DECISION_WORDS",
    "FINDING_WORDS",
    "NEXT_STEPS",
    "RIGHTS",
    "LetterDesk",
    "LetterMoveIn",
    "LetterTemplates",
    "TemplateProblem",
    "sample_file",
]

log = logging.getLogger("dispatch.cases.letters")
_CASES = topic_named("cases")
_TAGS = {"p", "br", "ul", "ol", "li", "strong", "em", "b", "i", "h2", "h3", "blockquote"}
_MAX_BODY = 60_000

FINDING_WORDS = {
    "unfounded": "Unfounded. This means the review found that what was described did not happen, or did not"
    " involve this officer.",
    "exonerated": "Exonerated. This means what was described did happen, but the officer acted within the law"
    " and the rules.",
    "not_sustained": "Not sustained. This means there was not enough evidence to say, one way or the other,"
    " whether it happened as described. It does not mean we did not believe you.",
    "sustained": "Sustained. This means the review found that the officer broke the rules. The service must act"
    " on it, and we will tell you what it does.",
    "no_cooperation": "Not decided. The review could not go further because the people it needed could not take part.",
    "withdrawn": "Withdrawn. You asked us to stop looking into this concern.",
    "": "Not decided yet.",
}
DECISION_WORDS = {
    Route.INVESTIGATION.value: "Your complaint will be investigated by the commission. An investigator will look"
    " at the evidence, and may speak with you, the officers and any witnesses.",
    Route.RESOLUTION.value: "We will offer a resolution meeting, where you and the police service talk through"
    " what happened with the help of a neutral person. It is your choice: you may say no.",
    Route.SERIOUS_INCIDENT.value: "Your complaint goes to the Alberta Serious Incident Response Team (ASIRT),"
    " part of the commission, which looks into the most serious matters involving police.",
    Route.REFERRED_OUT.value: "Your complaint is about a matter that another body deals with, so we have sent it"
    " to them. They will contact you.",
    "": "We are still working out who should deal with your complaint.",
}
NEXT_STEPS = {
    Stage.RECEIVED: "A case coordinator will read your file soon and contact you.",
    Stage.SCREENING: "We are checking that we have everything we need. If anything is missing, we will ask you.",
    Stage.WAITING: "We are waiting to hear from you. When we do, we will carry on.",
    Stage.JURISDICTION: "We are deciding who should deal with your complaint. We will write to you when we do.",
    Stage.ROUTED: "The people dealing with your complaint may contact you. We will keep you up to date.",
    Stage.CONCLUDED: "The work is finished. We will write to you with the outcome and what it means.",
    Stage.CLOSED: "There is nothing more you need to do.",
    Stage.WITHDRAWN: "There is nothing more you need to do. You can contact us again at any time.",
    Stage.DISMISSED: "There is nothing more you need to do. If you disagree, see your rights below.",
}
RIGHTS = (
    "If you disagree with a decision on your file, you may ask for it to be reviewed. Contact us within 30 days"
    " of this letter and we will explain how, and help you with it. You may also get advice from a lawyer or a"
    " community legal clinic."
)
_REFERRAL_WHY = {
    4: "Your concerns are about an officer's professional performance, which the officer's employer deals with.",
    5: "Your concerns are about the police service's policies, procedures or services, which the service itself"
    " deals with.",
}


class TemplateProblem(Exception):
    """A template that cannot be drafted from: an unknown field, or bad syntax."""


class LetterMoveIn(msgspec.Struct, forbid_unknown_fields=True):
    version: Annotated[int, Meta(ge=1, le=2**53 - 1)]
    move: Literal["edit", "submit", "return", "approve"]
    body: Annotated[str, Meta(max_length=_MAX_BODY)] | None = None  # edit: the letter's text (HTML)
    comments: Annotated[str, Meta(max_length=4000)] = ""  # return: what to change


def _day(ms: int | None, tz: str) -> str:
    if ms is None:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000, ZoneInfo(tz)).strftime("%B %-d, %Y")


def _address_lines(d: Delivery) -> list[str]:
    if d.channel == "mail":
        return [p.strip() for p in d.address.replace("\n", ",").split(",") if p.strip()]
    return [d.address] if d.channel in ("email", "service") and d.address else []


class LetterTemplates:
    """The templates in use (the data dir's overrides before the shipped ones), the merge fields
    of a file, and rendering: a body, the whole page, its PDF."""

    def __init__(self, policy: Policy, data_dir: Path | None = None, renderer: PdfRenderer | None = None) -> None:
        self.policy = policy
        self.renderer = renderer
        self.overrides = data_dir / "letters" if data_dir is not None else None
        loaders: list[jinja2.BaseLoader] = []
        if self.overrides is not None:
            loaders.append(jinja2.FileSystemLoader(self.overrides))
        loaders.append(jinja2.PackageLoader("server.cases", "templates/letters"))
        self.env = self._env(jinja2.ChoiceLoader(loaders))
        self.shipped = self._env(jinja2.PackageLoader("server.cases", "templates/letters"))

    @staticmethod
    def _env(loader: jinja2.BaseLoader) -> ImmutableSandboxedEnvironment:
        return ImmutableSandboxedEnvironment(
            loader=loader, autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
        )

    # ---- templates ----------------------------------------------------------------

    def overridden(self, kind: LetterKind) -> bool:
        return self.overrides is not None and (self.overrides / f"{kind.value}.html.j2").is_file()

    def fields(self, f: CaseFile, kind: LetterKind, author: str, now_ms: int) -> dict[str, Any]:
        """Every merge field a letter may use, from the file."""
        rules = self.policy.complaints
        tz = rules.timezone
        who = f.complainant
        sent = self.delivery(f, kind)
        stage = Stage(f.stage)
        route = Route(f.route) if f.route in {r.value for r in Route} else None
        rec = f.recommendation or {}
        update = next((k for k in f.clocks if k.name == STATUS_UPDATE), None)
        decision = next((k for k in f.clocks if k.name == DECISION), None)
        referral = f.referrals[-1] if f.referrals else None
        ground, _, reasons = f.ended_reason.partition(": ")
        level = f.level or rec.get("confirmed_level") or rec.get("level")
        body = rec.get("confirmed_body") or rec.get("body") or (referral.body if referral else "")
        settings = rules.letters
        return {
            "title": KIND_TITLES[kind],
            "today": _day(now_ms, tz),
            "sender": settings.sender,
            "signatory": settings.signatory,
            "contact": {"address": settings.address, "phone": settings.phone, "email": settings.email},
            "support": list(settings.support),
            "author_name": author,
            "format": sent.format,
            "recipient": {
                "name": sent.address if kind is LetterKind.POLICE_NOTICE else who.name,
                "address_lines": _address_lines(sent),
            },
            "complainant": {"name": who.name or "complainant", "contact_by": who.contact_by},
            "file": {
                "number": f.file_number,
                "kind": f.kind if f.kind in ("complaint", "concern", "compliment") else "complaint",
                "received": _day(f.received_at, tz),
                "occurred_on": f.occurred_on or "the date you gave",
                "location": f.location or "the place you described",
                "police_service": f.police_service,
                "summary": f.summary,
                "stage_words": public_words(stage, route),
                "level": level or "",
            },
            "allegations": [self._allegation(x) for x in f.allegations],
            "asked": [self._label(f, k) for k, v in sorted(f.checklist.items()) if v == "missing"],
            "decision": {
                "words": DECISION_WORDS.get(f.route, DECISION_WORDS[""]),
                "reasons": str(rec.get("lead_reasons") or rec.get("note") or ""),
                "body": body,
            },
            "referral": {
                "body": referral.body if referral else body,
                "sent": _day(referral.sent_at if referral else None, tz),
                "follow_up": _day(referral.follow_up_due if referral else None, tz),
                "why": _REFERRAL_WHY.get(int(referral.level or 0) if referral else 0, DECISION_WORDS["referred_out"]),
            },
            "dismissal": {
                "ground_words": ground.replace("_", " "),
                "meaning": GROUND_DEFINITIONS.get(Ground(ground), "") if ground in {g.value for g in Ground} else "",
                "reasons": reasons,
            },
            "delay": {
                "reason": decision.delay_reason if decision else "",
                "expected": _day(_date_ms(decision.delay_expected, tz), tz)
                if decision and decision.delay_expected
                else "",
                "doing": decision.delay_action if decision else "",
            },
            "next_steps": NEXT_STEPS[stage],
            "next_update": _day(update.due_at if update else None, tz)
            or "within " + str(policy_for(self.policy, STATUS_UPDATE).days) + " days",
            "update_days": policy_for(self.policy, STATUS_UPDATE).days,
            "target_days": policy_for(self.policy, DECISION).days,
            "rights": RIGHTS,
            "closing_words": public_words(stage, route),
        }

    def _allegation(self, x: AllegationRow) -> dict[str, Any]:
        kind = self.policy.complaints.allegation_types
        label = next((k.label for k in kind if k.code == x.type), "") or x.type.replace("_", " ").capitalize()
        officer = " ".join(p for p in (x.officer_name, f"#{x.officer_badge}" if x.officer_badge else "") if p)
        return {
            "label": label,
            "tier": x.tier,
            "finding": x.finding,
            "finding_words": FINDING_WORDS.get(x.finding, x.finding),
            "officer": officer,
        }

    def _label(self, f: CaseFile, key: str) -> str:
        from server.cases.rules import screening

        items = screening.CHECKLISTS.get(f.kind, screening.CHECKLISTS["complaint"])
        return next((i.ask or i.label for i in items if i.key == key), key.replace("_", " "))

    def delivery(self, f: CaseFile, kind: LetterKind) -> Delivery:
        if kind is LetterKind.POLICE_NOTICE:
            return Delivery("service", "standard", f"Professional Standards, {f.police_service}", "")
        who = f.complainant
        return delivery(who.contact_by, who.accessibility, who.email, who.phone, who.mailing_address)

    def render_body(self, kind: LetterKind, fields: dict[str, Any], *, source: str | None = None) -> str:
        """A letter's body from its template (or from ``source``, an override being tried)."""
        try:
            template = (
                self.env.from_string(source) if source is not None else self.env.get_template(f"{kind.value}.html.j2")
            )
            return str(template.render(**fields)).strip()
        except jinja2.UndefinedError as exc:
            raise TemplateProblem(f"The {kind.value} template names a field no file has: {exc.message}.") from None
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateProblem(
                f"The {kind.value} template has an error on line {exc.lineno}: {exc.message}."
            ) from None
        except jinja2.TemplateError as exc:
            raise TemplateProblem(f"The {kind.value} template cannot be used: {exc}.") from None

    def render_page(self, fields: dict[str, Any], body: str, number: str | None) -> str:
        """The whole letter as one HTML document (what is shown, and what becomes the PDF)."""
        page = self.env.get_template("_page.html.j2")
        try:
            return str(page.render(**fields, body=_markup(body), number=number or ""))
        except jinja2.TemplateError as exc:
            raise TemplateProblem(f"The letter page template cannot be used: {exc}.") from None

    async def pdf(self, html: str) -> bytes:
        return await run_anywhere(self.renderer, render_pdf, html)

    def preview(self, kind: LetterKind, source: str | None = None) -> str:
        """The letter of this kind for the sample file, as a page: the override (or ``source``)
        tried before anyone drafts from it. Raises TemplateProblem."""
        now = int(time.time() * 1000)
        fields = self.fields(sample_file(self.policy, now), kind, "Cora Coordinator", now)
        return self.render_page(fields, self.render_body(kind, fields, source=source), None)


class LetterDesk:
    """Drafting, review and issue of letters on files, with the templates."""

    def __init__(
        self,
        store: RecordsStore,
        bus: Bus,
        policy: Policy,
        data_dir: Path | None = None,
        renderer: PdfRenderer | None = None,
        on_issued: Callable[[Principal, str, str, str], Awaitable[None]] | None = None,
    ) -> None:
        self.on_issued = on_issued  # (who, file, kind, number): the workspace meets the clock it answers
        self.records = LetterRecords(store)
        self.cases = CaseRecords(store)
        self.bus = bus
        self.policy = policy
        self.templates = LetterTemplates(policy, data_dir, renderer)

    # ---- the moves ----------------------------------------------------------------

    async def draft(self, who: Principal, file_number: str, kind: LetterKind, made_by_clock: str = "") -> LetterRow:
        f = await self.cases.file(file_number)
        if f is None:
            raise LookupError(file_number)
        _needs(kind, f)
        now = int(time.time() * 1000)
        fields = self.templates.fields(f, kind, who.user, now)
        body = nh3.clean(self.templates.render_body(kind, fields), tags=_TAGS)
        sent = self.templates.delivery(f, kind)
        how = {"file": "kept on file", "service": "to the police service"}.get(sent.channel, f"by {sent.channel}")
        detail = f"{KIND_TITLES[kind].lower()} letter drafted ({how}" + (
            f", {sent.format.replace('_', ' ')})" if sent.format != "standard" else ")"
        )
        if made_by_clock:
            detail += f": made when the {made_by_clock.replace('_', ' ')} came due"
        letter_id = await self.records.draft(
            file_number, kind.value, who.user, body, (sent.channel, sent.format, sent.address), made_by_clock, detail
        )
        letter = await self.records.letter(letter_id)
        assert letter is not None
        await self._announce(letter, who.user)
        return letter

    async def auto_draft(self, file_number: str, kind: LetterKind, clock: str) -> LetterRow | None:
        """A draft the clocks made (the status update came due), for the file's coordinator."""
        try:
            return await self.draft(Principal("clock", Role.CASE_COORDINATOR), file_number, kind, made_by_clock=clock)
        except (Refused, TemplateProblem, LookupError) as exc:
            log.warning("%s: no %s draft made (%s)", file_number, kind.value, exc)
            return None

    async def move(self, who: Principal, letter_id: int, ask: LetterMoveIn) -> LetterRow:
        """Edit, submit, return or approve (which issues). Raises Refused, LetterConflict, NoSuchLetter."""
        letter = await self.records.letter(letter_id)
        if letter is None:
            raise LookupError(letter_id)
        now = int(time.time() * 1000)
        lead = ""
        if who.role is Role.CASE_COORDINATOR:
            lead = await self.cases.delegated_by(who.user, now) or ""
        what = LetterMove(ask.move)
        author = who.user if letter.author == "clock" and what is LetterMove.SUBMIT else letter.author
        hands = frozenset(letter.hands)
        state = move(
            what, LetterState(letter.state), who.role, who.user, author, acting_for_lead=bool(lead), hands=hands
        )
        acting = lead if what in (LetterMove.RETURN, LetterMove.APPROVE) else ""
        title = KIND_TITLES[LetterKind(letter.kind)].lower()
        if what is LetterMove.APPROVE:
            done = await self._issue(who, letter, ask.version, acting, now)
            if self.on_issued is not None and done.number:
                await self.on_issued(who, done.file_number, done.kind, done.number)
        else:
            body = None
            if what is LetterMove.EDIT:
                if ask.body is None:
                    raise Refused("Send the letter's text to save it.")
                body = nh3.clean(ask.body, tags=_TAGS)
            if what is LetterMove.RETURN and not ask.comments.strip():
                raise Refused("Say what should change before returning the letter.")
            detail = {
                LetterMove.EDIT: f"{title} letter {letter_id} edited",
                LetterMove.SUBMIT: f"{title} letter {letter_id} submitted for the team lead's approval",
                LetterMove.RETURN: f"{title} letter {letter_id} returned: {ask.comments.strip()}",
            }[what]
            done = await self.records.move(
                letter_id,
                ask.version,
                state.value,
                who.user,
                detail,
                body=body,
                comments=ask.comments.strip() if what is LetterMove.RETURN else None,
                acting_for=acting,
                author=author if author != letter.author else None,
            )
        await self._announce(done, who.user)
        return done

    async def _issue(self, who: Principal, letter: LetterRow, version: int, acting: str, now: int) -> LetterRow:
        """Issue the letter at the version the reviewer read (a letter resubmitted since is not theirs to approve)."""
        if version != letter.version:
            raise LetterConflict(letter.version, letter.changed_by)
        f = await self.cases.file(letter.file_number)
        assert f is not None
        kind = LetterKind(letter.kind)
        fields = self.templates.fields(f, kind, letter.author, now)
        number = await self.records.number_for(letter.id, self.policy.complaints.file_prefix, now)
        fields["format"] = letter.format
        _as_drafted(fields, letter)
        pdf = await self.templates.pdf(self.templates.render_page(fields, letter.body, number))
        return await self.records.issue(letter.id, version, who.user, acting, number, pdf, now)

    async def page(self, letter: LetterRow) -> str:
        """A letter as a page (a draft marked so; an issued one as it was issued, with its number)."""
        f = await self.cases.file(letter.file_number)
        assert f is not None
        at = letter.issued_at or int(time.time() * 1000)
        fields = self.templates.fields(f, LetterKind(letter.kind), letter.author, at)
        fields["format"] = letter.format
        _as_drafted(fields, letter)
        return self.templates.render_page(fields, letter.body, letter.number)

    async def _announce(self, letter: LetterRow, by: str) -> None:
        if _CASES is None:
            return
        event = CaseLetterChanged(
            ts=int(time.time() * 1000),
            by=by,
            file=letter.file_number,
            letter=letter.id,
            letter_kind=letter.kind,
            state=letter.state,
            author=letter.author,
            number=letter.number or "",
        )
        try:
            await self.bus.commit(_CASES, event)
        except (RedisError, OSError) as exc:
            log.warning("letter %s: saved, but not announced (%s)", letter.id, exc)


def _as_drafted(fields: dict[str, Any], letter: LetterRow) -> None:
    """The address the letter was drafted to (what its reviewer read), not the file's today."""
    fields["recipient"]["address_lines"] = _address_lines(Delivery(letter.channel, letter.format, letter.address, ""))


def _markup(body: str) -> Any:
    from markupsafe import Markup

    return Markup(nh3.clean(body, tags=_TAGS))  # noqa: S704 - cleaned to the letter's tags just above


def _date_ms(day: str, tz: str) -> int | None:
    try:
        d = dt.date.fromisoformat(day)
    except ValueError:
        return None
    return int(dt.datetime.combine(d, dt.time(12), ZoneInfo(tz)).timestamp() * 1000)


def _needs(kind: LetterKind, f: CaseFile) -> None:
    """What must be on the file before a letter of this kind can say it (never a blank)."""
    decision = next((k for k in f.clocks if k.name == DECISION), None)
    if kind is LetterKind.REQUEST_INFO and not any(v == "missing" for v in f.checklist.values()):
        raise Refused("Mark on the checklist what is missing first: the letter lists it.")
    if kind is LetterKind.REFERRAL_NOTICE and not f.referrals:
        raise Refused("This file has not been referred out: record the referral first.")
    if kind is LetterKind.DELAY_NOTICE and not (
        decision and decision.delay_reason and decision.delay_expected and decision.delay_action
    ):
        raise Refused("Record why the decision is late, when it is expected and what is being done, first.")
    if kind is LetterKind.DISMISSAL and f.stage != Stage.DISMISSED.value:
        raise Refused("A dismissal letter follows the team lead's dismissal, with its reasons.")
    if kind is LetterKind.DECISION:
        if not f.allegations or any(not x.finding for x in f.allegations):
            raise Refused("Record a finding for every allegation first: the letter explains each one.")
    if kind in (LetterKind.JURISDICTION, LetterKind.DISPOSITION) and not f.route:
        raise Refused("The team lead confirms the route first: the letter says who deals with the file.")
    if kind is LetterKind.POLICE_NOTICE and not f.allegations:
        raise Refused("Add the allegations first: the notice lists them.")


def sample_file(policy: Policy, now_ms: int) -> CaseFile:
    """A made-up file with every field filled: what a template is previewed against."""
    from server.records.cases import ClockRow, ReferralRow

    day = 86_400_000
    rules = policy.complaints
    service = rules.police_services[0] if rules.police_services else "Edmonton Police Service"
    file = CaseFile(
        file_number=f"{rules.file_prefix}-2026-00042",
        version=3,
        kind="complaint",
        stage="routed",
        route="investigation",
        resume_to="",
        assignee="cora",
        received_at=now_ms - 200 * day,
        channel="web",
        taken_by=None,
        police_service=service,
        service_kind="municipal",
        flags=[],
        summary="Force used during an arrest outside a downtown shop.",
        checklist={"occurred_on": "missing", "officers": "missing"},
        recommendation={"level": 3, "route": "investigation", "body": "the commission", "lead_reasons": ""},
        level=3,
        ended_reason="frivolous: the events described happened in another province, before the service existed.",
        occurred_on="2026-04-18",
        occurred_time="21:30",
        location="101 Street and Jasper Avenue",
        narrative="(the complainant's account)",
        desired_outcome="An apology and an explanation.",
        complainant=Complainant(
            name="Alex Sample",
            email="alex@example.org",
            phone="780-555-0142",
            mailing_address="12 Sample Road NW, Edmonton, AB T5J 0A1",
            contact_by="mail",
            safe_times="weekdays after 5 pm",
            ok_to_leave_message=True,
            accessibility="large print, please",
            interpreter="",
            consent_share=True,
        ),
        updated_at=now_ms,
        changed_by="cora",
    )
    file.allegations = [
        AllegationRow(
            1,
            "unreasonable_force",
            1,
            "pushed to the ground",
            3,
            "investigation",
            "not_sustained",
            now_ms,
            1,
            "Jordan Officer",
            "4471",
            service,
        ),
        AllegationRow(
            2,
            "discourtesy",
            3,
            "swore at the complainant",
            3,
            "investigation",
            "sustained",
            now_ms,
            1,
            "Jordan Officer",
            "4471",
            service,
        ),
    ]
    file.clocks = [
        ClockRow("status_update", now_ms - 20 * day, now_ms + 40 * day, "calendar"),
        ClockRow(
            "decision",
            now_ms - 200 * day,
            now_ms - 20 * day,
            "calendar",
            delay_reason="We are waiting for video from a business nearby.",
            delay_expected=dt.date.fromtimestamp(now_ms / 1000 + 45 * 86400).isoformat(),
            delay_action="The investigator asked for it twice and set a date for it.",
        ),
    ]
    file.referrals = [
        ReferralRow(1, service, 5, now_ms - 30 * day, now_ms, "", None, None, "cora"),
    ]
    return file

"""The case workspace's acts: each one checked by the rules, written whole to the records store
(only if the file is still at the version the person saved from), then announced on the bus.

The path of an act: who may make it now (``rules.stages``, with a delegation to act for the team
lead looked up in the store), what it changes (clocks by ``rules.clocks``, the level by
``rules.levels``, completeness by ``rules.screening``), one transaction
(``CaseRecords.apply``), then a ``case.changed`` event on the intake lane, which every open
workspace receives, and the file's clocks set again in Redis. The record is the truth: if Redis
is down when the event would go out, the act stands and the workspaces catch up on reconnect.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import time
from typing import Any

from redis.exceptions import RedisError

from protocol.events import CaseChanged
from server.access.roles import Principal, Role
from server.agency.policy import Policy
from server.bus.log import Bus
from server.bus.topics import topic_named
from server.cases import acts as a
from server.cases.clock_board import ClockBoard
from server.cases.early_warning import EarlyWarnings
from server.cases.reviews import Reviews
from server.cases.rules import clocks as engine
from server.cases.rules import levels, screening
from server.cases.rules.stages import RULES, Act, Refused, Stage, check
from server.cases.timing import (
    ACKNOWLEDGE,
    DECISION,
    REFERRAL,
    STATUS_UPDATE,
    TERMS,
    clock_of,
    policy_for,
    row_of,
    view,
)
from server.records.cases import (
    AllegationRow,
    AllegationWrite,
    CaseChange,
    CaseFile,
    CaseRecords,
    ClockRow,
    NoSuchFile,
    ReferralWrite,
    VersionConflict,
)
from server.records.store import RecordsStore

__all__ = ["Refused", "Workspace", "contact_address", "given_fields", "rule_act", "taxonomy_of"]

log = logging.getLogger("dispatch.cases")
_CASES = topic_named("cases")

# The rule each body answers to (several bodies are edits of one kind).
_RULE_OF: dict[str, Act] = {
    "checklist": Act.EDIT,
    "edit": Act.EDIT,
    "allegation": Act.EDIT,
    "remove_allegation": Act.EDIT,
}
_ESCALATIONS = ("high_priority", "complex", "contentious", "possibly_frivolous")
_FACTS = ("death", "serious_injury", "sensitive")


def rule_act(body: a.Act) -> Act:
    tag = str(type(body).__struct_config__.tag)
    return _RULE_OF.get(tag) or Act(tag)


def taxonomy_of(policy: Policy) -> dict[str, levels.AllegationType]:
    extra = [
        {"code": k.code, "label": k.label, "tier": k.tier, "category": k.category}
        for k in policy.complaints.allegation_types
    ]
    return levels.taxonomy(extra)


def given_fields(f: CaseFile) -> dict[str, bool]:
    """Which of the file's fields hold something (what the checklist reads)."""
    return {
        "narrative": bool(f.narrative.strip()),
        "police_service": bool(f.police_service.strip()) and f.police_service != "Not sure",
        "occurred_on": bool(f.occurred_on),
        "location": bool(f.location.strip()),
        "officers": bool(f.officers_named) or any(x.officer_name or x.officer_badge for x in f.allegations),
        "desired_outcome": bool(f.desired_outcome.strip()),
        "email": bool(f.complainant.email),
        "phone": bool(f.complainant.phone),
        "mailing_address": bool(f.complainant.mailing_address),
        "consent": f.complainant.consent_share,
    }


def contact_address(f: CaseFile) -> tuple[str, str]:
    """The way the complainant asked to be reached, and where. Raises Refused if they asked for none."""
    who = f.complainant
    how = who.contact_by
    if how == "none":
        raise Refused(
            "The complainant asked not to be contacted. Record a note instead; the public status check"
            " shows where the file is."
        )
    address = {"email": who.email, "phone": who.phone, "text": who.phone, "mail": who.mailing_address}.get(how, "")
    return how, address


def _flags(text: list[str], add: str | None = None, drop: str | None = None) -> str:
    out = [f for f in text if f != drop]
    if add and add not in out:
        out.append(add)
    return ",".join(out)


class Workspace:
    def __init__(self, store: RecordsStore, bus: Bus, policy: Policy, board: ClockBoard) -> None:
        self.store = store
        self.records = CaseRecords(store)
        self.bus = bus
        self.policy = policy
        self.board = board
        self.taxonomy = taxonomy_of(policy)
        self.warnings = EarlyWarnings(store, bus, policy)
        self.reviews = Reviews(store, policy)

    # ---- who is acting ------------------------------------------------------------

    async def acting_for(self, who: Principal, act: Act, now: int) -> str:
        """The team lead a coordinator acts for, when this act needs the team lead and a
        delegation stands; "" otherwise (the act is theirs, or refused by the rules)."""
        rule = RULES[act]
        if who.role is not Role.CASE_COORDINATOR or who.role in rule.who or not rule.delegable:
            return ""
        return await self.records.delegated_by(who.user, now) or ""

    # ---- the acts -----------------------------------------------------------------

    async def attach(
        self, who: Principal, file_number: str, body: a.ActIn, evidence: tuple[str, str, str, bytes]
    ) -> CaseFile:
        """Attach a document (dispatch's record of an incident) with the note that says so."""
        return await self.act(who, file_number, body, evidence=evidence)

    async def act(
        self, who: Principal, file_number: str, body: a.ActIn, *, evidence: tuple[str, str, str, bytes] | None = None
    ) -> CaseFile:
        """Make one act. Raises Refused (the rules say no), VersionConflict, NoSuchFile."""
        f = await self.records.file(file_number)
        if f is None:
            raise NoSuchFile(file_number)
        now = int(time.time() * 1000)
        act = rule_act(body.act)
        lead = await self.acting_for(who, act, now)
        reason = _reason_of(body.act)
        resume = Stage(f.resume_to) if f.resume_to in ("screening", "jurisdiction") else None
        after = check(act, Stage(f.stage), who.role, acting=bool(lead), reason=reason, resume_to=resume)
        change = CaseChange(act=str(type(body.act).__struct_config__.tag), by=who.user, acting_for=lead)
        if after.value != f.stage:
            change.fields["stage"] = after.value
        self._shape(body.act, f, change, now, who)
        if evidence is not None:
            if any(e.sha256 == evidence[2] for e in f.evidence):
                raise Refused("This record is attached to the file already.")
            change.evidence.append(evidence)
            change.act = "evidence"
        version = await self.records.apply(file_number, body.version, change)
        await self._announce(file_number, version, change, f)
        await self._after(file_number, body.act, change)
        done = await self.records.file(file_number)
        assert done is not None
        return done

    async def _after(self, file_number: str, body: a.Act, change: CaseChange) -> None:
        """What follows a saved act: officers its allegations name assessed for early warning; a
        compliance review opened when a police service reported its referral concluded."""
        if change.allegations or change.removed_allegations:
            await self.warnings.assess_file(file_number)
        if isinstance(body, a.ReferralOutcome):
            await self.reviews.after_outcome(file_number, body.referral)

    async def _announce(self, file_number: str, version: int, change: CaseChange, before: CaseFile) -> None:
        stage = change.fields.get("stage", before.stage)
        assignee = change.fields.get("assignee", before.assignee) or ""
        try:
            if _CASES is not None:
                event = CaseChanged(
                    ts=int(time.time() * 1000),
                    by=change.by,
                    file=file_number,
                    version=version,
                    stage=stage,
                    act=change.act,
                    assignee=assignee,
                    route=change.fields.get("route", before.route),
                    acting_for=change.acting_for,
                )
                await self.bus.commit(_CASES, event)
            if change.clocks:
                await self.board.schedule(file_number, change.clocks)
        except (RedisError, OSError) as exc:
            # Written already: the workspaces reload on reconnect, the sweeper's seeding finds the clocks.
            log.warning("case %s: saved, but not announced (%s)", file_number, exc)

    def _clock(self, f: CaseFile, name: str) -> ClockRow | None:
        return next((k for k in f.clocks if k.name == name), None)

    def _set(self, change: CaseChange, clock: engine.Clock, was: ClockRow | None) -> ClockRow:
        row = row_of(clock, self.policy, was)
        change.clocks = [k for k in change.clocks if k.name != row.name] + [row]
        return row

    def _message_out(self, f: CaseFile, change: CaseChange, purpose: str, text: str) -> None:
        channel, address = contact_address(f)
        change.messages.append(("out", channel, address, purpose, text))

    def _shape(self, body: a.Act, f: CaseFile, change: CaseChange, now: int, who: Principal) -> None:
        """What the act writes, besides its stage (already checked)."""
        cal = TERMS(self.policy)
        row: ClockRow | None
        x: AllegationRow | None
        match body:
            case a.StartScreening():
                change.detail = "screening for completeness"
            case a.Checklist(marks=marks, note=note):
                merged: dict[str, str] = dict(f.checklist)
                merged.update({k: str(v) for k, v in marks.items() if k in _checklist_keys(f.kind)})
                change.fields["checklist"] = json.dumps(merged, sort_keys=True)
                change.detail = "; ".join(f"{k}: {v}" for k, v in sorted(marks.items())) + (
                    f" ({note})" if note else ""
                )
            case a.RequestInfo(missing=keys, message=message):
                self._message_out(f, change, "request_info", message)
                asked: dict[str, str] = dict(f.checklist)
                asked.update({k: "missing" for k in keys if k in _checklist_keys(f.kind)})
                change.fields["checklist"] = json.dumps(asked, sort_keys=True)
                change.fields["resume_to"] = f.stage
                for row in f.clocks:
                    if policy_for(self.policy, row.name).pauses:
                        self._set(change, engine.pause(clock_of(row), now, cal), row)
                change.detail = f"asked the complainant for: {', '.join(keys) or 'more information'}"
            case a.InfoReceived(text=text, channel=channel):
                change.messages.append(("in", channel, "", "reply", text))
                change.fields["resume_to"] = ""
                for row in f.clocks:
                    if row.paused_at is not None:
                        self._set(change, engine.resume(clock_of(row), now, cal), row)
                change.detail = f"the complainant's reply recorded ({channel}); clocks running again"
            case a.Screened():
                items = screening.checklist(f.kind, given_fields(f), f.checklist)
                gaps = screening.missing(items)
                if gaps:
                    raise Refused("The file is not complete yet: " + ", ".join(i.label for i in gaps) + ".")
                change.detail = "complete; on to the jurisdiction review"
            case a.EditFile(summary=summary, service_kind=kind, facts=facts):
                said = []
                if summary is not None:
                    change.fields["summary"] = summary
                    said.append("summary")
                if kind is not None:
                    change.fields["service_kind"] = kind
                    said.append(f"service kind: {kind}")
                if facts is not None:
                    keep = [x for x in f.flags if x not in _FACTS]
                    change.fields["flags"] = ",".join(keep + [x for x in _FACTS if x in facts])
                    said.append("facts: " + (", ".join(facts) or "none"))
                change.detail = "; ".join(said) or "no change"
            case a.SaveAllegation():
                self._allegation(body, f, change)
            case a.RemoveAllegation(id=gone):
                if not any(x.id == gone for x in f.allegations):
                    raise Refused(f"This file has no allegation {gone}.")
                change.removed_allegations.append(gone)
                change.detail = f"allegation {gone} removed"
            case a.Recommend(reasons=extra):
                rec = self._recommendation(f, now)
                rec.update({"note": extra, "by": change.by, "at": now})
                change.fields["recommendation"] = json.dumps(rec)
                for x, one in zip(f.allegations, self._per_allegation(f, now), strict=True):
                    change.allegations.append(_rewrite(x, level=one.level, route=one.route))
                change.detail = f"recommended level {rec['level'] or '-'}: {rec['route']} ({rec['body']})"
            case a.RouteFile():
                self._route(body, f, change, now, who)
            case a.Refer(body=to, level=level):
                self._refer(f, change, to, level, now)
                change.detail = f"referred to {to}"
            case a.ReferralOutcome(referral=rid, outcome=outcome):
                seq = _referral_seq(f, rid)
                change.referrals.append(ReferralWrite(rid, outcome=outcome, outcome_at=now))
                row = self._clock(f, f"{REFERRAL}-{seq}")
                if row is not None:
                    self._set(change, engine.meet(clock_of(row), now), row)
                change.detail = f"outcome from {f.referrals[seq - 1].body}: {outcome}"
            case a.Notify(message=message, referral=rid):
                self._message_out(f, change, "notice", message)
                if rid is not None:
                    _referral_seq(f, rid)
                    change.referrals.append(ReferralWrite(rid, notified_at=now))
                change.detail = "the complainant notified" + (f" of referral {rid}" if rid is not None else "")
            case a.RecordFinding(allegation=aid, finding=finding):
                x = next((x for x in f.allegations if x.id == aid), None)
                if x is None:
                    raise Refused(f"This file has no allegation {aid}.")
                change.allegations.append(_rewrite(x, finding=finding, finding_at=now if finding else None))
                change.detail = f"allegation {aid}: {finding.replace('_', ' ') or 'finding cleared'}"
            case a.Conclude():
                self._conclude(f, change, now)
            case a.Close():
                self._end(f, change, "closed", "")
                change.detail = "file closed"
            case a.Withdraw(reason=why):
                self._end(f, change, "withdrawn", why)
                change.detail = f"withdrawn: {why}"
            case a.Dismiss(ground=ground, reasons=why):
                self._end(f, change, "dismissed", f"{ground}: {why}")
                change.detail = f"dismissed as {ground.replace('_', ' ')}: {why}"
            case a.Assign(to=to):
                change.fields["assignee"] = to
                change.detail = f"assigned to {to}" + (f" (was {f.assignee})" if f.assignee else "")
            case a.Take():
                if f.assignee and f.assignee != who.user:
                    raise Refused(f"This file is {f.assignee}'s. Ask the team lead to reassign it.")
                change.fields["assignee"] = who.user
                change.detail = f"taken by {who.user}"
            case a.Escalate(flag=flag, why=why):
                change.fields["flags"] = _flags(f.flags, add=flag)
                change.detail = f"escalated to the team lead: {flag.replace('_', ' ')}: {why}"
            case a.ClearFlag(flag=flag, why=why):
                change.fields["flags"] = _flags(f.flags, drop=flag)
                change.detail = f"{flag.replace('_', ' ')} cleared" + (f": {why}" if why else "")
            case a.Extend(clock=name, days=days, grounds=grounds, notice=notice):
                row = self._clock(f, name)
                if row is None:
                    raise Refused(f"This file has no clock {name!r}.")
                clock = clock_of(row)
                try:
                    longer = engine.extend(clock, engine.extension_due(clock, days, cal), now)
                except ValueError as exc:
                    raise Refused(str(exc)) from None
                self._message_out(f, change, "extension_notice", notice)
                kept = self._set(change, longer, row)
                kept.extension = json.dumps(
                    {"days": days, "grounds": grounds, "approved_by": change.by, "at": now, "notice": notice}
                )
                change.detail = f"{name} extended by {days} days: {grounds}"
            case a.DelayReason(clock=name, reason=why, expected=expected, doing=doing):
                row = self._clock(f, name)
                if row is None:
                    raise Refused(f"This file has no clock {name!r}.")
                if expected:
                    try:
                        dt.date.fromisoformat(expected)
                    except ValueError:
                        raise Refused(f"{expected} is not a date.") from None
                kept = self._set(change, clock_of(row), row)
                kept.delay_reason, kept.delay_expected, kept.delay_action = why, expected, doing
                change.detail = f"why {name} is late: {why}" + (f"; expected by {expected}" if expected else "")
                change.detail += f"; being done: {doing}" if doing else ""
            case a.Acknowledge(message=message):
                row = self._clock(f, ACKNOWLEDGE)
                if row is None or row.met_at is not None:
                    raise Refused("The acknowledgement was recorded already.")
                self._message_out(f, change, "acknowledgement", message or "acknowledgement sent")
                self._set(change, engine.meet(clock_of(row), now), row)
                change.detail = "acknowledgement sent"
            case a.StatusUpdate(message=message):
                self._message_out(f, change, "status_update", message)
                row = self._clock(f, STATUS_UPDATE)
                rule = policy_for(self.policy, STATUS_UPDATE)
                if row is None:
                    self._set(change, engine.start(STATUS_UPDATE, now, rule, cal), None)
                else:
                    self._set(change, engine.renew(clock_of(row), now, rule, cal), row)
                change.detail = "status update sent"
            case a.Note(text=text, transitory=transitory):
                change.detail = text
                change.transitory = transitory

    def _allegation(self, body: a.SaveAllegation, f: CaseFile, change: CaseChange) -> None:
        kind = self.taxonomy.get(body.type)
        if kind is None:
            raise Refused(f"{body.type!r} is not an allegation type of this commission.")
        old = next((x for x in f.allegations if x.id == body.id), None) if body.id is not None else None
        if body.id is not None and old is None:
            raise Refused(f"This file has no allegation {body.id}.")
        change.allegations.append(
            AllegationWrite(
                id=body.id,
                type=kind.code,
                tier=kind.tier,
                summary=body.summary,
                level=old.level if old else None,
                route=old.route if old else "",
                officer_name=body.officer_name,
                officer_badge=body.officer_badge,
                officer_service=f.police_service,
                finding=old.finding if old else "",
                finding_at=old.finding_at if old else None,
            )
        )
        change.detail = f"{'allegation ' + str(body.id) if body.id else 'allegation added'}: {kind.label}"

    def _facts(self, f: CaseFile, now: int) -> levels.Facts:
        rules = self.policy.complaints
        kind = f.service_kind or rules.service_kinds.get(f.police_service, "")
        if kind not in ("municipal", "first_nations", "rcmp", "peace_officer", "not_police"):
            raise Refused(
                "Say what kind of service this is (municipal, First Nations, RCMP, peace officer, not police)."
            )
        try:
            occurred = dt.date.fromisoformat(f.occurred_on) if f.occurred_on else None
        except ValueError:
            occurred = None
        limit = engine.limitation(
            occurred, f.received_at, rules.limitation_days, rules.limitation_may_extend, TERMS(self.policy)
        )
        return levels.Facts(
            service=f.police_service,
            service_kind=kind,  # type: ignore[arg-type]
            flags=frozenset(x for x in f.flags if x in _FACTS),
            outside_limitation=limit.within is False,
            may_extend=limit.may_extend,
        )

    def _kinds(self, f: CaseFile) -> list[levels.AllegationType]:
        if not f.allegations:
            raise Refused("Add at least one allegation before asking for a recommendation.")
        return [
            self.taxonomy.get(x.type) or levels.AllegationType(x.type, x.type, x.tier, "conduct") for x in f.allegations
        ]

    def _per_allegation(self, f: CaseFile, now: int) -> list[levels.Recommendation]:
        facts = self._facts(f, now)
        return [levels.recommend_allegation(k, facts) for k in self._kinds(f)]

    def _recommendation(self, f: CaseFile, now: int) -> dict[str, Any]:
        rec = levels.recommend(self._kinds(f), self._facts(f, now))
        return {"level": rec.level, "route": str(rec.route), "body": rec.body, "reasons": list(rec.reasons)}

    def _route(self, body: a.RouteFile, f: CaseFile, change: CaseChange, now: int, who: Principal) -> None:
        if not f.recommendation:
            raise Refused("Record a recommendation first: the team lead confirms or changes it.")
        rec = dict(f.recommendation)
        level = body.level if body.level is not None else rec.get("level")
        route = body.route or str(rec.get("route") or "")
        to = body.body or str(rec.get("body") or "")
        changed = level != rec.get("level") or route != rec.get("route") or to != rec.get("body")
        rec.update({"confirmed_by": change.by, "confirmed_at": now, "changed": changed, "lead_reasons": body.reasons})
        if changed:
            rec.update({"confirmed_level": level, "confirmed_route": route, "confirmed_body": to})
            if not body.reasons.strip():
                raise Refused("Say why the recommendation is changed.")
        change.fields.update({"recommendation": json.dumps(rec), "level": level, "route": route})
        if route == "referred_out":
            self._refer(f, change, to, level, now)
            row = self._clock(f, DECISION)
            if row is not None:  # with another body now: its own follow-up clock counts instead
                self._set(change, engine.stop(clock_of(row), "referred"), row)
        verb = "changed and confirmed" if changed else "confirmed"
        change.detail = f"{verb}: level {level or '-'}, {route.replace('_', ' ')}" + (f" to {to}" if to else "")
        if body.reasons:
            change.detail += f" ({body.reasons})"

    def _refer(self, f: CaseFile, change: CaseChange, to: str, level: int | None, now: int) -> None:
        seq = len(f.referrals) + sum(1 for r in change.referrals if r.id is None) + 1
        rule = policy_for(self.policy, REFERRAL)
        follow = engine.start(f"{REFERRAL}-{seq}", now, rule, TERMS(self.policy))
        change.referrals.append(ReferralWrite(None, body=to, level=level, sent_at=now, follow_up_due=follow.due_at))
        self._set(change, follow, None)

    def _conclude(self, f: CaseFile, change: CaseChange, now: int) -> None:
        waiting = [r for r in f.referrals if not r.outcome]
        if waiting:
            raise Refused(f"Record what {waiting[0].body} reported before concluding the file.")
        untold = [r for r in f.referrals if r.notified_at is None]
        if untold:
            raise Refused(f"Tell the complainant about the referral to {untold[0].body} before concluding.")
        if f.route in ("investigation", "resolution", "serious_incident"):
            open_ = [x for x in f.allegations if not x.finding]
            if open_:
                raise Refused(f"Record a finding for allegation {open_[0].id} before concluding.")
        decision = self._clock(f, DECISION)
        if decision is not None:
            state, _ = _state(decision, self.policy, now)
            if state == "overdue" and not decision.delay_reason:
                raise Refused("The decision is past its target: record the reason for the delay first.")
            if decision.met_at is None:
                self._set(change, engine.meet(clock_of(decision), now), decision)
        change.detail = "concluded"

    def _end(self, f: CaseFile, change: CaseChange, stage: str, reason: str) -> None:
        change.fields["ended_reason"] = reason
        change.fields["status"] = "closed"
        for row in f.clocks:
            if row.met_at is None and not row.stopped:
                self._set(change, engine.stop(clock_of(row), stage), row)

    async def reply_from_complainant(self, file_number: str, text: str) -> None:
        """The complainant answered on the portal (their status code checked): the reply on the
        file, the clocks running again, back to the stage it waited in. Retried on a version race."""
        for _ in range(5):
            f = await self.records.file(file_number)
            if f is None or f.stage != "waiting":
                return
            now = int(time.time() * 1000)
            back = f.resume_to if f.resume_to in ("screening", "jurisdiction") else "screening"
            change = CaseChange(act="info_received", by="complainant", detail="the complainant replied on the portal")
            change.fields.update({"stage": back, "resume_to": ""})
            change.messages.append(("in", "web", "", "reply", text))
            for row in f.clocks:
                if row.paused_at is not None:
                    self._set(change, engine.resume(clock_of(row), now, TERMS(self.policy)), row)
            try:
                version = await self.records.apply(file_number, f.version, change)
            except VersionConflict:
                continue
            await self._announce(file_number, version, change, f)
            return

    # ---- letters ----------------------------------------------------------------

    async def letter_issued(self, who: Principal, file_number: str, kind: str, number: str) -> None:
        """An issued letter that is what a clock waits for meets it: the acknowledgement meets the
        acknowledgement clock, a status update starts the next 60 days (and so its next draft).
        Retried on a version race; nothing is done if the rules say no (the clock met already)."""
        body: a.Act
        if kind == "acknowledgement":
            body = a.Acknowledge(message=f"acknowledgement letter {number} issued")
        elif kind == "status_update":
            body = a.StatusUpdate(message=f"status update letter {number} issued")
        else:
            return
        for _ in range(5):
            version = await self.records.version(file_number)
            if version is None:
                return
            try:
                await self.act(who, file_number, a.ActIn(version=version, act=body))
            except VersionConflict:
                continue
            except Refused as exc:
                log.info("%s: letter %s issued, its clock left as it is (%s)", file_number, number, exc.message)
            return

    # ---- filing ---------------------------------------------------------------

    async def filed(self, file_number: str) -> None:
        """A file was just filed (by an intake worker): its clocks in Redis, and the workspaces told."""
        clocks = await self.records.clocks(file_number)
        version = await self.records.version(file_number) or 1
        await self.board.schedule(file_number, clocks)
        if _CASES is not None:
            event = CaseChanged(
                ts=int(time.time() * 1000),
                by="intake",
                file=file_number,
                version=version,
                stage="received",
                act="received",
            )
            await self.bus.commit(_CASES, event)


def _state(row: ClockRow, policy: Policy, now: int) -> tuple[str, int]:
    return view(row, policy, now)


def _checklist_keys(kind: str) -> set[str]:
    return {i.key for i in screening.CHECKLISTS.get(kind, screening.CHECKLISTS["complaint"])}


def _referral_seq(f: CaseFile, rid: int) -> int:
    for i, r in enumerate(f.referrals, 1):
        if r.id == rid:
            return i
    raise Refused(f"This file has no referral {rid}.")


def _rewrite(x: Any, **changes: Any) -> AllegationWrite:
    base = AllegationWrite(
        id=x.id,
        type=x.type,
        tier=x.tier,
        summary=x.summary,
        level=x.level,
        route=x.route,
        officer_name=x.officer_name,
        officer_badge=x.officer_badge,
        officer_service=x.officer_service,
        finding=x.finding,
        finding_at=x.finding_at,
    )
    return dataclasses.replace(base, **changes)


def _reason_of(body: a.Act) -> str:
    for name in ("reason", "reasons", "why", "grounds", "text", "message", "outcome"):
        value = getattr(body, name, None)
        if isinstance(value, str) and value.strip():
            return value
    return ""

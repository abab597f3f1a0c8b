"""A complaint file's life cycle, as an explicit state machine, and who may do each act. Pure.

Stages: received -> screening -> (waiting on the complainant ->) jurisdiction review -> routed
(resolution, investigation, the serious-incident team, or referred out) -> concluded -> closed;
or withdrawn, or dismissed. The coordinator recommends; the team lead confirms the level and
route, closes, and alone dismisses as frivolous, vexatious or made in bad faith. A coordinator
may act for the team lead when delegated (the timeline says so), for every act of the team
lead's but dismissal and delegation itself: those end a person's matter or hand on authority.

One row of ``RULES`` per act. ``check`` answers the stage after an act, or raises ``Refused``
with words a coordinator reads; the public status check's words for each stage are here too.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from server.access.roles import Role

__all__ = [
    "ENDED",
    "GROUND_DEFINITIONS",
    "OPEN_STAGES",
    "PUBLIC_WORDS",
    "ROUTE_WORDS",
    "RULES",
    "Act",
    "Ground",
    "Refused",
    "Route",
    "Rule",
    "Stage",
    "acting_as_lead",
    "allowed",
    "check",
    "public_words",
]


class Stage(enum.StrEnum):
    RECEIVED = "received"
    SCREENING = "screening"
    WAITING = "waiting"  # on the complainant: the clocks that pause are paused
    JURISDICTION = "jurisdiction"
    ROUTED = "routed"
    CONCLUDED = "concluded"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"
    DISMISSED = "dismissed"


ENDED: frozenset[Stage] = frozenset({Stage.CLOSED, Stage.WITHDRAWN, Stage.DISMISSED})
OPEN_STAGES: frozenset[Stage] = frozenset(Stage) - ENDED


class Route(enum.StrEnum):
    RESOLUTION = "resolution"  # alternative dispute resolution
    INVESTIGATION = "investigation"  # by the commission (level 3)
    SERIOUS_INCIDENT = "serious_incident"  # ASIRT (levels 1 and 2)
    REFERRED_OUT = "referred_out"  # levels 4 and 5, RCMP to the CRCC, and what is not ours


class Ground(enum.StrEnum):
    FRIVOLOUS = "frivolous"
    VEXATIOUS = "vexatious"
    BAD_FAITH = "bad_faith"


GROUND_DEFINITIONS: Mapping[Ground, str] = {
    Ground.FRIVOLOUS: "Frivolous: the complaint has no substance or factual basis.",
    Ground.VEXATIOUS: "Vexatious: it repeats a matter already decided, or uses the process to harass or abuse.",
    Ground.BAD_FAITH: "Made in bad faith: it was made for a dishonest or improper purpose.",
}


class Act(enum.StrEnum):
    START_SCREENING = "start_screening"
    REQUEST_INFO = "request_info"
    INFO_RECEIVED = "info_received"
    SCREENED = "screened"
    RECOMMEND = "recommend"
    ROUTE = "route"
    CONCLUDE = "conclude"
    CLOSE = "close"
    WITHDRAW = "withdraw"
    DISMISS = "dismiss"
    ASSIGN = "assign"
    TAKE = "take"
    ESCALATE = "escalate"
    CLEAR_FLAG = "clear_flag"
    EDIT = "edit"
    NOTE = "note"
    EXTEND = "extend"
    DELAY_REASON = "delay_reason"
    ACKNOWLEDGE = "acknowledge"
    STATUS_UPDATE = "status_update"
    REFER = "refer"
    REFERRAL_OUTCOME = "referral_outcome"
    NOTIFY = "notify"
    FINDING = "finding"
    DELEGATE = "delegate"


@dataclass(frozen=True, slots=True)
class Rule:
    act: Act
    from_stages: frozenset[Stage]
    to: Stage | None  # None: the stage does not change (INFO_RECEIVED goes back where it came from)
    who: frozenset[Role]  # who may make it themselves
    delegable: bool  # a coordinator acting for the team lead may make it too
    needs_reason: bool


_BOTH = frozenset({Role.CASE_COORDINATOR, Role.TEAM_LEAD})
_LEAD = frozenset({Role.TEAM_LEAD})
_OPEN = OPEN_STAGES
_ALL = frozenset(Stage)


def _r(
    act: Act,
    stages: frozenset[Stage],
    to: Stage | None,
    who: frozenset[Role],
    *,
    lead_may_delegate: bool = False,
    reason: bool = False,
) -> Rule:
    return Rule(act, stages, to, who, lead_may_delegate, reason)


_S = Stage
RULES: Mapping[Act, Rule] = {
    r.act: r
    for r in (
        _r(Act.START_SCREENING, frozenset({_S.RECEIVED}), _S.SCREENING, _BOTH),
        _r(Act.REQUEST_INFO, frozenset({_S.SCREENING, _S.JURISDICTION}), _S.WAITING, _BOTH, reason=True),
        _r(Act.INFO_RECEIVED, frozenset({_S.WAITING}), None, _BOTH),
        _r(Act.SCREENED, frozenset({_S.SCREENING}), _S.JURISDICTION, _BOTH),
        _r(Act.RECOMMEND, frozenset({_S.JURISDICTION}), None, _BOTH),
        _r(Act.ROUTE, frozenset({_S.JURISDICTION}), _S.ROUTED, _LEAD, lead_may_delegate=True),
        _r(Act.CONCLUDE, frozenset({_S.ROUTED}), _S.CONCLUDED, _BOTH),
        _r(Act.CLOSE, frozenset({_S.CONCLUDED}), _S.CLOSED, _LEAD, lead_may_delegate=True),
        _r(
            Act.WITHDRAW,
            frozenset({_S.RECEIVED, _S.SCREENING, _S.WAITING, _S.JURISDICTION, _S.ROUTED}),
            _S.WITHDRAWN,
            _BOTH,
            reason=True,
        ),
        _r(Act.DISMISS, frozenset({_S.SCREENING, _S.WAITING, _S.JURISDICTION}), _S.DISMISSED, _LEAD, reason=True),
        _r(Act.ASSIGN, _OPEN, None, _LEAD, lead_may_delegate=True),
        _r(Act.TAKE, _OPEN, None, _BOTH),
        _r(Act.ESCALATE, _OPEN, None, _BOTH, reason=True),
        _r(Act.CLEAR_FLAG, _OPEN, None, _LEAD, lead_may_delegate=True),
        _r(Act.EDIT, _OPEN, None, _BOTH),
        _r(Act.NOTE, _ALL, None, _BOTH, reason=True),
        _r(Act.EXTEND, _OPEN, None, _LEAD, lead_may_delegate=True, reason=True),
        _r(Act.DELAY_REASON, _OPEN, None, _BOTH, reason=True),
        _r(Act.ACKNOWLEDGE, _OPEN, None, _BOTH),
        _r(Act.STATUS_UPDATE, _OPEN, None, _BOTH, reason=True),
        _r(Act.REFER, frozenset({_S.ROUTED}), None, _BOTH),
        _r(Act.REFERRAL_OUTCOME, frozenset({_S.ROUTED}), None, _BOTH, reason=True),
        _r(Act.NOTIFY, frozenset({_S.ROUTED, _S.CONCLUDED}), None, _BOTH, reason=True),
        _r(Act.FINDING, frozenset({_S.ROUTED, _S.CONCLUDED}), None, _BOTH),
        _r(Act.DELEGATE, _ALL, None, _LEAD),
    )
}

_STAGE_WORDS = {
    Stage.RECEIVED: "received",
    Stage.SCREENING: "in screening",
    Stage.WAITING: "waiting on the complainant",
    Stage.JURISDICTION: "in jurisdiction review",
    Stage.ROUTED: "routed",
    Stage.CONCLUDED: "concluded",
    Stage.CLOSED: "closed",
    Stage.WITHDRAWN: "withdrawn",
    Stage.DISMISSED: "dismissed",
}


class Refused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _may(rule: Rule, who: Role, acting: bool) -> bool:
    return who in rule.who or (acting and rule.delegable and who is Role.CASE_COORDINATOR)


def _who_words(rule: Rule) -> str:
    if rule.who == _LEAD:
        return "the team lead" + (" (or a coordinator acting for the team lead)" if rule.delegable else "")
    return "a case coordinator or the team lead"


def check(
    act: Act,
    stage: Stage,
    who: Role,
    *,
    acting: bool = False,
    reason: str = "",
    resume_to: Stage | None = None,
) -> Stage:
    """The stage after ``act``, or ``Refused`` saying why not."""
    rule = RULES[act]
    if not _may(rule, who, acting):
        if act is Act.DISMISS:
            raise Refused(
                "Only the team lead may dismiss a complaint as frivolous, vexatious or made in bad faith."
                " Escalate it to the team lead with your reasons."
            )
        raise Refused(f"Only {_who_words(rule)} may do this ({act.value.replace('_', ' ')}).")
    if stage not in rule.from_stages:
        if stage in ENDED:
            raise Refused(f"This file is {_STAGE_WORDS[stage]}: it can take only notes now.")
        raise Refused(
            f"A file {_STAGE_WORDS[stage]} cannot have this done ({act.value.replace('_', ' ')}); it needs a file "
            + " or ".join(_STAGE_WORDS[s] for s in sorted(rule.from_stages, key=list(Stage).index))
            + "."
        )
    if rule.needs_reason and not reason.strip():
        raise Refused("Say why: this needs a reason, which goes on the file's timeline.")
    if act is Act.INFO_RECEIVED:
        if resume_to not in (Stage.SCREENING, Stage.JURISDICTION):
            raise Refused("The file does not say where it was before it waited; set its stage by hand.")
        return resume_to
    return rule.to if rule.to is not None else stage


def allowed(stage: Stage, who: Role, *, acting: bool = False) -> list[Act]:
    """The acts this person may make on a file at this stage, in the table's order (delegating is
    the team lead's act on their own authority, not on a file: it is not listed)."""
    return [
        r.act for r in RULES.values() if r.act is not Act.DELEGATE and stage in r.from_stages and _may(r, who, acting)
    ]


def acting_as_lead(who: Role, acting: bool) -> bool:
    """Whether an act is made under a delegation to act for the team lead (the timeline says so)."""
    return acting and who is Role.CASE_COORDINATOR


PUBLIC_WORDS: Mapping[Stage, str] = {
    Stage.RECEIVED: "We have your file. A case coordinator will read it soon and contact you about what happens next.",
    Stage.SCREENING: "A case coordinator is reading your file to make sure we have everything we need.",
    Stage.WAITING: (
        "We have asked you for a little more information. When we hear from you, we will carry on. If you have"
        " questions, call us: you do not need to have every answer."
    ),
    Stage.JURISDICTION: (
        "We are working out who should look into your concerns. We will write to tell you what we decide and why."
    ),
    Stage.ROUTED: "Your file has gone to the people who will look into it. We will keep you up to date.",
    Stage.CONCLUDED: "The work on your file is finished. We will write to you with the outcome and what it means.",
    Stage.CLOSED: (
        "Your file is closed. We have written to you with the outcome. If you have questions about it, call us."
    ),
    Stage.WITHDRAWN: "Your file is closed because it was withdrawn. You can contact us at any time.",
    Stage.DISMISSED: (
        "We have decided not to go further with your file. We have written to you to explain why, and what you"
        " can do if you disagree."
    ),
}

ROUTE_WORDS: Mapping[Route, str] = {
    Route.RESOLUTION: (
        "We will offer a resolution meeting, where you and the police service can talk it through with help."
        " We will contact you to plan it, and you can say no."
    ),
    Route.INVESTIGATION: "Your file is being investigated by the commission. We will keep you up to date.",
    Route.SERIOUS_INCIDENT: (
        "Your file has gone to the Alberta Serious Incident Response Team, part of the commission, which looks"
        " into the most serious matters. We will keep you up to date."
    ),
    Route.REFERRED_OUT: (
        "Your file has been sent to the organisation that handles this kind of matter. We will tell you what"
        " they decide."
    ),
}


def public_words(stage: Stage, route: Route | None) -> str:
    if stage is Stage.ROUTED and route is not None:
        return ROUTE_WORDS[route]
    return PUBLIC_WORDS[stage]

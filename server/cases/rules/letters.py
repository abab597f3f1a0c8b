"""Letters to the complainant and to police services: their kinds, how each one reaches the
person, and who may move a letter on (draft, submit, return, approve and issue). Pure.

A letter is drafted by a coordinator from a template (``server/cases/templates/letters``),
edited as needed, submitted, and approved by the team lead, never by its author. Approval
issues it: numbered, immutable, rendered to PDF and hashed (``server/cases/letters.py``).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from server.access.roles import Role
from server.cases.rules.stages import Refused

__all__ = [
    "KIND_TITLES",
    "Delivery",
    "LetterKind",
    "LetterMove",
    "LetterState",
    "delivery",
    "move",
    "scrub",
]


class LetterKind(enum.StrEnum):
    ACKNOWLEDGEMENT = "acknowledgement"
    REQUEST_INFO = "request_info"
    JURISDICTION = "jurisdiction"
    REFERRAL_NOTICE = "referral_notice"
    POLICE_NOTICE = "police_notice"
    STATUS_UPDATE = "status_update"
    DELAY_NOTICE = "delay_notice"
    DISMISSAL = "dismissal"
    DECISION = "decision"
    DISPOSITION = "disposition"
    CLOSING = "closing"


KIND_TITLES: dict[LetterKind, str] = {
    LetterKind.ACKNOWLEDGEMENT: "Acknowledgement",
    LetterKind.REQUEST_INFO: "Request for more information",
    LetterKind.JURISDICTION: "Jurisdiction decision",
    LetterKind.REFERRAL_NOTICE: "Referral notice",
    LetterKind.POLICE_NOTICE: "Notice to the police service",
    LetterKind.STATUS_UPDATE: "Status update",
    LetterKind.DELAY_NOTICE: "Delay notice",
    LetterKind.DISMISSAL: "Dismissal with reasons",
    LetterKind.DECISION: "Decision",
    LetterKind.DISPOSITION: "Disposition",
    LetterKind.CLOSING: "Closing letter",
}


class LetterState(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"  # waiting for the team lead
    RETURNED = "returned"  # back to the coordinator with comments
    ISSUED = "issued"  # approved: numbered, rendered, immutable
    DISPOSED = "disposed"  # a transitory draft, disposed of on the retention schedule


class LetterMove(enum.StrEnum):
    EDIT = "edit"
    SUBMIT = "submit"
    RETURN = "return"
    APPROVE = "approve"


_FROM: dict[LetterMove, frozenset[LetterState]] = {
    LetterMove.EDIT: frozenset({LetterState.DRAFT, LetterState.RETURNED}),
    LetterMove.SUBMIT: frozenset({LetterState.DRAFT, LetterState.RETURNED}),
    LetterMove.RETURN: frozenset({LetterState.SUBMITTED}),
    LetterMove.APPROVE: frozenset({LetterState.SUBMITTED}),
}
_TO: dict[LetterMove, LetterState] = {
    LetterMove.EDIT: LetterState.DRAFT,
    LetterMove.SUBMIT: LetterState.SUBMITTED,
    LetterMove.RETURN: LetterState.RETURNED,
    LetterMove.APPROVE: LetterState.ISSUED,
}
_WORDS = {
    LetterState.DRAFT: "a draft",
    LetterState.SUBMITTED: "waiting for the team lead",
    LetterState.RETURNED: "returned to its author",
    LetterState.ISSUED: "issued, and cannot be changed",
    LetterState.DISPOSED: "disposed of",
}


def move(
    what: LetterMove,
    state: LetterState,
    role: Role,
    user: str,
    author: str,
    *,
    acting_for_lead: bool,
    hands: frozenset[str] = frozenset(),
) -> LetterState:
    """The state a letter goes to, or Refused saying why not. The team lead returns and approves;
    a coordinator may too while acting for the team lead (a recorded delegation), but nobody
    approves or returns a letter they wrote, edited or submitted since it was last returned
    (``hands``)."""
    if role not in (Role.CASE_COORDINATOR, Role.TEAM_LEAD):
        raise Refused("Only case coordinators and the team lead work on letters.")
    if state not in _FROM[what]:
        raise Refused(f"This letter is {_WORDS[state]}: it cannot be {_past(what)} now.")
    if what in (LetterMove.RETURN, LetterMove.APPROVE):
        if user == author or user in hands:
            raise Refused("You wrote this letter: another person, the team lead, must review it.")
        if role is not Role.TEAM_LEAD and not acting_for_lead:
            raise Refused("Only the team lead (or a coordinator acting for the team lead) reviews letters.")
    return _TO[what]


def _past(what: LetterMove) -> str:
    return {"edit": "edited", "submit": "submitted", "return": "returned", "approve": "approved"}[what.value]


@dataclass(frozen=True, slots=True)
class Delivery:
    channel: str  # email, mail, in_person (read to them by phone, a copy kept), file (no contact)
    format: str  # standard, large_print, braille
    address: str
    note: str  # what the coordinator should know about sending it


_LARGE = re.compile(r"large\s*print|low\s*vision|visual|vision|sight|bigger text|larger text", re.I)
_BRAILLE = re.compile(r"braille", re.I)


def delivery(contact_by: str, accessibility: str, email: str, phone: str, mailing_address: str) -> Delivery:
    """How a letter reaches this complainant: the channel they chose, in the format their
    accessibility needs ask for (large print, braille)."""
    fmt = "braille" if _BRAILLE.search(accessibility) else "large_print" if _LARGE.search(accessibility) else "standard"
    note = {"braille": "Send to be transcribed into braille before it goes out.", "large_print": ""}.get(fmt, "")
    if contact_by == "none":
        return Delivery("file", fmt, "", "The complainant asked not to be contacted: the letter is kept on file.")
    if contact_by == "email" and email:
        return Delivery("email", fmt, email, note)
    if contact_by == "mail" and mailing_address:
        return Delivery("mail", fmt, mailing_address, note)
    if contact_by in ("phone", "text") and phone:
        said = "Call to go through the letter with them, and send a copy " + (
            "by mail." if mailing_address else "by email." if email else "when they give an address."
        )
        return Delivery("phone", fmt, phone, (note + " " + said).strip())
    for channel, address in (("email", email), ("mail", mailing_address)):
        if address:
            return Delivery(channel, fmt, address, note)
    return Delivery("file", fmt, "", "No address to send it to: the letter is kept on file.")


def scrub(text: str, personal: list[str]) -> str:
    """``text`` with every piece of personal information named in ``personal`` (names, emails,
    phone numbers, addresses) and anything shaped like an email or a phone number withheld: what
    a published report may say."""
    out = re.sub(r"[\w.+-]+@[\w-]+(\.[\w-]+)+", "[withheld]", text)  # first: a name may be in an address
    out = re.sub(r"(\+?1[ .-]?)?\(?\d{3}\)?[ .-]?\d{3}[ .-]?\d{4}", "[withheld]", out)
    pieces = {p.strip() for p in personal}
    # Each name's words and each address's parts too: "waiting for Alex" names Alex Sample.
    pieces |= {w for p in personal for w in re.split(r"[\s,]+", p) if len(w) >= 3 and w[:1].isupper()}
    for word in sorted({p for p in pieces if len(p) >= 3}, key=len, reverse=True):
        out = re.sub(r"(?<!\w)" + re.escape(word) + r"(?!\w)", "[withheld]", out, flags=re.I)
    return out

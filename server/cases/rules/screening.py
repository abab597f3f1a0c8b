"""Completeness screening: what a complaint, a concern or a compliment must tell us before its
jurisdiction is reviewed, drawn from what the portal asks. Pure.

Each item is met by what the person gave (``present``), or by the coordinator marking it
("ok": confirmed some other way, say by phone; "waived": not needed for this file, with a
note on the timeline). A missing item is what a request for more information asks for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = ["CHECKLISTS", "CheckItem", "Mark", "ScreeningItem", "checklist", "missing", "screened"]

Mark = Literal["ok", "missing", "waived"]


@dataclass(frozen=True, slots=True)
class CheckItem:
    key: str
    label: str  # what the coordinator reads
    ask: str  # how a request for more information puts it to the complainant, plainly
    fields: tuple[str, ...]  # the file's fields any one of which meets it


@dataclass(frozen=True, slots=True)
class ScreeningItem:
    key: str
    label: str
    ask: str
    present: bool  # the person told us
    mark: Mark | None  # the coordinator's mark, if any

    @property
    def met(self) -> bool:
        return self.mark in ("ok", "waived") or (self.present and self.mark != "missing")


_WHAT = CheckItem("what", "What happened", "what happened, in your own words", ("narrative",))
_SERVICE = CheckItem("service", "Which police service", "which police service this is about", ("police_service",))
_WHEN = CheckItem("when", "When it happened", "the date it happened (roughly is fine)", ("occurred_on",))
_WHERE = CheckItem("where", "Where it happened", "where it happened", ("location",))
_WHO = CheckItem(
    "officer", "Which officer (name, badge or description)", "anything that helps identify the officer", ("officers",)
)
_OUTCOME = CheckItem("outcome", "What the person hopes for", "what you would like to happen", ("desired_outcome",))
_CONTACT = CheckItem(
    "contact", "A way to reach the person", "how we can reach you", ("email", "phone", "mailing_address")
)
_CONSENT = CheckItem(
    "consent", "Consent to share with the service", "whether we may share this with the police service", ("consent",)
)

CHECKLISTS: Mapping[str, tuple[CheckItem, ...]] = {
    "complaint": (_WHAT, _SERVICE, _WHEN, _WHERE, _WHO, _OUTCOME, _CONTACT, _CONSENT),
    "concern": (_WHAT, _SERVICE, _WHEN, _CONTACT, _CONSENT),
    "compliment": (_WHAT, _SERVICE, _WHO),
}


def checklist(kind: str, given: Mapping[str, bool], marks: Mapping[str, str]) -> list[ScreeningItem]:
    """The checklist of a file of this kind: ``given`` says which of the file's fields hold
    something, ``marks`` the coordinator's marks by item key (others are ignored)."""
    items = []
    for item in CHECKLISTS.get(kind, CHECKLISTS["complaint"]):
        mark = marks.get(item.key)
        items.append(
            ScreeningItem(
                item.key,
                item.label,
                item.ask,
                any(given.get(f, False) for f in item.fields),
                mark if mark in ("ok", "missing", "waived") else None,  # type: ignore[arg-type]
            )
        )
    return items


def missing(items: list[ScreeningItem]) -> list[ScreeningItem]:
    return [i for i in items if not i.met]


def screened(items: list[ScreeningItem]) -> bool:
    """Complete: every item met, so the file may go on to the jurisdiction review."""
    return not missing(items)

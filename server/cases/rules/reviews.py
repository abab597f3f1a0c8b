"""Reviews of files, pure: the compliance checklist for a file a police service concluded, the
monthly audit's checklist and its kinds of finding, and which files a month's audit samples.

A checklist answer is "yes", "no" or "n/a". A compliance review's "no" is a step the service
missed; an audit's findings are named from ``AUDIT_FINDINGS`` so that they trend.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "ANSWERS",
    "AUDIT_CHECKLIST",
    "AUDIT_FINDINGS",
    "COMPLIANCE_CHECKLIST",
    "Item",
    "checklist_for",
    "complete",
    "sample",
]

ANSWERS = ("yes", "no", "n/a")


@dataclass(frozen=True, slots=True)
class Item:
    key: str
    label: str


COMPLIANCE_CHECKLIST: tuple[Item, ...] = (
    Item("steps_taken", "The service took the legislated steps (an investigation or a resolution, as referred)"),
    Item("complainant_notified", "The complainant was told the outcome in writing"),
    Item("officer_notified", "The officer was told the outcome"),
    Item("reasons_given", "The decision gives its reasons in plain words"),
    Item("review_rights", "The complainant was told of their right to a review or an appeal"),
    Item("timeline_met", "The service concluded the file within the legislated time"),
)

AUDIT_CHECKLIST: tuple[Item, ...] = (
    Item("classification", "The file is classified right (kind, allegations, tiers, level, route)"),
    Item("clocks_met", "Its clocks were met, or their delays recorded with reasons"),
    Item("letters_sent", "The letters its stages call for were issued"),
    Item("documents_complete", "Its documents are complete (narrative, consent, evidence, notes)"),
)

# What an audit may find; one finding per "no", named so that findings trend by kind.
AUDIT_FINDINGS: dict[str, str] = {
    "classification": "misclassified",
    "clocks_met": "clock missed",
    "letters_sent": "letter missing",
    "documents_complete": "documents incomplete",
}


def checklist_for(kind: str) -> tuple[Item, ...]:
    return COMPLIANCE_CHECKLIST if kind == "compliance" else AUDIT_CHECKLIST


def complete(kind: str, answers: Mapping[str, str]) -> list[str]:
    """The items of the checklist not answered yet (a review is done when none is left)."""
    return [i.key for i in checklist_for(kind) if answers.get(i.key) not in ANSWERS]


def sample(files: Iterable[str], period: str, size: int) -> list[str]:
    """A month's audit sample: ``size`` of the files, drawn by a hash of the month and the file
    number, so that the same month always draws the same files and nobody picks them."""
    ranked = sorted(files, key=lambda f: hashlib.sha256(f"{period}|{f}".encode()).hexdigest())
    return sorted(ranked[: max(0, size)])

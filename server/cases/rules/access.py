"""Access-to-information requests, pure: their stages, the legislated clock (30 business days,
paused while waiting on the requester, extended by up to 30 more with grounds), and which of
their states may ever be shown overdue. Alberta's Access to Information Act (2025) replaced FOIP.

The clock is the case clock engine's (``rules/clocks.py``); this module says what an access
request's clock is and what may be done to it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from server.access.roles import Role
from server.cases.rules import clocks as engine
from server.cases.rules.stages import Refused

__all__ = [
    "DEFAULT_GROUNDS",
    "DEFAULT_REASONS",
    "MAX_EXTENSION_DAYS",
    "PATTERNS",
    "RESPONSE",
    "AccessStage",
    "Move",
    "check",
    "clock_policy",
    "extend",
]

RESPONSE = "response"  # the one clock of a request
MAX_EXTENSION_DAYS = 30

# The Act's grounds for extending the time to respond (configurable: [access] grounds).
DEFAULT_GROUNDS: Mapping[str, str] = {
    "lacks_detail": "The request does not give enough detail to find the records",
    "large_volume": "A large number of records is asked for or must be searched",
    "consultation": "Time is needed to consult another public body or a third party",
    "third_party_notice": "A third party must be given notice and a chance to respond",
}

# The exceptions to disclosure, as reason codes printed on each box (configurable: [access] reasons).
DEFAULT_REASONS: Mapping[str, str] = {
    "s.16": "Third-party business information",
    "s.17": "Personal privacy",
    "s.18": "Individual or public safety",
    "s.20": "Law enforcement",
    "s.21": "Intergovernmental relations",
    "s.24": "Advice from officials",
    "s.25": "Economic interests of a public body",
    "s.27": "Privileged information",
}

# Patterns staff may mark across a whole package at once (or a text of their own).
PATTERNS: Mapping[str, str] = {
    "phone": r"(?:\+?1[ .-]?)?\(?\d{3}\)?[ .-]?\d{3}[ .-]?\d{4}",
    "email": r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",
    "postal_code": r"\b[A-Za-z]\d[A-Za-z][ -]?\d[A-Za-z]\d\b",
    "date_of_birth": r"\b(?:19|20)\d{2}-\d{2}-\d{2}\b",
}


class AccessStage(enum.StrEnum):
    RECEIVED = "received"
    GATHERING = "gathering"  # searching for and attaching records, marking redactions
    WAITING = "waiting"  # on the requester (clarification, a fee): the clock is paused
    REVIEW = "review"  # a second person reviews the redactions
    RELEASED = "released"
    WITHDRAWN = "withdrawn"


class Move(enum.StrEnum):
    ASSIGN = "assign"
    GATHER = "gather"  # start, or go on with, gathering and redacting
    WAIT = "wait"  # ask the requester: the clock pauses
    RESUMED = "resumed"  # the requester answered: the clock runs again
    EXTEND = "extend"
    SUBMIT = "submit"  # for the second review
    RETURN = "return"  # the reviewer sends it back
    RELEASE = "release"  # the reviewer signs off: the package is issued
    WITHDRAW = "withdraw"


_OPEN = frozenset({AccessStage.RECEIVED, AccessStage.GATHERING, AccessStage.WAITING, AccessStage.REVIEW})


@dataclass(frozen=True, slots=True)
class _Rule:
    from_stages: frozenset[AccessStage]
    to: AccessStage | None  # None: stays


_RULES: Mapping[Move, _Rule] = {
    Move.ASSIGN: _Rule(_OPEN, None),
    Move.GATHER: _Rule(frozenset({AccessStage.RECEIVED, AccessStage.GATHERING}), AccessStage.GATHERING),
    Move.WAIT: _Rule(frozenset({AccessStage.RECEIVED, AccessStage.GATHERING}), AccessStage.WAITING),
    Move.RESUMED: _Rule(frozenset({AccessStage.WAITING}), AccessStage.GATHERING),
    Move.EXTEND: _Rule(frozenset({AccessStage.RECEIVED, AccessStage.GATHERING, AccessStage.REVIEW}), None),
    Move.SUBMIT: _Rule(frozenset({AccessStage.GATHERING}), AccessStage.REVIEW),
    Move.RETURN: _Rule(frozenset({AccessStage.REVIEW}), AccessStage.GATHERING),
    Move.RELEASE: _Rule(frozenset({AccessStage.REVIEW}), AccessStage.RELEASED),
    Move.WITHDRAW: _Rule(_OPEN, AccessStage.WITHDRAWN),
}
_WORKERS = frozenset({Role.ACCESS_STAFF, Role.CASE_COORDINATOR, Role.TEAM_LEAD})


def check(
    move: Move, stage: AccessStage, role: Role, user: str, submitted_by: str, hands: frozenset[str] = frozenset()
) -> AccessStage:
    """Where the request goes, or Refused saying why not. The second review (return, release) is
    someone else's than the person who submitted it, and than anyone who gathered records or
    marked or removed boxes since it was last returned (``hands``)."""
    if role not in _WORKERS:
        raise Refused("Only access staff, case coordinators and the team lead work on access requests.")
    rule = _RULES[move]
    if stage not in rule.from_stages:
        raise Refused(
            f"This request is {stage.value.replace('_', ' ')}: it cannot be {move.value.replace('_', ' ')} now."
        )
    if move in (Move.RETURN, Move.RELEASE) and user == submitted_by:
        raise Refused("You submitted this package: a second person must review it before it is released.")
    if move in (Move.RETURN, Move.RELEASE) and user in hands:
        raise Refused("You gathered or marked this package: a second person must review it before it is released.")
    return rule.to or stage


def clock_policy(days: int = 30) -> engine.ClockPolicy:
    """The response clock: business days, a warning a week of business days before, paused while
    waiting on the requester."""
    return engine.ClockPolicy(days, "business", warn_days=5, pauses=True)


def extend(
    clock: engine.Clock, days: int, ground: str, grounds: Mapping[str, str], now_ms: int, cal: engine.Calendar
) -> engine.Clock:
    """The clock extended by ``days`` business days (at most 30 in all, on one of the grounds)."""
    if ground not in grounds:
        raise Refused(f"{ground!r} is not a ground for an extension: one of {', '.join(grounds)}.")
    if clock.extended_at is not None:
        raise Refused("The time was extended already: a further extension needs the Commissioner's permission.")
    if not 1 <= days <= MAX_EXTENSION_DAYS:
        raise Refused(f"An extension is 1 to {MAX_EXTENSION_DAYS} business days.")
    try:
        return engine.extend(clock, engine.extension_due(clock, days, cal), now_ms)
    except ValueError as exc:
        raise Refused(str(exc)) from None

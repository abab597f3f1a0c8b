"""Roles, per-command permissions, signed tokens.

Tokens are HS256 JWTs signed with the hub's secret, carrying the user, role
and (for officers) the one unit the officer acts for. They expire.
"""

from __future__ import annotations

import enum
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import jwt

from protocol.state import Incident

__all__ = [
    "COMMAND_ROLES",
    "DESK_ROLES",
    "OPEN311_DETAIL_ROLES",
    "OPERATIONS_ROLES",
    "SECOND_FACTOR_ROLES",
    "TOPIC_ROLES",
    "AuthError",
    "Principal",
    "Role",
    "Scope",
    "may_command",
    "may_read",
    "officer_on",
    "officer_sees",
    "issue_token",
    "verify_token",
]

COOKIE_NAME = "dispatch_token"


class Role(enum.StrEnum):
    DISPATCHER = "dispatcher"
    SUPERVISOR = "supervisor"
    OFFICER = "officer"
    INTAKE_311 = "intake_311"
    CASE_COORDINATOR = "case_coordinator"
    TEAM_LEAD = "team_lead"
    ADMIN = "admin"


class AuthError(Exception):
    pass


class Scope(enum.StrEnum):
    """What a token is good for."""

    FULL = "full"
    # Signed in with a password, but the role needs a second factor that is not set up yet:
    # good only for the account's own page, to enrol one (server/access/second_factor.py).
    ENROL = "enrol"


@dataclass(frozen=True, slots=True)
class Principal:
    user: str
    role: Role
    unit: str | None = None
    expires_at: float | None = None  # seconds since the epoch, from the token
    token_id: str = ""  # the token's jti: what signing out revokes
    version: int = 0  # the account's token version when it was issued (server/access/tokens.py)
    scope: Scope = Scope.FULL


_DESK = frozenset({Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN})
# The dispatch desk: the board, the HTTP read API, the office records.
DESK_ROLES = _DESK

_FIELD = frozenset({Role.OFFICER})

COMMAND_ROLES: dict[str, frozenset[Role]] = {
    "incident.create": _DESK | _FIELD,  # officer-initiated calls
    "incident.update": _DESK,
    "incident.assign": _DESK,
    "incident.unassign": _DESK,
    "incident.close": _DESK,
    "incident.cancel": _DESK,
    "incident.reopen": _DESK,
    "incident.merge": _DESK,
    "incident.link": _DESK,
    "incident.note": _DESK,
    "incident.police": _DESK,
    "incident.recommend": _DESK,
    "unit.roster": _DESK,
    "unit.status": _DESK | _FIELD,
    "unit.ack": _DESK | _FIELD,
    "unit.position": _DESK | _FIELD,
    "unit.checkin": _DESK | _FIELD,
    "unit.panic": _DESK | _FIELD,
    "radio.append": _DESK,
    "alarm.ack": _DESK,
    "alarm.cancel": _DESK | _FIELD,  # an officer cancels its own accidental panic
    "alarm.police": _DESK,
    "traffic.emergency": _DESK,  # only dispatch declares and clears it
    "resource.upsert": _DESK,
    "resource.assign": _DESK,
}

# Roles that must sign in with a second factor (server/access/second_factor.py): they see case files,
# or manage the accounts that do. Others may set one up.
SECOND_FACTOR_ROLES = frozenset({Role.CASE_COORDINATOR, Role.TEAM_LEAD, Role.ADMIN})

# Who may read what a 311 caller said and what staff wrote back (Open311 GET's description and
# full status notes): 311 staff, and the desk that worked the call. Others, officers among them,
# get what the public gets; a 311 system's API key shows them too.
OPEN311_DETAIL_ROLES = frozenset({Role.INTAKE_311, Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN})

# Who may see the hub's inner workings (/healthz in full, /metrics) when signed in
# (server/http/operations.py; an operator token or an allowed address also may).
OPERATIONS_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR})

# Commands an officer may only send for the unit bound to its token.
OWN_UNIT_COMMANDS = frozenset({"unit.status", "unit.position", "unit.panic", "unit.ack", "unit.checkin"})

TOPIC_ROLES: dict[str, frozenset[Role]] = {
    "alarms": _DESK | {Role.OFFICER},
    "incidents": _DESK | {Role.OFFICER},
    "units": _DESK | {Role.OFFICER},
    "radio": _DESK,
    "positions": _DESK | {Role.OFFICER},
    "resources": _DESK,
}


def may_command(who: Principal, command: str, unit: str | None) -> bool:
    """Whether ``who`` may send ``command`` (acting for ``unit``, if it names one)."""
    if who.role not in COMMAND_ROLES.get(command, frozenset()):
        return False
    if who.role is Role.OFFICER and command in OWN_UNIT_COMMANDS:
        return unit is not None and unit == who.unit
    return True


def officer_sees(who: Principal) -> Callable[[Incident], bool] | None:
    """For an officer, the incidents it may see: those its unit is or was on, and those it
    reported itself. Callers' names and numbers on other calls are not its business."""
    if who.role is not Role.OFFICER:
        return None

    def sees(incident: Incident) -> bool:
        return incident.created_by == who.user or any(a.unit == who.unit for a in incident.units)

    return sees


def officer_on(who: Principal, incident: Incident) -> bool:
    """Whether an officer's unit is (or was) on a call: the calls it may write to, by linking one
    of its own new calls to them, say."""
    return who.unit is not None and any(a.unit == who.unit for a in incident.units)


def may_read(who: Principal, topic: str) -> bool:
    return who.role in TOPIC_ROLES.get(topic, frozenset())


def issue_token(secret: str, who: Principal, ttl_s: int, *, now: float | None = None) -> str:
    """A signed token for ``who``: its version, scope and id (made here unless ``who`` has one)."""
    now = time.time() if now is None else now
    claims: dict[str, object] = {
        "sub": who.user,
        "role": who.role.value,
        "iat": int(now),
        "exp": int(now + ttl_s),
        "jti": who.token_id or uuid.uuid4().hex,
        "ver": who.version,
    }
    if who.unit:
        claims["unit"] = who.unit
    if who.scope is not Scope.FULL:
        claims["scope"] = who.scope.value
    return jwt.encode(claims, secret, algorithm="HS256")


def verify_token(secret: str, token: str) -> Principal:
    """The principal a token names, if its signature and expiry hold (revocation: server/access/tokens.py)."""
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp", "sub"]})
        version = claims.get("ver", 0)
        if not isinstance(version, int):
            raise ValueError("ver is not a number")
        return Principal(
            str(claims["sub"]),
            Role(claims["role"]),
            claims.get("unit"),
            float(claims["exp"]),
            str(claims.get("jti", "")),
            version,
            Scope(claims.get("scope", "full")),
        )
    except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
        raise AuthError(f"invalid token: {exc}") from None

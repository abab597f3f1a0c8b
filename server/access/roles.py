"""Who someone is to the hub: a role, and the principal a token names.

What each role may do is not written here: it is the permission table
(``server.access.permissions``). How a principal is carried and checked is
``server.access.tokens``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Principal", "Role", "Scope"]


class Role(enum.StrEnum):
    DISPATCHER = "dispatcher"
    SUPERVISOR = "supervisor"
    OFFICER = "officer"  # bound to one unit
    INTAKE_311 = "intake_311"
    CASE_COORDINATOR = "case_coordinator"
    TEAM_LEAD = "team_lead"
    ACCESS_STAFF = "access_staff"  # access-to-information requests and the records gathered for them, only
    ADMIN = "admin"


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

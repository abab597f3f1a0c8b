"""The dead-letter list: intake entries that could not be filed, for staff to see and replay."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from server.access.auth import Principal, Role
from server.http.endpoints import Endpoint, answer, error
from server.http.inputs import read_query
from server.intake.worker import AlreadyReplayed, replay_dead_letter
from server.records.store import DeadLetter

__all__ = ["endpoints", "streams_for"]

# Complaint entries hold what a member of the public told us about police:
# only case staff see them. Referrals are for 311 staff and dispatch supervisors.
_SEES = {
    "complaints": frozenset({Role.CASE_COORDINATOR, Role.TEAM_LEAD, Role.ADMIN}),
    "referrals": frozenset({Role.INTAKE_311, Role.SUPERVISOR, Role.ADMIN, Role.TEAM_LEAD}),
}
DEAD_LETTER_ROLES = frozenset().union(*_SEES.values())


def streams_for(role: Role) -> list[str]:
    return [name for name, roles in _SEES.items() if role in roles]


class DeadLetterQuery(msgspec.Struct):
    all: bool = False  # true: replayed ones too


class DeadLetters(msgspec.Struct):
    dead_letters: list[DeadLetter]


class Replayed(msgspec.Struct):
    replayed: int
    entry: str


async def dead_letters(request: Request, who: Principal | None) -> Response:
    """The dead letters this role may see."""
    assert who is not None
    store = request.app.state.ctx.store
    streams = streams_for(who.role)
    ask = read_query(request, DeadLetterQuery)
    letters = await store.dead_letters(streams, replayed_too=ask.all)
    await store.audit(who.user, "intake.dead_letters.view", ",".join(streams), f"{len(letters)} shown")
    return answer(DeadLetters(letters))


async def replay(request: Request, who: Principal | None) -> Response:
    """Queue a dead letter's entry again (after the cause was fixed)."""
    assert who is not None
    ctx = request.app.state.ctx
    letter = int(request.path_params["id"])
    found = await ctx.store.dead_letter(letter)
    if found is None or found.stream not in streams_for(who.role):
        return error(404, f"no dead letter {letter}")
    if found.replayed_at is not None:
        return error(409, f"dead letter {letter} was replayed already")
    try:
        entry = await replay_dead_letter(ctx.redis, ctx.store, letter, who.user)
    except AlreadyReplayed as exc:
        return error(409, str(exc))
    if entry is None:
        return error(404, f"no dead letter {letter}")
    return answer(Replayed(letter, entry))


def endpoints() -> list[Endpoint]:
    roles, tag = DEAD_LETTER_ROLES, "intake"
    return [
        Endpoint(
            "GET",
            "/api/intake/dead-letters",
            dead_letters,
            "List the intake's dead letters",
            tag,
            roles,
            {200: DeadLetters},
            query=DeadLetterQuery,
        ),
        Endpoint(
            "POST",
            "/api/intake/dead-letters/{id:rowid}/replay",
            replay,
            "Replay a dead letter",
            tag,
            roles,
            {200: Replayed},
            examples={"id": 1},
        ),
    ]

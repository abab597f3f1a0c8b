"""The dead-letter list: intake entries that could not be filed, for staff to see and replay."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from server.access.permissions import GRANTS, Grant
from server.access.roles import Principal, Role
from server.context import context
from server.http.endpoints import Endpoint, answer, error
from server.http.inputs import read_query
from server.intake.worker import AlreadyReplayed, replay_dead_letter
from server.records.store import DeadLetter

__all__ = ["DeadLetterQuery", "DeadLetters", "Replayed", "dead_letters", "endpoints", "replay", "streams_for"]

# Each lane's dead letters, for the roles the permission table grants them to.
_SEES = {"complaints": Grant.DEAD_LETTERS_COMPLAINTS, "referrals": Grant.DEAD_LETTERS_REFERRALS}


def streams_for(role: Role) -> list[str]:
    return [name for name, grant in _SEES.items() if role in GRANTS[grant]]


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
    store = context(request).store
    streams = streams_for(who.role)
    ask = read_query(request, DeadLetterQuery)
    letters = await store.dead_letters(streams, replayed_too=ask.all)
    await store.audit(who.user, "intake.dead_letters.view", ",".join(streams), f"{len(letters)} shown")
    return answer(DeadLetters(letters))


async def replay(request: Request, who: Principal | None) -> Response:
    """Queue a dead letter's entry again (after the cause was fixed)."""
    assert who is not None
    ctx = context(request)
    letter = int(request.path_params["id"])
    found = await ctx.store.dead_letter(letter)
    if found is None or found.stream not in streams_for(who.role):
        return error(404, f"no dead letter {letter}")
    if found.replayed_at is not None:
        return error(409, f"dead letter {letter} was replayed already")
    try:
        entry = await replay_dead_letter(ctx.redis, ctx.store, letter, who.user, ctx.bus.part)
    except AlreadyReplayed as exc:
        return error(409, str(exc))
    if entry is None:
        return error(404, f"no dead letter {letter}")
    return answer(Replayed(letter, entry))


def endpoints() -> list[Endpoint]:
    tag = "intake"
    return [
        Endpoint(
            "GET",
            "/api/intake/dead-letters",
            dead_letters,
            "List the intake's dead letters",
            tag,
            {200: DeadLetters},
            query=DeadLetterQuery,
        ),
        Endpoint(
            "POST",
            "/api/intake/dead-letters/{id:rowid}/replay",
            replay,
            "Replay a dead letter",
            tag,
            {200: Replayed},
            examples={"id": 1},
        ),
    ]

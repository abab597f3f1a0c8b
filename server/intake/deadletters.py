"""The dead-letter list: intake entries that could not be filed, for staff to see and replay."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.api import principal
from server.auth import Principal, Role
from server.intake.worker import AlreadyReplayed, replay_dead_letter

__all__ = ["dead_letter_routes", "streams_for"]

# Complaint entries hold what a member of the public told us about police:
# only case staff see them. Referrals are for 311 staff and dispatch supervisors.
_SEES = {
    "complaints": frozenset({Role.CASE_COORDINATOR, Role.TEAM_LEAD, Role.ADMIN}),
    "referrals": frozenset({Role.INTAKE_311, Role.SUPERVISOR, Role.ADMIN, Role.TEAM_LEAD}),
}


def streams_for(role: Role) -> list[str]:
    return [name for name, roles in _SEES.items() if role in roles]


async def _who(request: Request) -> Principal | JSONResponse:
    who = await principal(request)
    if who is None:
        return JSONResponse({"error": "sign in first"}, status_code=401)
    if not streams_for(who.role):
        return JSONResponse({"error": f"{who.role.value} may not see the dead-letter list"}, status_code=403)
    return who


async def dead_letters(request: Request) -> Response:
    """GET: the dead letters this role may see (?all=1 includes replayed ones)."""
    who = await _who(request)
    if isinstance(who, JSONResponse):
        return who
    store = request.app.state.ctx.store
    streams = streams_for(who.role)
    sql = (
        "SELECT id, stream, entry_id, ref, fields, reason, attempts, at, replayed_at, replayed_by"
        f" FROM intake_dead_letters WHERE stream IN ({','.join('?' * len(streams))})"
    )
    if request.query_params.get("all") != "1":
        sql += " AND replayed_at IS NULL"
    async with store.db.execute(sql + " ORDER BY id DESC LIMIT 500", tuple(streams)) as cur:
        names = [d[0] for d in cur.description]
        rows: list[dict[str, Any]] = [dict(zip(names, r, strict=True)) for r in await cur.fetchall()]
    for row in rows:
        row["fields"] = json.loads(row["fields"])
    await store.audit(who.user, "intake.dead_letters.view", ",".join(streams), f"{len(rows)} shown")
    return JSONResponse({"dead_letters": rows})


async def replay(request: Request) -> Response:
    """POST: queue a dead letter's entry again (after the cause was fixed)."""
    who = await _who(request)
    if isinstance(who, JSONResponse):
        return who
    ctx = request.app.state.ctx
    letter = int(request.path_params["id"])
    async with ctx.store.db.execute("SELECT stream, replayed_at FROM intake_dead_letters WHERE id=?", (letter,)) as cur:
        row = await cur.fetchone()
    if row is None or row[0] not in streams_for(who.role):
        return JSONResponse({"error": f"no dead letter {letter}"}, status_code=404)
    if row[1] is not None:
        return JSONResponse({"error": f"dead letter {letter} was replayed already"}, status_code=409)
    try:
        entry = await replay_dead_letter(ctx.redis, ctx.store, letter, who.user)
    except AlreadyReplayed as exc:
        return JSONResponse({"error": str(exc)}, status_code=409)
    return JSONResponse({"replayed": letter, "entry": entry})


def dead_letter_routes() -> list[Route]:
    return [
        Route("/api/intake/dead-letters", dead_letters, methods=["GET"]),
        Route("/api/intake/dead-letters/{id:int}/replay", replay, methods=["POST"]),
    ]

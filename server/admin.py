"""Accounts for admins: who can sign in, with which role, and the sessions each has open.

Disabling an account, ending all its sessions or ending one session takes
effect on every hub within seconds (server/tokens.py). Every change is in the
audit trail, and so is every look at the list.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.api import principal
from server.auth import Principal, Role

__all__ = ["admin_routes"]

ADMINS = frozenset({Role.ADMIN})


async def _admin(request: Request) -> Principal | JSONResponse:
    who = await principal(request)
    if who is None:
        return JSONResponse({"error": "sign in first"}, status_code=401)
    if who.role not in ADMINS:
        return JSONResponse({"error": f"{who.role.value} may not manage accounts"}, status_code=403)
    return who


async def accounts(request: Request) -> Response:
    """GET: every account with its role, state and unexpired sessions."""
    who = await _admin(request)
    if isinstance(who, JSONResponse):
        return who
    ctx = request.app.state.ctx
    now = int(time.time() * 1000)
    sessions: dict[str, list[dict[str, Any]]] = {}
    for s in await ctx.store.sessions(now):
        sessions.setdefault(s.user, []).append(
            {
                "id": s.id,
                "issued_at": s.issued_at,
                "expires_at": s.expires_at,
                "via": s.via,
                "scope": s.scope,
                "address": s.address,
                "agent": s.agent,
                "revoked_at": s.revoked_at,
                "revoked_by": s.revoked_by,
                "current": s.id == who.token_id,
            }
        )
    body = [
        {
            "name": a.name,
            "role": a.role.value,
            "unit": a.unit,
            "disabled": a.disabled,
            "second_factor": a.second_factor,
            "created_at": a.created_at * 1000,
            "sessions": sessions.get(a.name, []),
        }
        for a in await ctx.store.accounts()
    ]
    await ctx.store.audit(who.user, "accounts.view", "", f"{len(body)} accounts")
    return JSONResponse({"accounts": body})


async def account_action(request: Request) -> Response:
    """POST disable | enable | sign-out | reset-second-factor for one account."""
    who = await _admin(request)
    if isinstance(who, JSONResponse):
        return who
    tokens = request.app.state.ctx.tokens
    name, action = request.path_params["name"], request.path_params["action"]
    if action == "sign-out":
        found = await tokens.end_all(name, who.user)
    elif action == "reset-second-factor":  # a lost phone: the account enrols again at its next sign-in
        found = await request.app.state.ctx.store.remove_second_factor(name, who.user)
        found = found and await tokens.end_all(name, who.user)
    elif action in ("disable", "enable"):
        if action == "disable" and name == who.user:
            return JSONResponse({"error": "you cannot disable your own account"}, status_code=409)
        found = await tokens.set_disabled(name, action == "disable", who.user)
    else:
        return JSONResponse(
            {"error": "the action is disable, enable, sign-out or reset-second-factor"}, status_code=404
        )
    if not found:
        return JSONResponse({"error": f"no account {name!r}"}, status_code=404)
    return JSONResponse({"name": name, "done": action})


async def end_session(request: Request) -> Response:
    """DELETE one session (its token stops working on every hub)."""
    who = await _admin(request)
    if isinstance(who, JSONResponse):
        return who
    session_id = request.path_params["id"]
    if not await request.app.state.ctx.tokens.end_session(session_id, who.user):
        return JSONResponse({"error": f"no open session {session_id!r}"}, status_code=404)
    return JSONResponse({"ended": session_id})


def admin_routes() -> list[Route]:
    return [
        Route("/api/admin/accounts", accounts, methods=["GET"]),
        Route("/api/admin/accounts/{name}/{action}", account_action, methods=["POST"]),
        Route("/api/admin/sessions/{id}", end_session, methods=["DELETE"]),
    ]

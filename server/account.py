"""One's own account: its second factor, recovery codes and open sessions.

Reached with a full token, or with the token that a role needing a second
factor gets before it has one (``Scope.ENROL``): confirming the first code
then swaps that token for a full one.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.api import principal
from server.auth import SECOND_FACTOR_ROLES, Principal, Scope
from server.inputs import read_json
from server.second_factor import code_hash, matching_step, new_recovery_codes, new_secret, provisioning_uri, qr_svg
from server.signin import signed_in

__all__ = ["account_routes"]

_ANY = frozenset(Scope)
_MAX_BODY = 1024


class _Code(msgspec.Struct, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(max_length=40)]


async def _me(request: Request) -> Principal | JSONResponse:
    who = await principal(request, scopes=_ANY)
    if who is None:
        return JSONResponse({"error": "sign in first"}, status_code=401)
    return who


async def account(request: Request) -> Response:
    """GET: who you are, your second factor, and your sessions not yet expired."""
    who = await _me(request)
    if isinstance(who, JSONResponse):
        return who
    store = request.app.state.ctx.store
    factor = await store.second_factor(who.user)
    now = int(time.time() * 1000)
    sessions: list[dict[str, Any]] = [
        {
            "id": s.id,
            "issued_at": s.issued_at,
            "expires_at": s.expires_at,
            "via": s.via,
            "address": s.address,
            "agent": s.agent,
            "current": s.id == who.token_id,
        }
        for s in await store.sessions(now, who.user)
        if s.revoked_at is None
    ]
    return JSONResponse(
        {
            "user": who.user,
            "role": who.role.value,
            "unit": who.unit,
            "scope": who.scope.value,
            "second_factor": {
                "enrolled": bool(factor and factor[0]),
                "required": who.role in SECOND_FACTOR_ROLES,
                "recovery_codes_left": await store.recovery_codes_left(who.user),
            },
            "sessions": sessions,
        },
        headers={"Cache-Control": "no-store"},
    )


async def start(request: Request) -> Response:
    """POST: a new secret to enrol, as a QR code for an authenticator app (and as text)."""
    who = await _me(request)
    if isinstance(who, JSONResponse):
        return who
    ctx = request.app.state.ctx
    if await ctx.store.second_factor(who.user) is None:
        return JSONResponse({"error": "this sign-in has no account to enrol (a demo or CLI token)"}, status_code=409)
    secret = new_secret()
    await ctx.store.start_second_factor(who.user, secret)
    uri = provisioning_uri(secret, who.user, f"dispatch-hub {ctx.policy.agency.name}".strip())
    return JSONResponse({"secret": secret, "uri": uri, "qr": qr_svg(uri)}, headers={"Cache-Control": "no-store"})


async def confirm(request: Request) -> Response:
    """POST {code}: the first code from the new secret; it then counts, and recovery codes are made."""
    who = await _me(request)
    if isinstance(who, JSONResponse):
        return who
    ctx = request.app.state.ctx
    ask = await read_json(request, _Code, _MAX_BODY)
    factor = await ctx.store.second_factor(who.user)
    if factor is None or factor[1] is None:
        return JSONResponse({"error": "start the set-up first"}, status_code=409)
    step = matching_step(factor[1], ask.code, time.time(), 0)
    if step is None:
        return JSONResponse({"error": "that code is not right; check the phone's time and try the next one"}, 422)
    codes = new_recovery_codes()
    await ctx.store.enrol_second_factor(who.user, step, [code_hash(who.user, c) for c in codes])
    if who.scope is Scope.ENROL:  # the first sign-in of a role that needs a second factor: now a full one
        await ctx.tokens.sign_out(who, who.user)
        return await signed_in(request, who, "enrolment", extra={"recovery_codes": codes})
    return JSONResponse({"recovery_codes": codes}, headers={"Cache-Control": "no-store"})


async def _code_ok(request: Request, who: Principal) -> bool:
    """A current code (or a recovery code) from the enrolled second factor: asked before changing it."""
    ctx = request.app.state.ctx
    ask = await read_json(request, _Code, _MAX_BODY)
    if await ctx.login_limits.codes.take(who.user):
        return False
    factor = await ctx.store.second_factor(who.user)
    if factor is None or factor[0] is None:
        return False
    step = matching_step(factor[0], ask.code, time.time(), factor[2])
    if step is not None:
        return bool(await ctx.store.take_step(who.user, step))
    return bool(await ctx.store.use_recovery_code(who.user, code_hash(who.user, ask.code)))


async def remove(request: Request) -> Response:
    """POST {code}: remove the second factor (not for roles that must have one)."""
    who = await _me(request)
    if isinstance(who, JSONResponse):
        return who
    if who.role in SECOND_FACTOR_ROLES:
        return JSONResponse({"error": f"a {who.role.value} must keep a second factor; set up a new one"}, 409)
    if not await _code_ok(request, who):
        return JSONResponse({"error": "that code is not right"}, status_code=422)
    await request.app.state.ctx.store.remove_second_factor(who.user, who.user)
    return JSONResponse({"second_factor": "removed"})


async def recovery_codes(request: Request) -> Response:
    """POST {code}: a new set of recovery codes (the old ones stop working)."""
    who = await _me(request)
    if isinstance(who, JSONResponse):
        return who
    if not await _code_ok(request, who):
        return JSONResponse({"error": "that code is not right"}, status_code=422)
    codes = new_recovery_codes()
    await request.app.state.ctx.store.replace_recovery_codes(who.user, [code_hash(who.user, c) for c in codes])
    return JSONResponse({"recovery_codes": codes}, headers={"Cache-Control": "no-store"})


async def sign_out_everywhere(request: Request) -> Response:
    """POST: end every session of this account, this one too, on every hub."""
    who = await _me(request)
    if isinstance(who, JSONResponse):
        return who
    if not await request.app.state.ctx.tokens.end_all(who.user, who.user):
        await request.app.state.ctx.tokens.sign_out(who, who.user)  # a token with no account: this one at least
    return JSONResponse({"signed_out": "everywhere"})


def account_routes() -> list[Route]:
    return [
        Route("/api/account", account, methods=["GET"]),
        Route("/api/account/second-factor", start, methods=["POST"]),
        Route("/api/account/second-factor/confirm", confirm, methods=["POST"]),
        Route("/api/account/second-factor/remove", remove, methods=["POST"]),
        Route("/api/account/recovery-codes", recovery_codes, methods=["POST"]),
        Route("/api/account/sign-out-everywhere", sign_out_everywhere, methods=["POST"]),
    ]

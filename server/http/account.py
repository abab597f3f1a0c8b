"""One's own account: its second factor, recovery codes and open sessions.

Reached with a full token, or with the token that a role needing a second
factor gets before it has one (``Scope.ENROL``): confirming the first code
then swaps that token for a full one.
"""

from __future__ import annotations

import time
from typing import Annotated

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from server.access.permissions import Grant, holds
from server.access.roles import Principal, Scope
from server.access.second_factor import (
    code_hash,
    matching_step,
    new_recovery_codes,
    new_secret,
    provisioning_uri,
    qr_svg,
)
from server.context import context
from server.http.endpoints import Endpoint, answer, error
from server.http.inputs import read_json
from server.http.signin import SignIn, SignInLimits, signed_in

__all__ = [
    "Account",
    "Code",
    "Done",
    "Enrolment",
    "OwnSession",
    "RecoveryCodes",
    "SecondFactorState",
    "account",
    "confirm",
    "endpoints",
    "recovery_codes",
    "remove",
    "sign_out_everywhere",
    "start",
]

_ANY = frozenset(Scope)
_MAX_BODY = 1024


class Code(msgspec.Struct, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(max_length=40)]


class SecondFactorState(msgspec.Struct):
    enrolled: bool
    required: bool  # this role must sign in with one
    recovery_codes_left: int


class OwnSession(msgspec.Struct):
    id: str
    issued_at: int
    expires_at: int
    via: str
    address: str
    agent: str
    current: bool


class Account(msgspec.Struct):
    user: str
    role: str
    unit: str | None
    scope: str
    second_factor: SecondFactorState
    sessions: list[OwnSession]


class Enrolment(msgspec.Struct):
    """A secret to enrol: as text, as an otpauth:// URI, and that URI as a QR code (an SVG data: URI)."""

    secret: str
    uri: str
    qr: str


class RecoveryCodes(msgspec.Struct):
    recovery_codes: list[str]


class Done(msgspec.Struct):
    done: str


async def account(request: Request, who: Principal | None) -> Response:
    """Who you are, your second factor, and your sessions not yet expired."""
    assert who is not None
    store = context(request).store
    factor = await store.second_factor(who.user)
    now = int(time.time() * 1000)
    sessions = [
        OwnSession(s.id, s.issued_at, s.expires_at, s.via, s.address, s.agent, s.id == who.token_id)
        for s in await store.sessions(now, who.user)
        if s.revoked_at is None
    ]
    state = SecondFactorState(
        bool(factor and factor[0]), holds(who, Grant.SECOND_FACTOR), await store.recovery_codes_left(who.user)
    )
    return answer(Account(who.user, who.role.value, who.unit, who.scope.value, state, sessions))


async def start(request: Request, who: Principal | None) -> Response:
    """A new secret to enrol, as a QR code for an authenticator app (and as text)."""
    assert who is not None
    ctx = context(request)
    if await ctx.store.second_factor(who.user) is None:
        return error(409, "this sign-in has no account to enrol (a demo or CLI token)")
    secret = new_secret()
    await ctx.store.start_second_factor(who.user, secret)
    uri = provisioning_uri(secret, who.user, f"dispatch-hub {ctx.policy.agency.name}".strip())
    return answer(Enrolment(secret, uri, qr_svg(uri)))


async def confirm(request: Request, who: Principal | None) -> Response:
    """The first code from the new secret: it then counts, and recovery codes are made."""
    assert who is not None
    ctx = context(request)
    ask = await read_json(request, Code, _MAX_BODY)
    factor = await ctx.store.second_factor(who.user)
    if factor is None or factor[1] is None:
        return error(409, "start the set-up first")
    step = matching_step(factor[1], ask.code, time.time(), 0)
    if step is None:
        return error(422, "that code is not right; check the phone's time and try the next one")
    codes = new_recovery_codes()
    await ctx.store.enrol_second_factor(who.user, step, [code_hash(who.user, c) for c in codes])
    if who.scope is Scope.ENROL:  # the first sign-in of a role that needs a second factor: now a full one
        await ctx.tokens.sign_out(who, who.user)
        return await signed_in(request, who, "enrolment", recovery_codes=codes)
    return answer(SignIn(who.user, recovery_codes=codes))


async def _code_ok(request: Request, who: Principal) -> bool:
    """A current code (or a recovery code) from the enrolled second factor: asked before changing it."""
    ctx = context(request)
    ask = await read_json(request, Code, _MAX_BODY)
    if await ctx.part(SignInLimits).codes.take(who.user):
        return False
    factor = await ctx.store.second_factor(who.user)
    if factor is None or factor[0] is None:
        return False
    step = matching_step(factor[0], ask.code, time.time(), factor[2])
    if step is not None:
        return bool(await ctx.store.take_step(who.user, step))
    return bool(await ctx.store.use_recovery_code(who.user, code_hash(who.user, ask.code)))


async def remove(request: Request, who: Principal | None) -> Response:
    """Remove the second factor, with a current code (not for roles that must have one)."""
    assert who is not None
    if holds(who, Grant.SECOND_FACTOR):
        return error(409, f"a {who.role.value} must keep a second factor; set up a new one")
    if not await _code_ok(request, who):
        return error(422, "that code is not right")
    await context(request).store.remove_second_factor(who.user, who.user)
    return answer(Done("second factor removed"))


async def recovery_codes(request: Request, who: Principal | None) -> Response:
    """A new set of recovery codes, with a current code (the old ones stop working)."""
    assert who is not None
    if not await _code_ok(request, who):
        return error(422, "that code is not right")
    codes = new_recovery_codes()
    await context(request).store.replace_recovery_codes(who.user, [code_hash(who.user, c) for c in codes])
    return answer(RecoveryCodes(codes))


async def sign_out_everywhere(request: Request, who: Principal | None) -> Response:
    """End every session of this account, this one too, on every hub."""
    assert who is not None
    if not await context(request).tokens.end_all(who.user, who.user):
        await context(request).tokens.sign_out(who, who.user)  # a token with no account: this one at least
    return answer(Done("signed out everywhere"))


def endpoints() -> list[Endpoint]:
    tag, cap = "account", _MAX_BODY
    return [
        Endpoint("GET", "/api/account", account, "Read your own account", tag, {200: Account}, scopes=_ANY),
        Endpoint(
            "POST",
            "/api/account/second-factor",
            start,
            "Start setting up a second factor",
            tag,
            {200: Enrolment},
            scopes=_ANY,
        ),
        Endpoint(
            "POST",
            "/api/account/second-factor/confirm",
            confirm,
            "Confirm a second factor with its first code",
            tag,
            {200: SignIn},
            body=Code,
            max_body=cap,
            scopes=_ANY,
        ),
        Endpoint(
            "POST",
            "/api/account/second-factor/remove",
            remove,
            "Remove your second factor",
            tag,
            {200: Done},
            body=Code,
            max_body=cap,
        ),
        Endpoint(
            "POST",
            "/api/account/recovery-codes",
            recovery_codes,
            "Make new recovery codes",
            tag,
            {200: RecoveryCodes},
            body=Code,
            max_body=cap,
        ),
        Endpoint(
            "POST",
            "/api/account/sign-out-everywhere",
            sign_out_everywhere,
            "Sign out everywhere",
            tag,
            {200: Done},
            scopes=_ANY,
        ),
    ]

"""Signing in and out: a password, then (where the account has one) a second factor.

``POST /api/login`` takes a user name and password. Then one of three:

- no second factor, and the role does not need one: signed in (a token in
  the answer and in an HttpOnly cookie);
- the account has a second factor: the answer holds a ``challenge`` (good for
  five minutes, for nothing but the next step) and no token; ``POST
  /api/login/second-factor`` with the challenge and a code (or a recovery
  code) signs in;
- the role needs a second factor (``Grant.SECOND_FACTOR``) and none is set
  up: signed in with a token good only for the account page
  (``Scope.ENROL``), which sends the user to enrol one.

Attempts are limited per client address (passwords) and per account
(second-factor codes), on every hub together.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Annotated

import jwt
import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import Response

from server.access.permissions import Grant, holds
from server.access.roles import Principal, Scope
from server.access.second_factor import code_hash, matching_step
from server.access.tokens import COOKIE_NAME
from server.context import context
from server.http.endpoints import Endpoint, ErrorBody, answer, error
from server.http.inputs import read_json
from server.intake.doors import client_address
from server.realtime.ratelimit import SharedLimit

__all__ = [
    "Login",
    "SecondFactorCode",
    "SignIn",
    "SignInLimits",
    "SignedOut",
    "endpoints",
    "login",
    "logout",
    "second_factor",
    "signed_in",
]

_MAX_BODY = 4096
_CHALLENGE = "dispatch-hub:second-factor"  # the audience of a challenge: no other check accepts it
CHALLENGE_S = 300


class Login(msgspec.Struct, forbid_unknown_fields=True):
    user: Annotated[str, msgspec.Meta(max_length=200)]
    password: Annotated[str, msgspec.Meta(max_length=1024)]


class SecondFactorCode(msgspec.Struct, forbid_unknown_fields=True):
    challenge: Annotated[str, msgspec.Meta(max_length=2048)]
    code: Annotated[str, msgspec.Meta(max_length=40)]


class SignIn(msgspec.Struct, omit_defaults=True):
    """Signed in (a token, also set as the HttpOnly cookie), or a second factor asked for first."""

    user: str
    role: str | None = None
    unit: str | None = None
    token: str | None = None
    scope: str | None = None  # "enrol": only good for setting up a second factor, at ``next``
    next: str | None = None
    second_factor: str | None = None  # "required": answer ``challenge`` at /api/login/second-factor
    challenge: str | None = None
    expires_in: int | None = None  # seconds the challenge is good for
    recovery_codes: list[str] | None = None  # the first set, when a second factor was just set up


class SignedOut(msgspec.Struct):
    ok: bool


@dataclass(frozen=True, slots=True)
class SignInLimits:
    passwords: SharedLimit  # per client address: a burst of 10, then one every 6 s
    codes: SharedLimit  # per account: 5 codes, then one every 30 s

    @classmethod
    def make(cls, redis: Redis) -> SignInLimits:
        return cls(SharedLimit(redis, "login", 1 / 6, 10), SharedLimit(redis, "second-factor", 1 / 30, 5))


def _challenge(secret: str, who: Principal) -> str:
    now = int(time.time())
    claims = {"aud": _CHALLENGE, "sub": who.user, "ver": who.version, "iat": now, "exp": now + CHALLENGE_S}
    return jwt.encode({**claims, "jti": uuid.uuid4().hex}, secret, algorithm="HS256")


def _challenged(secret: str, challenge: str) -> tuple[str, int] | None:
    """(user, token version) of a challenge still good."""
    try:
        claims = jwt.decode(challenge, secret, algorithms=["HS256"], audience=_CHALLENGE)
        return str(claims["sub"]), int(claims["ver"])
    except (jwt.PyJWTError, KeyError, ValueError, TypeError):
        return None


async def login(request: Request, signed: Principal | None) -> Response:
    """Exchange a user name and password for a token, or for a second-factor challenge."""
    ctx = context(request)
    wait = await ctx.part(SignInLimits).passwords.take(client_address(request))
    if wait:
        return error(429, f"too many sign-in attempts; retry in {wait:.0f}s")
    creds = await read_json(request, Login, _MAX_BODY)
    who = await ctx.store.check_password(creds.user, creds.password)
    if who is None:
        await ctx.store.audit(creds.user[:64], "login.failed")
        return error(401, "user name or password is wrong")
    factor = await ctx.store.second_factor(who.user)
    if factor is not None and factor[0] is not None:
        await ctx.store.audit(who.user, "login.password")
        challenge = _challenge(ctx.settings.secret, who)
        return answer(SignIn(who.user, second_factor="required", challenge=challenge, expires_in=CHALLENGE_S))
    await ctx.store.audit(who.user, "login")
    if holds(who, Grant.SECOND_FACTOR):
        return await signed_in(request, who, "password", Scope.ENROL)
    return await signed_in(request, who, "password")


async def second_factor(request: Request, signed: Principal | None) -> Response:
    """The second step: a challenge from the first, and a code from the authenticator (or a recovery code)."""
    ctx = context(request)
    ask = await read_json(request, SecondFactorCode, _MAX_BODY)
    found = _challenged(ctx.settings.secret, ask.challenge)
    if found is None:
        return error(401, "the sign-in took too long; enter your password again")
    user, version = found
    wait = await ctx.part(SignInLimits).codes.take(user)
    if wait:
        return error(429, f"too many codes tried; retry in {wait:.0f}s")
    who = await ctx.store.get_user(user)
    factor = await ctx.store.second_factor(user)
    secret = factor[0] if factor is not None else None
    if who is None or who.version != version or factor is None or secret is None:
        return error(401, "this sign-in is no longer good; enter your password again")
    last_step = factor[2]
    step = matching_step(secret, ask.code, time.time(), last_step)
    if step is not None and await ctx.store.take_step(user, step):
        via = "second_factor"
    elif not ask.code.strip().isdigit() and await ctx.store.use_recovery_code(user, code_hash(user, ask.code)):
        via = "recovery_code"
    else:
        await ctx.store.audit(user, "login.second_factor_failed")
        return error(401, "that code is not right (or was used already); try the next one")
    await ctx.store.audit(user, "login", detail=via)
    return await signed_in(request, who, via)


async def signed_in(
    request: Request, who: Principal, via: str, scope: Scope = Scope.FULL, recovery_codes: list[str] | None = None
) -> Response:
    """A new token for ``who`` (recorded as a session), in the answer and in an HttpOnly cookie."""
    ctx = context(request)
    token, issued = await ctx.tokens.issue(
        who, via, client_address(request), request.headers.get("user-agent", ""), scope
    )
    body = SignIn(who.user, who.role.value, who.unit, token, recovery_codes=recovery_codes)
    if scope is Scope.ENROL:
        body.scope, body.next = scope.value, "/account/"
    resp = answer(body, headers={"Cache-Control": "no-store"})
    resp.set_cookie(
        COOKIE_NAME,
        token,
        max_age=max(1, int((issued.expires_at or 0) - time.time())),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return resp


async def logout(request: Request, who: Principal | None) -> Response:
    """Sign out: this token is revoked on every hub (and the cookie removed)."""
    ctx = context(request)
    if who is not None:
        try:
            await ctx.tokens.sign_out(who, who.user)
        except (RedisError, OSError):  # kept in the records store; hubs check it there while Redis is away
            pass
        await ctx.store.audit(who.user, "logout")
    resp = answer(SignedOut(True))
    resp.delete_cookie(COOKIE_NAME)
    return resp


def endpoints() -> list[Endpoint]:
    tag = "sign-in"
    return [
        Endpoint(
            "POST",
            "/api/login",
            login,
            "Sign in with a password",
            tag,
            {200: SignIn, 401: ErrorBody},
            body=Login,
            max_body=_MAX_BODY,
        ),
        Endpoint(
            "POST",
            "/api/login/second-factor",
            second_factor,
            "Sign in with a second factor's code",
            tag,
            {200: SignIn, 401: ErrorBody},
            body=SecondFactorCode,
            max_body=_MAX_BODY,
        ),
        Endpoint("POST", "/api/logout", logout, "Sign out", tag, {200: SignedOut}, scopes=frozenset(Scope)),
    ]

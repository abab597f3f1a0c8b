"""Tokens: signed at sign-in, checked on every request, revocable on every hub within seconds.

A token is an HS256 JWT signed with the hub's secret (``issue_token``), carrying the user,
role and (for officers) the one unit the officer acts for; it expires. It is good while
its signature and expiry hold (``verify_token``), and while:

- its account is not disabled;
- it carries its account's current token *version*: disabling an account, or
  ending all its sessions, raises the version, so every older token is done;
- its id (``jti``) is not revoked: signing out revokes that one token.

Every hub of a partition checks against the same facts in Redis, under the tag
``{auth}`` (``{auth:<partition>}`` for a named one, whose accounts are its own):

- ``{auth}:account:<name>``: a hash with ``ver`` and ``disabled``;
- ``{auth}:revoked:<jti>``: present while a revoked token would still be unexpired;
- ``{auth}:revocations``: a counter raised by every revocation. Each hub polls it
  and, when it moves, checks its open WebSockets again and closes the ones
  that are no longer good (4003 for a disabled account, 4001 otherwise);
- ``{auth}:loaded``: set once the above were filled from the records store.

The records store holds the same facts (``users.token_version``,
``users.disabled``, ``sessions.revoked_at``). A hub fills Redis from it when it
starts, and again whenever ``{auth}:loaded`` is missing (a Redis that came back
empty), before it believes any token. HTTP verdicts are cached in each
process for ``CACHE_S``; so a revocation is in force everywhere within that
(HTTP) or the poll interval (WebSockets).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import jwt
from redis.asyncio import Redis
from redis.exceptions import RedisError

from server.access.roles import Principal, Role, Scope

__all__ = [
    "AUTH_TAG",
    "CACHE_S",
    "COOKIE_NAME",
    "AccountRecords",
    "AuthError",
    "SessionRecord",
    "Tokens",
    "issue_token",
    "publish_account",
    "publish_revoked",
    "verify_token",
]

log = logging.getLogger("dispatch.tokens")

COOKIE_NAME = "dispatch_token"  # the sign-in cookie a browser carries its token in

CACHE_S = 2.0
_CACHE_MAX = 20_000
# The sign-in state every hub shares, in Redis under one hash tag (so that a change and its
# counter are one transaction, on a cluster too): ``{auth}``, or ``{auth:<partition>}`` for the
# hubs of a named partition, whose accounts are their own records store's.
AUTH_TAG = "auth"


def _loaded_key(tag: str) -> str:
    return f"{{{tag}}}:loaded"


def _counter_key(tag: str) -> str:
    return f"{{{tag}}}:revocations"


class AuthError(Exception):
    """A token that is not good: badly signed, expired, revoked, or of a disabled account."""


# ---- signing ----------------------------------------------------------------


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
    """The principal a token names, if its signature and expiry hold (revocation: ``Tokens``)."""
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


# ---- revocation, shared by every hub through Redis ---------------------------


def _account_key(tag: str, name: str) -> str:
    return f"{{{tag}}}:account:{name}"


def _revoked_key(tag: str, token_id: str) -> str:
    return f"{{{tag}}}:revoked:{token_id}"


async def publish_account(redis: Redis, name: str, version: int, disabled: bool, tag: str = AUTH_TAG) -> None:
    """Tell every hub an account's token version and whether it is disabled."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(_account_key(tag, name), mapping={"ver": version, "disabled": int(disabled)})
        pipe.incr(_counter_key(tag))
        await pipe.execute()


async def publish_revoked(redis: Redis, token_id: str, expires_at_ms: int, tag: str = AUTH_TAG) -> None:
    """Tell every hub one token is revoked (kept only as long as the token would live)."""
    left = expires_at_ms - int(time.time() * 1000)
    if left <= 0:
        return
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(_revoked_key(tag, token_id), 1, px=left)
        pipe.incr(_counter_key(tag))
        await pipe.execute()


def _reason(who: Principal, state: tuple[int, bool], revoked: bool) -> str | None:
    """Why ``who`` is no longer good, or None."""
    version, disabled = state
    if disabled:
        return "account disabled"
    if who.version != version:
        return "signed out everywhere: sign in again"
    if revoked:
        return "signed out: sign in again"
    return None


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One token issued at a sign-in (or by the CLI), as the admin page lists it."""

    id: str
    user: str
    issued_at: int  # ms
    expires_at: int  # ms
    via: str
    scope: str
    address: str
    agent: str
    revoked_at: int | None
    revoked_by: str | None


class AccountRecords(Protocol):
    """What tokens need of the records store: account states and the sessions issued
    (``server.records.store.RecordsStore`` is one)."""

    async def record_session(self, who: Principal, issued_at: int, via: str, address: str, agent: str) -> None: ...
    async def account_state(self, name: str) -> tuple[int, bool] | None: ...
    async def account_states(self) -> list[tuple[str, int, bool]]: ...
    async def session(self, token_id: str) -> SessionRecord | None: ...
    async def revoked_sessions(self, now_ms: int) -> list[tuple[str, int]]: ...
    async def revoke_session(self, token_id: str, by: str) -> SessionRecord | None: ...
    async def set_disabled(self, name: str, disabled: bool, by: str) -> int | None: ...
    async def end_sessions(self, name: str, by: str) -> int | None: ...


class Tokens:
    """Issuing and checking tokens for one hub process."""

    def __init__(self, redis: Redis, store: AccountRecords, secret: str, ttl_s: int, tag: str = AUTH_TAG) -> None:
        self.redis = redis
        self.tag = tag
        self.store = store
        self.secret = secret
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[float, str | None]] = {}  # jti -> (until, why not good)
        self._loading = asyncio.Lock()
        self._loaded_once = False

    # ---- issuing -------------------------------------------------------------

    async def issue(
        self, who: Principal, via: str, address: str = "", agent: str = "", scope: Scope = Scope.FULL
    ) -> tuple[str, Principal]:
        """A token for ``who`` (at its account's current version), recorded as a session."""
        now = time.time()
        ttl = self.ttl_s if scope is Scope.FULL else min(self.ttl_s, 900)
        issued = replace(who, expires_at=float(int(now + ttl)), token_id=uuid.uuid4().hex, scope=scope)
        token = issue_token(self.secret, issued, ttl, now=now)
        await self.store.record_session(issued, int(now * 1000), via, address, agent)
        return token, issued

    # ---- checking ------------------------------------------------------------

    async def principal(self, token: str) -> Principal:
        """The principal of a good token; ``AuthError`` saying why not otherwise."""
        who = verify_token(self.secret, token)
        why = await self.why_not(who)
        if why is not None:
            raise AuthError(why)
        return who

    async def why_not(self, who: Principal, *, cached: bool = True) -> str | None:
        """Why a verified token is no longer good (None: it is), cached for ``CACHE_S``."""
        now = time.monotonic()
        key = who.token_id or f"{who.user}:{who.version}"
        hit = self._cache.get(key) if cached else None
        if hit is not None and hit[0] > now:
            return hit[1]
        (why,) = await self._check([who])
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[key] = (now + CACHE_S, why)
        return why

    async def check_all(self, principals: Sequence[Principal]) -> list[str | None]:
        """Why each is no longer good, read afresh (for the open WebSockets)."""
        return await self._check(principals) if principals else []

    async def _check(self, principals: Sequence[Principal]) -> list[str | None]:
        try:
            return await self._check_in_redis(principals)
        except (RedisError, OSError) as exc:
            # The records store holds the same facts: slower, but never a revoked token let in.
            log.warning("sign-ins checked in the records store (redis: %s)", exc)
            return [await self._check_in_store(who) for who in principals]

    async def _check_in_redis(self, principals: Sequence[Principal]) -> list[str | None]:
        for _ in range(2):
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.exists(_loaded_key(self.tag))
                for who in principals:
                    pipe.hmget(_account_key(self.tag, who.user), ["ver", "disabled"])
                    pipe.exists(_revoked_key(self.tag, who.token_id or "-"))
                replies = await pipe.execute()
            if replies[0]:
                break
            await self.load()
        out: list[str | None] = []
        for i, who in enumerate(principals):
            ver, disabled = replies[1 + 2 * i]
            revoked = bool(who.token_id) and bool(replies[2 + 2 * i])
            if ver is None:
                state = await self._account_from_store(who.user)
            else:
                state = (int(ver), disabled in (b"1", "1"))
            out.append(_reason(who, state, revoked))
        return out

    async def _check_in_store(self, who: Principal) -> str | None:
        state = await self.store.account_state(who.user) or (0, False)
        found = await self.store.session(who.token_id) if who.token_id else None
        return _reason(who, state, found is not None and found.revoked_at is not None)

    async def _account_from_store(self, name: str) -> tuple[int, bool]:
        """An account Redis does not know yet (added since the hub started): from the records store,
        written to Redis unless someone wrote it meanwhile."""
        state = await self.store.account_state(name) or (0, False)  # no account: a demo or CLI principal
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hsetnx(_account_key(self.tag, name), "ver", state[0])
            pipe.hsetnx(_account_key(self.tag, name), "disabled", int(state[1]))
            await pipe.execute()
        return state

    async def load(self) -> None:
        """Fill Redis from the records store: every account's version and state, every revoked
        token still unexpired. Done at start, and whenever Redis has lost it."""
        async with self._loading:
            if await self.redis.exists(_loaded_key(self.tag)) and self._loaded_once:
                return
            accounts = await self.store.account_states()
            now = int(time.time() * 1000)
            revoked = await self.store.revoked_sessions(now)
            async with self.redis.pipeline(transaction=False) as pipe:
                for name, version, disabled in accounts:
                    pipe.hset(_account_key(self.tag, name), mapping={"ver": version, "disabled": int(disabled)})
                for token_id, expires_at in revoked:
                    pipe.set(_revoked_key(self.tag, token_id), 1, px=max(1, expires_at - now))
                pipe.set(_loaded_key(self.tag), 1)
                pipe.incr(_counter_key(self.tag))
                await pipe.execute()
            self._loaded_once = True
            self._cache.clear()
            log.info("sign-ins: %d accounts and %d revoked tokens loaded into redis", len(accounts), len(revoked))

    async def start(self) -> None:
        """At hub start: the records store is the truth for accounts (the CLI may have changed them
        while no hub ran), so Redis is filled from it once, whatever it holds."""
        try:
            await self.load()
        except (RedisError, OSError) as exc:
            log.error("sign-ins not loaded into redis yet (%s): tokens are checked once it answers", exc)

    async def revocations(self) -> int:
        """The revocation counter: when it moves, open sessions are checked again."""
        raw = await self.redis.get(_counter_key(self.tag))
        return int(raw or 0)

    # ---- revoking ------------------------------------------------------------

    async def sign_out(self, who: Principal, by: str) -> None:
        """End one token (its own sign-out, or an admin ending one session)."""
        if not who.token_id:
            return
        found = await self.store.revoke_session(who.token_id, by)
        expires = found.expires_at if found else int((who.expires_at or time.time() + self.ttl_s) * 1000)
        await publish_revoked(self.redis, who.token_id, expires, self.tag)
        self._forget([who.token_id])

    async def end_session(self, token_id: str, by: str) -> bool:
        found = await self.store.revoke_session(token_id, by)
        if found is None:
            return False
        await publish_revoked(self.redis, token_id, found.expires_at, self.tag)
        self._forget([token_id])
        return True

    async def set_disabled(self, name: str, disabled: bool, by: str) -> bool:
        version = await self.store.set_disabled(name, disabled, by)
        if version is None:
            return False
        await publish_account(self.redis, name, version, disabled, self.tag)
        self._cache.clear()
        return True

    async def end_all(self, name: str, by: str) -> bool:
        version = await self.store.end_sessions(name, by)
        if version is None:
            return False
        state = await self.store.account_state(name)
        await publish_account(self.redis, name, version, bool(state and state[1]), self.tag)
        self._cache.clear()
        return True

    def _forget(self, token_ids: Iterable[str]) -> None:
        for token_id in token_ids:
            self._cache.pop(token_id, None)

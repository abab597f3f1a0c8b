"""Accounts for admins: who can sign in, with which role, and the sessions each has open.

Disabling an account, ending all its sessions or ending one session takes
effect on every hub within seconds (server/access/tokens.py). Every change is in the
audit trail, and so is every look at the list.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from typing import Annotated, Literal

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from server.access.roles import Principal
from server.context import context
from server.http.endpoints import Endpoint, answer, error
from server.http.inputs import MAX_MS, read_query

_AUDIT_MOST = 100_000

__all__ = [
    "AccountView",
    "Accounts",
    "Action",
    "ActionDone",
    "AuditQuery",
    "SessionEnded",
    "SessionView",
    "account_action",
    "accounts",
    "audit_csv",
    "end_session",
    "endpoints",
]
Action = Literal["disable", "enable", "sign-out", "reset-second-factor"]


class SessionView(msgspec.Struct):
    id: str
    issued_at: int
    expires_at: int
    via: str
    scope: str
    address: str
    agent: str
    revoked_at: int | None
    revoked_by: str | None
    current: bool  # the admin's own, this one


class AccountView(msgspec.Struct):
    name: str
    role: str
    unit: str | None
    disabled: bool
    second_factor: bool
    created_at: int
    sessions: list[SessionView]


class Accounts(msgspec.Struct):
    accounts: list[AccountView]


class ActionDone(msgspec.Struct):
    name: str
    done: str


class SessionEnded(msgspec.Struct):
    ended: str


async def accounts(request: Request, who: Principal | None) -> Response:
    """Every account with its role, state and unexpired sessions."""
    assert who is not None
    ctx = context(request)
    now = int(time.time() * 1000)
    sessions: dict[str, list[SessionView]] = {}
    for s in await ctx.store.sessions(now):
        view = SessionView(
            s.id,
            s.issued_at,
            s.expires_at,
            s.via,
            s.scope,
            s.address,
            s.agent,
            s.revoked_at,
            s.revoked_by,
            s.id == who.token_id,
        )
        sessions.setdefault(s.user, []).append(view)
    body = [
        AccountView(
            a.name, a.role.value, a.unit, a.disabled, a.second_factor, a.created_at * 1000, sessions.get(a.name, [])
        )
        for a in await ctx.store.accounts()
    ]
    await ctx.store.audit(who.user, "accounts.view", "", f"{len(body)} accounts")
    return answer(Accounts(body))


async def account_action(request: Request, who: Principal | None) -> Response:
    """Disable, enable, sign out everywhere, or reset the second factor of one account."""
    assert who is not None
    ctx = context(request)
    tokens = ctx.tokens
    name, action = request.path_params["name"], request.path_params["action"]
    if action == "sign-out":
        found = await tokens.end_all(name, who.user)
    elif action == "reset-second-factor":  # a lost phone: the account enrols again at its next sign-in
        found = await ctx.store.remove_second_factor(name, who.user) and await tokens.end_all(name, who.user)
    elif action in ("disable", "enable"):
        if action == "disable" and name == who.user:
            return error(409, "you cannot disable your own account")
        found = await tokens.set_disabled(name, action == "disable", who.user)
    else:
        return error(404, "the action is disable, enable, sign-out or reset-second-factor")
    if not found:
        return error(404, f"no account {name!r}")
    return answer(ActionDone(name, action))


async def end_session(request: Request, who: Principal | None) -> Response:
    """End one session: its token stops working on every hub."""
    assert who is not None
    session_id = request.path_params["id"]
    if not await context(request).tokens.end_session(session_id, who.user):
        return error(404, f"no open session {session_id!r}")
    return answer(SessionEnded(session_id))


class AuditQuery(msgspec.Struct, forbid_unknown_fields=True):
    user: Annotated[str, msgspec.Meta(max_length=64)] = ""
    file: Annotated[str, msgspec.Meta(max_length=64)] = ""  # what the rows are about: a file number, a user
    since: Annotated[int, msgspec.Meta(ge=0, le=MAX_MS)] | None = None
    until: Annotated[int, msgspec.Meta(ge=0, le=MAX_MS)] | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=_AUDIT_MOST)] = _AUDIT_MOST


async def audit_csv(request: Request, who: Principal | None) -> Response:
    """The audit trail as CSV (every view, change, login and export), filtered by who, what
    and when. The export is itself written to the trail, before the rows are read."""
    assert who is not None
    ask = read_query(request, AuditQuery)
    store = context(request).store
    said = {"user": ask.user, "file": ask.file, "since": ask.since, "until": ask.until}
    await store.audit(who.user, "audit.export", ask.file or ask.user, msgspec.json.encode(said).decode())
    rows = await store.audit_export(ask.user or None, ask.file or None, ask.since, ask.until, ask.limit)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(["seq", "at", "at_utc", "actor", "action", "subject", "detail"])
    for seq, at, actor, action, subject, detail in rows:
        when = dt.datetime.fromtimestamp(at / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        w.writerow([seq, at, when, *(_text(x) for x in (actor, action, subject, detail))])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
    )


def _text(v: str) -> str:
    return "'" + v if v[:1] in ("=", "+", "-", "@", "\t", "\r") else v


def endpoints() -> list[Endpoint]:
    tag = "admin"
    return [
        Endpoint(
            "GET",
            "/api/admin/audit.csv",
            audit_csv,
            "The audit trail as CSV (audited)",
            tag,
            {200: None},
            query=AuditQuery,
            media="text/csv",
        ),
        Endpoint("GET", "/api/admin/accounts", accounts, "List the accounts and their sessions", tag, {200: Accounts}),
        Endpoint(
            "POST",
            "/api/admin/accounts/{name}/{action}",
            account_action,
            "Change an account",
            tag,
            {200: ActionDone},
            examples={"name": "ana", "action": "sign-out"},
        ),
        Endpoint("DELETE", "/api/admin/sessions/{id}", end_session, "End a session", tag, {200: SessionEnded}),
    ]

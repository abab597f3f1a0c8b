"""Revocable sign-ins: disabling an account, signing out and ending sessions, on every hub."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from protocol.codes import CloseCode
from server.access.roles import Role
from server.access.tokens import CACHE_S, AuthError, Tokens
from server.bus.valkey import EmbeddedValkey
from server.records.store import RecordsStore
from tests.helpers import ROOT, RunningHub, hub_in_process, wait_for

JSON = [websockets.Subprotocol("dispatch.v1.json")]


@pytest.fixture
async def two_hubs(
    redis: aioredis.Redis, valkey: EmbeddedValkey, tmp_path: Path, postgres_url: str
) -> AsyncIterator[tuple[RunningHub, RunningHub]]:
    """Two hubs as on two hosts: their own data dirs, one Redis and one PostgreSQL records store."""
    async with (
        hub_in_process(valkey.url, tmp_path / "a", database_url=postgres_url) as a,
        hub_in_process(valkey.url, tmp_path / "b", database_url=postgres_url) as b,
    ):
        yield a, b


async def _sign_in(hub: RunningHub, user: str, password: str) -> str:
    async with httpx.AsyncClient() as http:
        r = await http.post(hub.http + "/api/login", json={"user": user, "password": password})
    assert r.status_code == 200, r.text
    token: str = r.json()["token"]
    return token


async def _me(hub: RunningHub, token: str) -> int:
    async with httpx.AsyncClient() as http:
        return (await http.get(hub.http + "/api/me", headers={"Authorization": f"Bearer {token}"})).status_code


async def _board(hub: RunningHub, token: str) -> ClientConnection:
    ws = await connect(hub.url, subprotocols=JSON, additional_headers={"Authorization": f"Bearer {token}"})
    assert json.loads(await ws.recv())["type"] == "welcome"
    return ws


async def _closed_with(ws: ClientConnection) -> int:
    with pytest.raises(ConnectionClosed) as info:
        async with asyncio.timeout(10):
            while True:
                await ws.recv()
    assert info.value.rcvd is not None
    return info.value.rcvd.code


async def test_disabling_an_account_ends_its_sessions_on_every_hub(two_hubs: tuple[RunningHub, RunningHub]) -> None:
    """An admin disables an account on hub A: its token stops working over HTTP on both hubs within
    seconds, and its open WebSocket on hub B is closed 4003."""
    a, b = two_hubs
    await a.ctx.store.add_user("ana", Role.DISPATCHER, "pw-ana-1")
    token = await _sign_in(a, "ana", "pw-ana-1")
    board = await _board(b, token)
    assert (await _me(a, token), await _me(b, token)) == (200, 200)
    async with httpx.AsyncClient() as http:
        done = await http.post(
            a.http + "/api/admin/accounts/ana/disable",
            headers={"Authorization": f"Bearer {a.token('root', Role.ADMIN)}"},
        )
    assert done.status_code == 200
    assert await _closed_with(board) == CloseCode.FORBIDDEN
    await wait_for(lambda: _both_refuse(a, b, token), 10)
    async with httpx.AsyncClient() as http:  # nor can it sign in again
        again = await http.post(a.http + "/api/login", json={"user": "ana", "password": "pw-ana-1"})
    assert again.status_code == 401


async def _both_refuse(a: RunningHub, b: RunningHub, token: str) -> bool:
    return (await _me(a, token), await _me(b, token)) == (401, 401)


async def test_signing_out_ends_that_token_everywhere_but_not_the_others(
    two_hubs: tuple[RunningHub, RunningHub],
) -> None:
    """Sign-out revokes its own token on every hub (its board is closed 4001); another sign-in of
    the same account carries on."""
    a, b = two_hubs
    await a.ctx.store.add_user("bo", Role.DISPATCHER, "pw-bo-1")
    leaving, staying = await _sign_in(a, "bo", "pw-bo-1"), await _sign_in(a, "bo", "pw-bo-1")
    board = await _board(b, leaving)
    async with httpx.AsyncClient() as http:
        out = await http.post(a.http + "/api/logout", headers={"Authorization": f"Bearer {leaving}"})
    assert out.status_code == 200
    assert await _closed_with(board) == CloseCode.UNAUTHENTICATED
    await wait_for(lambda: _both_refuse(a, b, leaving), 10)
    assert (await _me(a, staying), await _me(b, staying)) == (200, 200)


async def test_the_cli_disables_and_enables_an_account_while_the_hub_runs(
    hub: RunningHub, valkey: EmbeddedValkey
) -> None:
    """`dispatch user disable NAME` ends its sign-ins on the running hub; `enable` lets it sign in anew,
    while the old tokens stay ended."""
    await hub.ctx.store.add_user("cy", Role.SUPERVISOR, "pw-cy-1")
    old = await _sign_in(hub, "cy", "pw-cy-1")
    cli = [sys.executable, "-m", "server.cli", "user"]
    where = ["--data-dir", str(hub.settings.data_dir), "--redis-url", valkey.url]
    off = subprocess.run([*cli, "disable", "cy", *where], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert off.returncode == 0 and "sessions end on every hub" in off.stdout
    await wait_for(lambda: _refused(hub, old), 10)
    on = subprocess.run([*cli, "enable", "cy", *where], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert on.returncode == 0
    new = await _sign_in(hub, "cy", "pw-cy-1")
    assert (await _me(hub, new), await _me(hub, old)) == (200, 401)


async def _refused(hub: RunningHub, token: str) -> bool:
    return await _me(hub, token) == 401


async def test_a_revoked_token_stays_revoked_when_redis_loses_everything(
    hub: RunningHub, redis: aioredis.Redis
) -> None:
    """Redis comes back empty: revocations are loaded again from the records store before any token
    is believed, so a signed-out token does not come back to life."""
    await hub.ctx.store.add_user("di", Role.DISPATCHER, "pw-di-1")
    gone, kept = await _sign_in(hub, "di", "pw-di-1"), await _sign_in(hub, "di", "pw-di-1")
    async with httpx.AsyncClient() as http:
        await http.post(hub.http + "/api/logout", headers={"Authorization": f"Bearer {gone}"})
    await redis.flushall()
    await asyncio.sleep(CACHE_S + 0.5)  # past each process's cached verdicts
    assert (await _me(hub, gone), await _me(hub, kept)) == (401, 200)


async def test_with_redis_away_tokens_are_checked_in_the_records_store(tmp_path: Path) -> None:
    """No Redis to ask: a disabled account's token is still refused (the records store decides)."""
    store = RecordsStore(tmp_path / "records.sqlite3")
    await store.open()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here
    unreachable = aioredis.Redis(port=port, socket_connect_timeout=0.2)
    tokens = Tokens(unreachable, store, "test-secret-0123456789abcdef0123456789", 3600)
    try:
        await store.add_user("ed", Role.DISPATCHER, "pw-ed-1")
        who = await store.get_user("ed")
        assert who is not None
        token, _ = await tokens.issue(who, "password")
        assert (await tokens.principal(token)).user == "ed"
        await store.set_disabled("ed", True, "test")
        with pytest.raises(AuthError, match="account disabled"):
            await tokens.principal(token)
    finally:
        await unreachable.aclose()
        await store.close()


async def test_only_admins_see_and_change_accounts(hub: RunningHub) -> None:
    """The accounts list and its actions are for admins; every look is audited."""
    await hub.ctx.store.add_user("fy", Role.DISPATCHER, "pw-fy-1")
    await _sign_in(hub, "fy", "pw-fy-1")
    async with httpx.AsyncClient(base_url=hub.http) as http:
        desk = {"Authorization": f"Bearer {hub.token('fy')}"}
        assert (await http.get("/api/admin/accounts", headers=desk)).status_code == 403
        assert (await http.post("/api/admin/accounts/fy/disable", headers=desk)).status_code == 403
        admin = {"Authorization": f"Bearer {hub.token('root', Role.ADMIN)}"}
        listed = (await http.get("/api/admin/accounts", headers=admin)).json()["accounts"]
        (fy,) = [a for a in listed if a["name"] == "fy"]
        assert fy["role"] == "dispatcher" and fy["disabled"] is False and len(fy["sessions"]) == 1
        ended = await http.delete(f"/api/admin/sessions/{fy['sessions'][0]['id']}", headers=admin)
        assert ended.status_code == 200
        assert (await http.delete(f"/api/admin/sessions/{fy['sessions'][0]['id']}", headers=admin)).status_code == 404
    assert "accounts.view" in [a[2] for a in await hub.ctx.store.audit_trail()]

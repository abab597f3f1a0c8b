"""Fixes from review: bad stream entries, origins, disabled accounts, expiring tokens, sign-in limits."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
import redis.asyncio as aioredis
import websockets
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from clients.connection import Connection
from protocol.codes import CloseCode
from protocol.messages import EventFrame, RadioAppend
from server.auth import Principal, Role, issue_token
from server.topics import topic_named
from tests.helpers import RunningHub, wait_for

JSON = [websockets.Subprotocol("dispatch.v1.json")]
RADIO = topic_named("radio")
assert RADIO is not None


async def test_an_undecodable_entry_does_not_hold_back_what_follows(hub: RunningHub, redis: aioredis.Redis) -> None:
    """A stream entry this hub cannot read is skipped and counted; the next event is delivered."""
    async with Connection(hub.url, token=hub.token("ana"), topics=["radio"]) as board:
        await redis.xadd(RADIO.stream, {"e": b"\xc1 not msgpack"})
        ack = await board.command(RadioAppend(id=board.next_id(), channel="main", text="after the bad one"))
        await wait_for(lambda: board.positions["radio"].offset == ack.offset)
        assert hub.ctx.metrics.bad_events._value.get() >= 1
        frames = [await board.next_frame() for _ in range(board.pending_frames())]
        assert [f.payload.entry.text for f in frames if isinstance(f, EventFrame)] == ["after the bad one"]  # type: ignore[union-attr]
    await wait_for(lambda: _undecodable_archived(hub), 10)


async def _undecodable_archived(hub: RunningHub) -> bool:
    return any(e.kind == "undecodable" for e in await hub.ctx.store.archived("radio"))


async def test_pages_of_other_sites_cannot_open_the_socket(hub: RunningHub) -> None:
    """A browser page from another origin is refused (the cookie is not enough); our own origin is fine."""
    with pytest.raises(InvalidStatus):
        await connect(hub.url, subprotocols=JSON, origin=websockets.Origin("https://evil.example"))
    own = websockets.Origin(hub.http)
    ws = await connect(hub.url, subprotocols=JSON, origin=own,
                       additional_headers={"Cookie": f"dispatch_token={hub.token()}"})  # fmt: skip
    assert json.loads(await ws.recv())["type"] == "welcome"
    await ws.close()


async def test_disabled_account_is_refused(hub: RunningHub) -> None:
    """A token of an account that was disabled since no longer opens a session (4003)."""
    await hub.ctx.store.add_user("gone", Role.DISPATCHER, "pw")
    await hub.ctx.store.db.execute("UPDATE users SET disabled=1 WHERE name='gone'")
    await hub.ctx.store.db.commit()
    ws = await connect(hub.url, subprotocols=JSON, additional_headers={"Authorization": f"Bearer {hub.token('gone')}"})
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await ws.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == CloseCode.FORBIDDEN


async def test_session_ends_when_its_token_expires(hub: RunningHub) -> None:
    """A session does not outlive its token: it is closed 4001 at expiry."""
    token = issue_token(hub.settings.secret, Principal("brief", Role.DISPATCHER), ttl_s=2, now=time.time())
    ws = await connect(hub.url, subprotocols=JSON, additional_headers={"Authorization": f"Bearer {token}"})
    assert json.loads(await ws.recv())["type"] == "welcome"
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await ws.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == CloseCode.UNAUTHENTICATED
    assert info.value.rcvd.reason == "token expired"


async def test_sign_in_attempts_are_limited_per_address(hub: RunningHub) -> None:
    """Past a burst of attempts from one address, sign-in answers 429 without checking the password."""
    async with httpx.AsyncClient() as http:
        codes = [
            (await http.post(hub.http + "/api/login", json={"user": "x", "password": "y"})).status_code
            for _ in range(12)
        ]
    assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]


async def test_sessions_per_account_are_capped(redis: aioredis.Redis, valkey: object, tmp_path: object) -> None:
    """Past the limit an account's next session is closed 1008; closing one makes room again."""
    from pathlib import Path

    from tests.helpers import hub_in_process

    async with hub_in_process(valkey.url, Path(str(tmp_path)), max_sessions_per_user=2) as hub:  # type: ignore[attr-defined]
        headers = {"Authorization": f"Bearer {hub.token('ana')}"}
        first = await connect(hub.url, subprotocols=JSON, additional_headers=headers)
        second = await connect(hub.url, subprotocols=JSON, additional_headers=headers)
        for ws in (first, second):
            assert json.loads(await ws.recv())["type"] == "welcome"
        third = await connect(hub.url, subprotocols=JSON, additional_headers=headers)
        with pytest.raises(ConnectionClosed) as info:
            while True:
                await third.recv()
        assert info.value.rcvd is not None and info.value.rcvd.code == CloseCode.POLICY_VIOLATION
        await first.close()
        await wait_for(lambda: len(hub.ctx.hub.sessions) == 1)
        fourth = await connect(hub.url, subprotocols=JSON, additional_headers=headers)
        assert json.loads(await fourth.recv())["type"] == "welcome"
        await asyncio.gather(second.close(), fourth.close())

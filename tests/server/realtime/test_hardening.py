"""Fixes from review: bad stream entries, origins, disabled accounts, expiring tokens, sign-in limits."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
import websockets
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from clients.connection import Connection
from protocol.codes import CloseCode
from protocol.messages import EventFrame, RadioAppend
from server.access.roles import Principal, Role
from server.access.tokens import issue_token
from server.bus.partition import Partition
from server.bus.topics import topic_named
from server.bus.valkey import EmbeddedValkey
from server.realtime.ratelimit import SharedLimit
from tests.helpers import RunningHub, hub_in_process, wait_for

JSON = [websockets.Subprotocol("dispatch.v1.json")]
RADIO = topic_named("radio")
assert RADIO is not None


async def test_an_undecodable_entry_does_not_hold_back_what_follows(hub: RunningHub, redis: aioredis.Redis) -> None:
    """A stream entry this hub cannot read is skipped and counted; the next event is delivered."""
    async with Connection(hub.url, token=hub.token("ana"), topics=["radio"]) as board:
        await redis.xadd(Partition().stream(RADIO), {"e": b"\xc1 not msgpack"})
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
    async with hub.ctx.store.transaction() as db:
        await db.execute("UPDATE users SET disabled=1 WHERE name='gone'")
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
    codes = await _sign_in_codes(hub.http, 12)
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


async def _sign_in_codes(http: str, n: int, headers: Callable[[int], dict[str, str]] | None = None) -> list[int]:
    """``n`` wrong passwords sent at once, so all reach the limit before it refills (one every 6 s)
    however slowly the passwords are checked. -> their status codes, sorted (401s before 429s)."""
    async with httpx.AsyncClient(timeout=60) as client:
        answers = await asyncio.gather(
            *(
                client.post(
                    http + "/api/login", json={"user": "x", "password": "y"}, headers=headers(i) if headers else None
                )
                for i in range(n)
            )
        )
    return sorted(a.status_code for a in answers)


async def test_a_forged_forwarded_for_does_not_reset_the_limits(hub: RunningHub) -> None:
    """With no proxy configured, X-Forwarded-For is not believed: changing it does not give new attempts."""
    codes = await _sign_in_codes(hub.http, 12, lambda i: {"X-Forwarded-For": f"203.0.113.{i}"})
    assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]


async def test_a_configured_proxy_is_believed(redis: aioredis.Redis, valkey: EmbeddedValkey, tmp_path: Path) -> None:
    """Behind a proxy named in FORWARDED_ALLOW_IPS, each forwarded client has its own attempts."""
    async with hub_in_process(valkey.url, tmp_path, forwarded_allow_ips="127.0.0.1") as hub:
        spread = await _sign_in_codes(hub.http, 12, lambda i: {"X-Forwarded-For": f"203.0.113.{i}"})
        one = await _sign_in_codes(hub.http, 12, lambda i: {"X-Forwarded-For": "198.51.100.7"})
    assert spread == [401] * 12
    assert one[10:] == [429, 429]


async def test_hubs_on_one_redis_share_the_sign_in_limit(
    redis: aioredis.Redis, valkey: EmbeddedValkey, tmp_path: Path, postgres_url: str
) -> None:
    """Attempts spent on one hub count on the other: more processes do not mean more guesses."""
    async with (
        hub_in_process(valkey.url, tmp_path / "a", database_url=postgres_url) as a,
        hub_in_process(valkey.url, tmp_path / "b", database_url=postgres_url) as b,
    ):
        first = await _sign_in_codes(a.http, 6)
        second = await _sign_in_codes(b.http, 6)
    assert first == [401] * 6 and second == [401] * 4 + [429, 429]


async def test_a_limit_holds_in_each_process_while_redis_is_away() -> None:
    """With Redis unreachable a shared limit still limits, in this process alone."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here
    unreachable = aioredis.Redis(port=port, socket_connect_timeout=0.2)
    limit = SharedLimit(unreachable, "login", rate=1 / 60, burst=3)
    waits = [await limit.take("198.51.100.9") for _ in range(4)]
    await unreachable.aclose()
    assert waits[:3] == [0.0, 0.0, 0.0] and waits[3] > 0

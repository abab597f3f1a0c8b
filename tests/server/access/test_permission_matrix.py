"""The permission table holds on a running hub: each role, signed in (and a stranger), calls every
HTTP route, opens every page, sends every command and subscribes to every topic, and is refused
exactly where the table says and nowhere else.

The matrix is made from the table (``server.access.permissions``), so a line changed there is
checked here without a test changed. A request only has to reach the permission check: a 422 for
an empty body is "not refused". One hub for the module keeps it fast.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from server.access.permissions import (
    COMMANDS,
    OWN_UNIT_COMMANDS,
    PAGES,
    ROUTES,
    TOPICS,
    Grant,
    holds,
    home_for,
    may_command,
    may_open,
    may_read,
    route_roles,
)
from server.access.roles import Principal, Role
from server.bus.valkey import EmbeddedValkey
from tests.helpers import RunningHub, S, hub_in_process

pytestmark = pytest.mark.asyncio(loop_scope="module")

WHO: list[Role | None] = [None, *Role]  # None: signed out
UNIT, OTHER_UNIT = "U7", "U8"  # an officer's own unit, and one it is not

# Public routes whose handler refuses callers without a grant (others show them less).
GATES = {
    ("GET", "/metrics"): Grant.OPERATIONS,
    ("POST", "/open311/v2/requests.{fmt:fmt}"): Grant.OPEN311_STAFF,
}

# A value for each path parameter: enough to reach the route, naming nothing that exists.
PARAMS = {
    "fmt": "json",
    "id": "1",
    "incident": "I-none",
    "name": "nobody",
    "action": "sign-out",
    "service_code": "NOISE",
    "service_request_id": "1",
    "token": "none",
    "file": "PC-2099-00001",
    "kind": "acknowledgement",
    "number": "AR-2099-00001",
}

# The smallest frame of each command (its id and, for the own-unit ones, its unit added).
FRAMES: dict[str, dict[str, Any]] = {
    "incident.create": {"call_type": "NOISE", "location": {"address": "1 Main St"}},
    "incident.update": {"incident": "I-none", "narrative": "x"},
    "incident.assign": {"incident": "I-none", "unit": "U-none"},
    "incident.unassign": {"incident": "I-none", "unit": "U-none"},
    "incident.close": {"incident": "I-none", "disposition": "resolved"},
    "incident.cancel": {"incident": "I-none", "reason": "test"},
    "incident.reopen": {"incident": "I-none", "reason": "test"},
    "incident.merge": {"incident": "I-none", "into": "I-none2"},
    "incident.link": {"incident": "I-none", "other": "I-none2"},
    "incident.note": {"incident": "I-none", "text": "x"},
    "incident.police": {"incident": "I-none"},
    "incident.recommend": {"incident": "I-none"},
    "unit.roster": {"unit": "M1"},
    "unit.status": {"status": "available"},
    "unit.ack": {"incident": "I-none"},
    "unit.position": {"lat": 53.5, "lon": -113.5},
    "unit.checkin": {},
    "unit.panic": {},
    "radio.append": {"channel": "main", "text": "x"},
    "alarm.ack": {"alarm": "A-none"},
    "alarm.cancel": {"alarm": "A-none", "reason": "test"},
    "alarm.police": {"alarm": "A-none"},
    "traffic.emergency": {"on": False},
    "resource.upsert": {"resource": "R1", "category": "boat", "name": "Boat 1"},
    "resource.assign": {"resource": "R-none"},
}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hub(valkey: EmbeddedValkey, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningHub]:
    client = aioredis.Redis.from_url(valkey.url)
    await client.flushall()
    await client.aclose()
    data = Path(tmp_path_factory.mktemp("matrix")) / "data"
    async with hub_in_process(valkey.url, data, intake_burst=100) as running:  # 16 public posts from one address
        yield running


def _principal(role: Role) -> Principal:
    return Principal(f"matrix-{role.value}", role, UNIT if role is Role.OFFICER else None)


def _headers(hub: RunningHub, role: Role | None) -> dict[str, str]:
    if role is None:
        return {}
    who = _principal(role)
    return {"Authorization": f"Bearer {hub.token(who.user, role, who.unit)}"}  # a fresh token: logout ends it


def _url(path: str) -> str:
    return re.sub(r"{([a-z_]+)(?::[a-z]+)?}", lambda m: PARAMS[m.group(1)], path)


def _route_refuses(role: Role | None, method: str, path: str) -> bool:
    roles = route_roles(method, path)
    if roles is not None and (role is None or role not in roles):
        return True
    gate = GATES.get((method, path))
    return gate is not None and not holds(_principal(role) if role else None, gate)


def _name(role: Role | None) -> str:
    return role.value if role else "signed out"


@pytest.mark.parametrize("role", WHO, ids=_name)
async def test_each_route_refuses_exactly_the_roles_the_table_refuses(hub: RunningHub, role: Role | None) -> None:
    """401 or 403 where the table (and a route's gate) says no; anything else where it says yes."""
    wrong = []
    async with httpx.AsyncClient(base_url=hub.http, timeout=10 * S) as http:
        for method, path in sorted(ROUTES):
            headers = _headers(hub, role)
            body = b""
            if method in ("POST", "PATCH", "DELETE") and not path.startswith("/open311/"):
                body, headers["Content-Type"] = b"{}", "application/json"
            elif method == "POST":
                headers["Content-Type"] = "application/x-www-form-urlencoded"  # Open311 posts forms
            got = await http.request(method, _url(path), headers=headers, content=body)
            refused = got.status_code in (401, 403)
            if refused != _route_refuses(role, method, path):
                says = "refused" if _route_refuses(role, method, path) else "allowed"
                wrong.append(f"{method} {path}: the table says {says}, the hub answered {got.status_code} {got.text}")
    assert not wrong, f"{_name(role)}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("role", WHO, ids=_name)
async def test_each_page_opens_exactly_for_the_roles_the_table_names(hub: RunningHub, role: Role | None) -> None:
    """A page opens (200) where the table says; otherwise a stranger is sent to sign in, a role home."""
    wrong = []
    async with httpx.AsyncClient(base_url=hub.http, timeout=10 * S) as http:
        for page in sorted(PAGES):
            got = await http.get(page, headers=_headers(hub, role))
            if page == "/":
                expected = (303, home_for(role) if role else "/signin/")
            elif PAGES[page] is None or (role is not None and may_open(role, page)):
                expected = (200, None)
            elif role is None:
                expected = (303, f"/signin/?next={page.replace('/', '%2F')}")
            else:
                expected = (303, home_for(role))
            if (got.status_code, got.headers.get("location")) != expected:
                wrong.append(f"{page}: expected {expected}, the hub answered {got.status_code} {got.headers}")
    assert not wrong, f"{_name(role)}:\n" + "\n".join(wrong)


async def _answer(ws: ClientConnection, ref: str) -> dict[str, Any]:
    """The ack or error answering ``ref`` (events and snapshots on the way are passed over)."""
    while True:
        frame: dict[str, Any] = json.loads(await ws.recv())
        if frame.get("ref") == ref and frame["type"] in ("ack", "error"):
            return frame


@pytest.mark.parametrize("role", list(Role), ids=_name)
async def test_each_command_and_topic_is_refused_exactly_where_the_table_says(hub: RunningHub, role: Role) -> None:
    """An ``error`` FORBIDDEN for each command and topic the table refuses this role, none for the
    others; an officer's unit commands for another unit are refused too."""
    assert set(FRAMES) == set(COMMANDS), "give each command of the table its smallest frame here"
    who = _principal(role)
    sends: list[tuple[str, dict[str, Any]]] = []
    for tag in sorted(COMMANDS):
        units = [UNIT, OTHER_UNIT] if tag in OWN_UNIT_COMMANDS else [None]
        sends += [(tag, {**FRAMES[tag], **({"unit": unit} if unit else {})}) for unit in units]
    wrong = []
    headers = _headers(hub, role)
    async with connect(hub.url, additional_headers=headers, subprotocols=[Subprotocol("dispatch.v1.json")]) as ws:
        assert json.loads(await ws.recv())["type"] == "welcome"
        for n, (tag, fields) in enumerate(sends):
            ref = f"c{n}"
            await ws.send(json.dumps({"type": tag, "id": ref, **fields}))
            reply = await _answer(ws, ref)
            refused = reply["type"] == "error" and reply["code"] == "forbidden"
            if refused == may_command(who, tag, fields.get("unit")):
                wrong.append(f"{tag} {fields}: the table says {'allowed' if refused else 'refused'}; {reply}")
        for topic in sorted(TOPICS):
            ref = f"s-{topic}"
            await ws.send(json.dumps({"type": "subscribe", "id": ref, "topics": [{"topic": topic}]}))
            reply = await _answer(ws, ref)
            refused = reply["type"] == "error" and reply["code"] == "forbidden"
            if refused == may_read(who, topic):
                wrong.append(f"subscribe {topic}: the table says {'allowed' if refused else 'refused'}; {reply}")
    assert not wrong, f"{role.value}:\n" + "\n".join(wrong)

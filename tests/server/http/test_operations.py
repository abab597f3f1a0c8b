"""Operations: health, metrics, the protocol schema, sign-in with an HttpOnly cookie."""

from __future__ import annotations

from pathlib import Path

import httpx
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families

from clients.connection import Connection
from protocol.messages import RadioAppend
from server.access.roles import Role
from server.bus.valkey import EmbeddedValkey
from tests.helpers import OPERATOR, RunningHub, hub_in_process, wait_for


async def test_health_reports_redis_records_and_bus(hub: RunningHub) -> None:
    """/healthz is 200 with each check named (for an operator) when the hub is ready."""
    async with httpx.AsyncClient() as http:
        r = await http.get(hub.http + "/healthz", headers=OPERATOR)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["checks"]["redis"] == "ok" and body["checks"]["records"] == "ok"
    assert body["checks"]["bus"]["reader"] == "ok"


async def test_anonymous_health_is_the_status_alone_and_metrics_are_for_operators(
    redis: aioredis.Redis, valkey: EmbeddedValkey, tmp_path: Path
) -> None:
    """Anyone learns up or down; what runs inside (and /metrics: panics, commands) needs the operator
    token, an allowed address, or an admin or supervisor signed in."""
    async with hub_in_process(valkey.url, tmp_path / "a") as hub, httpx.AsyncClient(base_url=hub.http) as http:
        anonymous = await http.get("/healthz")
        assert anonymous.status_code == 200 and anonymous.json() == {"status": "ok"}
        assert (await http.get("/metrics")).status_code == 403
        wrong = {"Authorization": "Bearer not-the-operator-token"}
        assert (await http.get("/metrics", headers=wrong)).status_code == 403
        officer = {"Authorization": f"Bearer {hub.token('u7', Role.OFFICER, 'U7')}"}
        assert (await http.get("/metrics", headers=officer)).status_code == 403
        assert "checks" not in (await http.get("/healthz", headers=officer)).json()
        for allowed in (OPERATOR, {"Authorization": f"Bearer {hub.token('sue', Role.SUPERVISOR)}"}):
            assert (await http.get("/metrics", headers=allowed)).text.startswith("# HELP")
            assert "checks" in (await http.get("/healthz", headers=allowed)).json()
    async with (
        hub_in_process(valkey.url, tmp_path / "a", operations_allow_ips="127.0.0.0/8") as local,
        httpx.AsyncClient(base_url=local.http) as http,
    ):
        assert (await http.get("/metrics")).status_code == 200
        assert "checks" in (await http.get("/healthz")).json()


async def test_metrics_count_connections_and_events(hub: RunningHub) -> None:
    """/metrics speaks Prometheus and counts connections and events in and out per topic."""
    async with (
        Connection(hub.url, token=hub.token("board"), topics=["radio"]) as board,
        Connection(hub.url, token=hub.token("ana")) as desk,
    ):
        for i in range(3):
            await desk.command(RadioAppend(id=desk.next_id(), channel="main", text=f"m{i}"))
        await wait_for(lambda: board.positions["radio"].offset is not None and board.pending_frames() >= 4)
        async with httpx.AsyncClient() as http:
            text = (await http.get(hub.http + "/metrics", headers=OPERATOR)).text
    samples = {
        (s.name, s.labels.get("topic", "")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("dispatch_connections", "")] == 2
    assert samples[("dispatch_events_in_total", "radio")] == 3
    assert samples[("dispatch_events_out_total", "radio")] == 3
    assert ("dispatch_slow_client_closes_total", "") in samples
    assert ("dispatch_bus_lag_seconds", "") in samples
    assert ("dispatch_queue_depth_max", "") in samples


async def test_schema_is_served(hub: RunningHub) -> None:
    """The JSON Schema of every frame is served by the hub."""
    async with httpx.AsyncClient() as http:
        schema = (await http.get(hub.http + "/protocol/schema.json")).json()
    assert {"ClientFrame", "ServerFrame", "EventFrame", "IncidentCreate"} <= set(schema["$defs"])


async def test_login_sets_httponly_cookie_and_audits(hub: RunningHub) -> None:
    """Sign-in checks the argon2 hash, sets an HttpOnly cookie, and writes the audit trail."""
    await hub.ctx.store.add_user("u7", Role.OFFICER, "hunter2!", unit="U7")
    async with httpx.AsyncClient() as http:
        bad = await http.post(hub.http + "/api/login", json={"user": "u7", "password": "nope"})
        assert bad.status_code == 401
        junk = await http.post(
            hub.http + "/api/login", content=b"not json", headers={"Content-Type": "application/json"}
        )
        assert junk.status_code == 400
        good = await http.post(hub.http + "/api/login", json={"user": "u7", "password": "hunter2!"})
    assert good.status_code == 200 and good.json()["unit"] == "U7"
    cookie = good.headers["set-cookie"]
    assert "dispatch_token=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    actions = [a[2] for a in await hub.ctx.store.audit_trail()]
    assert actions[:2] == ["login", "login.failed"]

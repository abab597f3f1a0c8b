"""Every HTTP request: the Host it names, where a signed-in change comes from, and caching."""

from __future__ import annotations

import asyncio
import socket

import httpx

from server.access.roles import Role
from server.http.guards import allowed_hosts, same_origin
from tests.helpers import RunningHub


def _cookie(hub: RunningHub, role: Role = Role.DISPATCHER) -> dict[str, str]:
    return {"Cookie": f"dispatch_token={hub.token('ana', role)}"}


async def test_a_page_on_another_port_cannot_act_with_the_cookie(hub: RunningHub) -> None:
    """A dispatcher's browser on a page of another port of this host: its cookie goes along, but the
    hub refuses the change (403). The same change from the hub's own page goes through."""
    other = f"http://127.0.0.1:{hub.settings.port + 1}"
    agency = {"name": "Rogue Agency", "kind": "other"}
    async with httpx.AsyncClient(base_url=hub.http) as http:
        forged = await http.post("/api/agencies", json=agency, headers={**_cookie(hub), "Origin": other})
        assert forged.status_code == 403 and other in forged.json()["error"]
        sneaky = await http.post("/api/agencies", json=agency, headers={**_cookie(hub), "Sec-Fetch-Site": "same-site"})
        assert sneaky.status_code == 403
        text = await http.post(
            "/api/agencies",
            content=b'{"name": "Rogue Agency", "kind": "other"}',
            headers={**_cookie(hub), "Origin": hub.http, "Content-Type": "text/plain"},
        )
        assert text.status_code == 415  # a form a page could post without asking is not JSON
        own = await http.post("/api/agencies", json=agency, headers={**_cookie(hub), "Origin": hub.http})
        assert own.status_code == 200
        listed = (await http.get("/api/agencies", headers=_cookie(hub))).json()["agencies"]
    assert [a["name"] for a in listed] == ["Rogue Agency"]  # once, from its own page


async def test_a_forged_311_request_with_a_staff_cookie_is_refused(hub: RunningHub) -> None:
    """The Open311 form post of a 311 user's browser from another site's page is refused."""
    form = {"service_code": "NOISE", "address_string": "10230 Jasper Ave NW", "attribute[SOURCE]": "music"}
    headers = {**_cookie(hub, Role.INTAKE_311), "Origin": "http://127.0.0.1:1"}
    async with httpx.AsyncClient(base_url=hub.http) as http:
        forged = await http.post("/open311/v2/requests.json", data=form, headers=headers)
    assert forged.status_code == 403


async def test_bearer_tokens_and_non_browsers_are_not_held_back(hub: RunningHub) -> None:
    """Clients that send a Bearer token (or no browser headers at all) carry nothing to forge."""
    agency = {"name": "Bearer Agency", "kind": "police"}
    bearer = {"Authorization": f"Bearer {hub.token('ana')}", "Origin": "http://elsewhere.example"}
    async with httpx.AsyncClient(base_url=hub.http) as http:
        assert (await http.post("/api/agencies", json=agency, headers=bearer)).status_code == 200
        assert (await http.post("/api/agencies", json=agency, headers=_cookie(hub))).status_code == 200


async def test_an_unknown_host_is_refused_on_http_and_on_the_socket(hub: RunningHub) -> None:
    """A DNS-rebinding page (Host: its own name) gets 400, over HTTP and for the WebSocket."""
    async with httpx.AsyncClient(base_url=hub.http) as http:
        assert (await http.get("/healthz", headers={"Host": "rebind.evil.example"})).status_code == 400
        assert (await http.get("/healthz", headers={"Host": f"localhost:{hub.settings.port}"})).status_code == 200
        discovery = (await http.get("/open311/v2/discovery.json")).json()
    assert discovery["endpoints"][0]["url"].startswith(f"http://127.0.0.1:{hub.settings.port}/")
    reader, writer = await asyncio.open_connection("127.0.0.1", hub.settings.port)
    writer.write(
        b"GET /ws HTTP/1.1\r\nHost: rebind.evil.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        + f"Authorization: Bearer {hub.token()}\r\n\r\n".encode()
    )
    status = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    assert status.startswith(b"HTTP/1.1 400 ")


async def test_data_answers_are_never_cached(hub: RunningHub) -> None:
    """Answers with personal or operational data say Cache-Control: no-store."""
    async with httpx.AsyncClient(base_url=hub.http, headers={"Authorization": f"Bearer {hub.token()}"}) as http:
        for path in ("/api/board", "/api/me", "/api/agencies", "/open311/v2/requests.json", "/healthz"):
            r = await http.get(path)
            assert r.status_code == 200 and r.headers["cache-control"] == "no-store", path


def test_the_default_hosts_follow_the_listening_address() -> None:
    assert allowed_hosts("", "127.0.0.1") == ["localhost", "127.0.0.1", "::1"]
    everywhere = allowed_hosts("", "0.0.0.0")
    assert socket.gethostname().lower() in everywhere and "127.0.0.1" in everywhere
    assert allowed_hosts("dispatch.example.org, *.example.net", "0.0.0.0") == [
        "dispatch.example.org",
        "*.example.net",
    ]
    assert same_origin("https://hub.example:8443", "hub.example:8443", frozenset())
    assert not same_origin("http://hub.example:9000", "hub.example:8443", frozenset())
    assert same_origin("https://app.example", "hub.example", frozenset({"https://app.example"}))

"""The pages and /api/me: who may open which page, what a client is told, and the headers pages carry."""

from __future__ import annotations

import httpx

from server.access.roles import Role
from tests.helpers import RunningHub


async def test_pages_send_strangers_to_sign_in_and_roles_to_their_own_page(hub: RunningHub) -> None:
    """No cookie: sign in first (and come back); an officer is sent from the board to its app."""
    async with httpx.AsyncClient(base_url=hub.http) as http:
        r = await http.get("/board/")
        assert r.status_code == 303 and r.headers["location"] == "/signin/?next=%2Fboard%2F"
        r = await http.get("/")
        assert r.headers["location"] == "/signin/"
        http.cookies.set("dispatch_token", hub.token("u7", Role.OFFICER, "U7"))
        r = await http.get("/board/")
        assert r.status_code == 303 and r.headers["location"] == "/officer/"
        r = await http.get("/officer/")
        assert r.status_code == 200 and "officer/main.js" in r.text
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        r = await http.get("/signin/")
        assert r.status_code == 200 and 'autocomplete="current-password"' in r.text


async def test_me_tells_a_client_who_it_is_and_what_to_draw(hub: RunningHub) -> None:
    """/api/me: the user, role and unit, tiles, priorities, statuses with their next steps, the service area."""
    async with httpx.AsyncClient(base_url=hub.http) as http:
        assert (await http.get("/api/me")).status_code == 401
        r = await http.get("/api/me", headers={"Authorization": f"Bearer {hub.token('u7', Role.OFFICER, 'U7')}"})
        me = r.json()
    assert (me["user"], me["role"], me["unit"]) == ("u7", "officer", "U7")
    assert me["priorities"]["1"]["tone"] == "hi-lo"
    assert "enroute" in me["unit_statuses"]["dispatched"]["next"]
    assert me["call_types"]["NOISE"]["priority"] == 4  # as in policy.default.toml
    roles = {f["properties"].get("role") for f in me["area"]["features"]}
    assert "service_area" in roles
    assert me["tiles"]["url"].startswith("https://")


async def test_leaflet_is_served_from_the_npm_install(hub: RunningHub) -> None:
    """The map library comes from static/vendor/node_modules (npm ci), not from a copy in the repo."""
    async with httpx.AsyncClient(base_url=hub.http) as http:
        r = await http.get("/vendor/leaflet/leaflet-src.esm.js")
    assert r.status_code == 200 and "export" in r.text
    assert "javascript" in r.headers["content-type"]


async def test_static_files_carry_the_pages_security_policy(hub: RunningHub) -> None:
    """A page fetched by its file path gets the same CSP: no way round it to frame the board."""
    async with httpx.AsyncClient(base_url=hub.http) as http:
        r = await http.get("/static/board/index.html")
    assert r.status_code == 200
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]

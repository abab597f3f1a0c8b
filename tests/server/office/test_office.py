"""Office records: directory, the emailed information-request inbox, investigations."""

from __future__ import annotations

import httpx

from clients.connection import Connection
from protocol.messages import IncidentCreate
from protocol.state import Location
from server.access.roles import Role
from server.office.info_requests import route_request
from tests.helpers import RunningHub


def test_requests_are_routed_by_the_most_keyword_hits() -> None:
    """The business area whose keywords the email mentions most gets it; none matching: unrouted."""
    areas = [("Parks", ["park", "trail"]), ("Transit", ["bus", "lrt", "transit"])]
    assert route_request(areas, "Bus shelter", "The LRT station and the bus loop near the park") == "Transit"
    assert route_request(areas, "Trail closed?", "Is the trail in the park closed") == "Parks"
    assert route_request(areas, "Hello", "Question about taxes") is None


async def _client(hub: RunningHub, role: Role = Role.DISPATCHER) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=hub.http, headers={"Authorization": f"Bearer {hub.token('ana', role)}"})


async def test_directory_and_inbox(hub: RunningHub) -> None:
    """Agencies and business areas are kept; an emailed request is routed, then re-routed and closed."""
    async with await _client(hub) as http:
        r = await http.post("/api/agencies", json={"name": "EPS Dispatch", "kind": "police", "phone": "780-423-4567"})
        assert r.status_code == 200 and r.json()["agencies"][0]["kind"] == "police"
        bad = await http.post("/api/agencies", json={"name": "X", "kind": "wizards"})
        assert bad.status_code == 422 and "$.kind" in bad.json()["error"]
        await http.post("/api/business-areas", json={"name": "Parks", "keywords": ["park", "trail"]})
        await http.post("/api/business-areas", json={"name": "Transit", "keywords": ["bus", "lrt"]})
        got = await http.post("/api/info-requests", json={
            "sender": "resident@example.org", "subject": "Camera footage request",
            "body": "Footage from the LRT platform, Tuesday evening"})  # fmt: skip
        assert got.status_code == 201
        item = got.json()
        assert item["status"] == "routed" and item["business_area"] == "Transit"
        moved = await http.patch(f"/api/info-requests/{item['id']}", json={"business_area": "Parks"})
        assert moved.json()["business_area"] == "Parks" and moved.json()["updated_by"] == "ana"
        await http.patch(f"/api/info-requests/{item['id']}", json={"status": "closed"})
        inbox = (await http.get("/api/info-requests", params={"status": "closed"})).json()["info_requests"]
        assert [i["id"] for i in inbox] == [item["id"]]
    async with await _client(hub, Role.OFFICER) as http:
        assert (await http.get("/api/info-requests")).status_code == 403


async def test_investigation_from_an_incident(hub: RunningHub) -> None:
    """An investigation opened from an incident is assigned, noted and closed, with an audit trail."""
    async with Connection(hub.url, token=hub.token("ana")) as desk:
        ack = await desk.command(IncidentCreate(id=desk.next_id(), call_type="VANDALISM",
                                                location=Location("Churchill Sq", 53.5444, -113.4897)))  # fmt: skip
    incident = ack.result["incident"]  # type: ignore[index]
    async with await _client(hub) as http:
        missing = await http.post("/api/investigations", json={"incident": "I000000-99999", "title": "x"})
        assert missing.status_code == 404
        opened = (
            await http.post("/api/investigations", json={"incident": incident, "title": "Graffiti series"})
        ).json()
        assert opened["status"] == "open" and opened["incident"] == incident
        iid = opened["id"]
        await http.patch(f"/api/investigations/{iid}", json={"assigned_to": "PO Singh", "note": "canvass shops"})
        closed = (
            await http.patch(f"/api/investigations/{iid}", json={"status": "closed", "outcome": "2 tickets"})
        ).json()
        assert closed["status"] == "closed" and closed["assigned_to"] == "PO Singh" and closed["closed_at"]
        assert [n["text"] for n in closed["notes"]] == ["canvass shops"]
        again = await http.patch(f"/api/investigations/{iid}", json={"note": "late"})
        assert again.status_code == 409
        listed = (await http.get("/api/investigations", params={"incident": incident})).json()["investigations"]
        assert [i["id"] for i in listed] == [iid]
    actions = [a[2] for a in await hub.ctx.store.audit_trail()]
    assert actions.count("investigation.update") == 2 and "investigation.open" in actions

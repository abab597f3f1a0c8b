"""Every page passes axe-core (from npm, as the Makefile installs it) with no serious or critical
violation, in Chromium, signed in as the role the page is for and with something on it to read."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from protocol.messages import IncidentAssign, IncidentCreate, UnitPanic, UnitPosition, UnitRoster
from protocol.state import Location
from server.access.roles import Role
from server.access.tokens import COOKIE_NAME
from tests.helpers import ROOT, HubProcess, test_token
from tests.static.conftest import DESKTOP, PHONE, browser_hub, desk

AXE = ROOT / "static" / "vendor" / "node_modules" / "axe-core" / "axe.min.js"

# page, who is signed in (None: nobody), the element that shows the page has drawn
PAGES: list[tuple[str, tuple[str, Role, str | None] | None, str]] = [
    ("/signin/", None, "#signin-button"),
    ("/complaint/", None, "main"),
    ("/board/", ("ana", Role.DISPATCHER, None), "#connection[data-state=live]"),
    ("/officer/", ("u61", Role.OFFICER, "PO61"), "#connection[data-state=live]"),
    ("/referral/", ("rio", Role.INTAKE_311, None), "main"),
    ("/intake/", ("sam", Role.SUPERVISOR, None), "main"),
    ("/account/", ("ana", Role.DISPATCHER, None), "main"),
    ("/admin/", ("root", Role.ADMIN, None), "main"),
    ("/desk/investigations/", ("ana", Role.DISPATCHER, None), "main"),
    ("/desk/info-requests/", ("ana", Role.DISPATCHER, None), "main"),
    ("/desk/directory/", ("ana", Role.DISPATCHER, None), "main"),
    ("/desk/radio/", ("ana", Role.DISPATCHER, None), "main"),
    ("/desk/reports/", ("ana", Role.DISPATCHER, None), "main"),
    ("/desk/units/", ("ana", Role.DISPATCHER, None), "main"),
    ("/desk/resources/", ("ana", Role.DISPATCHER, None), "main"),
    ("/cases/", ("cora", Role.CASE_COORDINATOR, None), "#connection[data-state=live]"),
    ("/cases/letters/", ("lena", Role.TEAM_LEAD, None), "#connection[data-state=live]"),
    ("/cases/reports/", ("lena", Role.TEAM_LEAD, None), "body[data-ready]"),
    ("/access/", ("ari", Role.ACCESS_STAFF, None), "body[data-ready]"),
]


@pytest.fixture(scope="module")
def shift(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """One hub for every page, with a unit on a call, another call waiting and a panic up."""
    hub = browser_hub(tmp_path_factory.mktemp("a11y") / "hub")
    desk(
        hub.url,
        lambda i: UnitRoster(id=i, unit="PO61", district="Downtown"),
        lambda i: UnitPosition(id=i, unit="PO61", lat=53.5444, lon=-113.4887),
        lambda i: UnitRoster(id=i, unit="PO62", district="Downtown"),
        lambda i: IncidentCreate(id=i, call_type="NOISE", location=Location("Churchill Square", 53.5439, -113.4907)),
        lambda i: IncidentCreate(id=i, call_type="PARKING", location=Location("12345 Nowhere Rd")),
    )
    desk(hub.url, lambda i: IncidentAssign(id=i, incident=_first_incident(hub), unit="PO61"))
    desk(hub.url, lambda i: UnitPanic(id=i, unit="PO62"))
    yield hub
    hub.stop()


def _first_incident(hub: HubProcess) -> str:
    import httpx

    board = httpx.get(f"{hub.http}/api/board", headers={"Authorization": f"Bearer {test_token()}"}).json()
    return sorted(i["id"] for i in board["incidents"])[0]


def _letter_for_review(hub: HubProcess) -> int:
    """A letter drafted and submitted by a coordinator: what the team lead reviews."""
    import httpx

    from tests.static.test_case_workspace import file_complaint

    number = file_complaint(hub)
    cora = {"Authorization": f"Bearer {test_token('cora', Role.CASE_COORDINATOR)}"}
    with httpx.Client(base_url=hub.http, headers=cora) as http:
        made = http.post(f"/api/cases/{number}/letters", json={"kind": "acknowledgement"}).json()["letter"]
        http.post(f"/api/cases/letters/{made['id']}", json={"version": made["version"], "move": "submit"})
    return int(made["id"])


def _violations(page: Page) -> list[dict[str, Any]]:
    page.add_script_tag(content=AXE.read_text())
    found: list[dict[str, Any]] = page.evaluate(
        """async () => {
          const r = await axe.run(document, { resultTypes: ["violations"] });
          return r.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
            .map((v) => ({
              id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
            }));
        }"""
    )
    return found


@pytest.mark.parametrize(("path", "who", "ready"), PAGES, ids=[p for p, _, _ in PAGES])
def test_the_page_has_no_serious_accessibility_violation(
    browser: Browser, shift: HubProcess, path: str, who: tuple[str, Role, str | None] | None, ready: str
) -> None:
    # axe is put in the page as a script of the test's own: the pages' CSP rightly forbids that
    context = browser.new_context(viewport=PHONE if path == "/officer/" else DESKTOP, bypass_csp=True)
    try:
        if who is not None:
            token = test_token(*who)
            context.add_cookies([{"name": COOKIE_NAME, "value": token, "url": shift.http}])
        page = context.new_page()
        if path == "/cases/":
            from tests.static.test_case_workspace import file_complaint

            file_complaint(shift)  # a file open, with its needs, clocks, checklist and allegation editor
        if path == "/cases/letters/":
            path += f"#{_letter_for_review(shift)}"  # a letter open for the team lead: its actions and page
        page.goto(f"{shift.http}{path}")
        expect(page.locator(ready).first).to_be_attached()
        if path == "/board/":
            page.locator("#queue tr").first.click()  # the open call, its actions and recommendation
            expect(page.locator("#detail .toolbar")).to_be_visible()
            expect(page.locator("#alarms .alarm")).to_have_count(1)
        if path == "/cases/":
            page.locator("#rows tr[data-key]").first.click()
            expect(page.locator("#needs")).to_be_visible()
        page.wait_for_timeout(300)
        found = _violations(page)
        assert found == [], "\n".join(f"{v['impact']} {v['id']}: {v['help']} at {v['nodes']}" for v in found)
    finally:
        context.close()

"""The desk pages in Chromium at 1280x720, driven from the keyboard: investigations, information requests,
the directory, radio-log search, the response-time report, the unit roster and the resource inventory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, ViewportSize, expect

from protocol.messages import IncidentAssign, IncidentCreate, RadioAppend, UnitRoster
from protocol.state import Location
from server.access.roles import Role
from tests.helpers import ROOT, HubProcess, S, poll_until, test_token
from tests.static.conftest import Pages, browser_hub, desk, screenshot, sign_in

DESK_SIZE: ViewportSize = {"width": 1280, "height": 720}
CHURCHILL = Location("Churchill Square", 53.5444, -113.4897)
DESK_PAGES = ["investigations", "info-requests", "directory", "radio", "reports", "units", "resources"]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """One hub for the module (each test uses names of its own): starting one per test would double the time."""
    running = browser_hub(tmp_path_factory.mktemp("desk") / "hub")
    yield running
    running.stop()


def api(hub: HubProcess) -> httpx.Client:
    """The HTTP API as another dispatcher (a Bearer token: no sign-in cookie, no Origin rule)."""
    return httpx.Client(base_url=hub.http, headers={"Authorization": f"Bearer {test_token('desk-2')}"}, timeout=10 * S)


def desk_page(pages: Pages, hub: HubProcess, name: str) -> Page:
    """A 1280x720 page signed in as the dispatcher, on /desk/<name>/ with its script done loading."""
    page = pages._page(viewport=DESK_SIZE)
    sign_in(page, hub.http, "ana", "/board/")
    page.goto(f"{hub.http}/desk/{name}/")
    expect(page.locator("#whoami")).to_have_text("ana (dispatcher)")  # the page's script has run
    return page


def new_call(hub: HubProcess, call_type: str = "NOISE", priority: int | None = None, **extra: Any) -> str:
    (ack,) = desk(
        hub.url, lambda i: IncidentCreate(id=i, call_type=call_type, priority=priority, location=CHURCHILL, **extra)
    )
    assert ack.result is not None
    return str(ack.result["incident"])


def test_every_desk_page_is_served_to_the_desk_only(hub: HubProcess) -> None:
    """Each desk page answers the desk roles with its page (and its CSP); others are sent home or to sign in."""
    anonymous = httpx.Client(base_url=hub.http, follow_redirects=False)
    for name in DESK_PAGES:
        path = f"/desk/{name}/"
        with httpx.Client(base_url=hub.http, cookies={"dispatch_token": test_token("ana")}) as signed_in:
            page = signed_in.get(path)
        assert page.status_code == 200 and f'src="/static/desk/{name}/' in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert anonymous.get(path).headers["location"] == f"/signin/?next={path.replace('/', '%2F')}"
        with httpx.Client(
            base_url=hub.http, cookies={"dispatch_token": test_token("u61", unit="PO61", role=Role.OFFICER)}
        ) as officer:
            assert officer.get(path).headers["location"] == "/officer/"
    assert anonymous.get("/vendor/chart/chart.umd.min.js").status_code == 200
    anonymous.close()


def test_an_investigation_is_opened_from_an_incident_assigned_noted_and_closed(hub: HubProcess, pages: Pages) -> None:
    """Alt+N, the incident, a title, Enter opens it; then assign, note and close it, each with Enter; the
    timeline holds the note and the closing, the incident's own timeline is beside it, and the list says Closed."""
    incident = new_call(hub, "VANDALISM")
    page = desk_page(pages, hub, "investigations")
    page.keyboard.press("Alt+n")
    expect(page.locator("#o-incident")).to_be_focused()
    page.keyboard.type(incident)
    page.keyboard.press("Tab")
    page.keyboard.type("Graffiti series, Churchill Square")
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_contain_text(f"opened from {incident}")
    expect(page.locator("#detail-title")).to_contain_text("Graffiti series")
    expect(page.locator("#incident-record")).to_contain_text("VANDALISM")

    page.locator("#a-who").fill("PO Singh")
    page.locator("#a-who").press("Enter")
    expect(page.locator("#detail-assigned")).to_have_text("PO Singh")
    page.locator("#n-text").fill("Canvassed the shops on 102 Ave")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # Add note
    expect(page.locator("#timeline")).to_contain_text("Canvassed the shops on 102 Ave")
    page.locator("#c-outcome").fill("Two tickets issued")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # Close investigation
    expect(page.locator("#detail-status")).to_have_text("Closed")
    expect(page.locator("#timeline")).to_contain_text("Closed: Two tickets issued")
    expect(page.locator("#reopen-form")).to_be_visible()
    row = page.locator("#rows tr", has_text="Graffiti series")
    expect(row).to_contain_text("Closed")
    expect(row).to_contain_text("PO Singh")
    screenshot(page, "desk-investigations")

    # an incident that does not exist is refused in words, on the field
    page.keyboard.press("Alt+n")
    page.keyboard.type("I000000-99999")
    page.keyboard.press("Tab")
    page.keyboard.type("Nothing")
    page.keyboard.press("Enter")
    expect(page.locator("#problem")).to_contain_text("Not opened: no incident I000000-99999")
    expect(page.locator("#o-incident")).to_have_attribute("aria-invalid", "true")


def test_an_emailed_request_is_routed_then_routed_again_and_answered(hub: HubProcess, pages: Pages) -> None:
    """Logged from the keyboard, the request goes to the business area its words match; the dispatcher
    routes it to another one, answers it, and finds it under Answered."""
    with api(hub) as http:
        http.post(
            "/api/business-areas", json={"name": "Transit Security", "keywords": ["lrt", "bus"]}
        ).raise_for_status()
        http.post("/api/business-areas", json={"name": "Parks Operations", "keywords": ["park", "trail"]})
    page = desk_page(pages, hub, "info-requests")
    page.keyboard.press("Alt+n")
    expect(page.locator("#r-sender")).to_be_focused()
    page.keyboard.type("resident@example.org")
    page.keyboard.press("Tab")
    page.keyboard.type("Camera footage from the LRT platform")
    page.keyboard.press("Tab")
    page.keyboard.type("Tuesday evening, near the bus loop")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # Log and route
    expect(page.locator("#status")).to_contain_text("routed to Transit Security")
    row = page.locator("#rows tr", has_text="Camera footage from the LRT platform")
    expect(row).to_contain_text("Transit Security")

    row.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#detail")).to_be_focused()
    page.locator("#d-area").select_option("Parks Operations")
    page.locator("#d-area").press("Enter")
    expect(page.locator("#detail-area")).to_have_text("Parks Operations")
    expect(page.locator("#status")).to_contain_text("routed to Parks Operations")
    page.locator("#d-notes").fill("Footage sent to the requester by Parks Operations")
    page.get_by_role("button", name="Mark answered").click()
    expect(page.locator("#detail-status")).to_have_text("Answered")
    screenshot(page, "desk-info-requests")
    page.locator("#f-status").select_option("answered")
    page.locator("#f-status").press("Enter")
    expect(page.locator("#rows tr")).to_have_count(1)
    expect(page.locator("#rows tr").first).to_contain_text("Parks Operations")


def test_a_business_area_and_an_agency_are_added_and_edited(hub: HubProcess, pages: Pages) -> None:
    """A business area with keywords and an agency are added from the keyboard, then the agency is edited;
    a nameless one is refused in words, and the new area routes the next emailed request."""
    page = desk_page(pages, hub, "directory")
    page.keyboard.press("Alt+n")
    expect(page.locator("#a-name")).to_be_focused()
    page.keyboard.type("EPS Dispatch")
    page.keyboard.press("Tab")
    page.keyboard.type("Police")  # selects by typing
    page.keyboard.press("Tab")
    page.keyboard.type("780-423-4567")
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_have_text("Agency EPS Dispatch saved.")
    agency = page.locator("#agency-rows tr[data-key='EPS Dispatch']")
    expect(agency).to_contain_text("780-423-4567")
    agency.get_by_role("button", name="Edit EPS Dispatch").press("Enter")
    expect(page.locator("#a-kind")).to_be_focused()
    expect(page.locator("#a-name")).to_have_attribute("readonly", "")
    page.locator("#a-phone").fill("780-423-0000")
    page.locator("#a-phone").press("Enter")
    expect(page.locator("#status")).to_have_text("Agency EPS Dispatch changed.")
    expect(agency).to_contain_text("780-423-0000")

    page.locator("#b-name").fill("Graffiti Unit")
    page.locator("#b-email").fill("graffiti@example.org")
    page.locator("#b-keywords").fill("graffiti, tag , mural")
    page.locator("#b-keywords").press("Enter")
    area = page.locator("#area-rows tr[data-key='Graffiti Unit']")
    expect(area).to_contain_text("graffiti, tag, mural")
    screenshot(page, "desk-directory")

    page.locator("#b-keywords").fill("nothing")
    page.locator("#b-keywords").press("Enter")
    expect(page.locator("#problem")).to_have_text("Not saved: the business area needs a name.")
    expect(page.locator("#b-name")).to_have_attribute("aria-invalid", "true")
    with api(hub) as http:
        routed = http.post("/api/info-requests", json={"sender": "a@example.org", "subject": "Mural tagged again"})
    assert routed.json()["business_area"] == "Graffiti Unit"


def test_the_radio_log_is_searched_by_words_unit_and_time(hub: HubProcess, pages: Pages) -> None:
    """Entries logged at another console are found by their words and by their unit; a range in the
    future finds none, and a range that ends before it starts is refused in words."""
    desk(
        hub.url,
        lambda i: RadioAppend(id=i, channel="main", text="PO71 on scene at the Muttart Conservatory", unit="PO71"),
        lambda i: RadioAppend(id=i, channel="main", text="PO72 clear, back in service downtown", unit="PO72"),
    )
    with api(hub) as http:
        poll_until(
            lambda: len(http.get("/api/radio", params={"q": "Muttart"}).json()["entries"]) == 1, 10 * S, "archived"
        )
    page = desk_page(pages, hub, "radio")
    page.keyboard.press("Alt+n")
    expect(page.locator("#q")).to_be_focused()
    page.keyboard.type("muttart conservatory")
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_have_text("1 entry found.")
    expect(page.locator("#rows tr")).to_have_count(1)
    expect(page.locator("#rows tr").first).to_contain_text("PO71 on scene at the Muttart Conservatory")

    page.locator("#q").fill("")
    page.locator("#unit").fill("PO72")
    page.locator("#unit").press("Enter")
    expect(page.locator("#rows tr")).to_have_count(1)
    expect(page.locator("#rows tr").first).to_contain_text("back in service downtown")
    expect(page.locator("#rows tr td").nth(2)).to_have_text("PO72")
    screenshot(page, "desk-radio")
    assert "unit=PO72" in page.url  # the search is in the address: a reload shows it again

    page.locator("#since").fill("2099-01-01T00:00")
    page.locator("#since").press("Enter")
    expect(page.locator("#status")).to_have_text("No entries match this search.")
    page.locator("#until").fill("2098-01-01T00:00")
    page.locator("#until").press("Enter")
    expect(page.locator("#problem")).to_have_text("Not searched: From must be before To.")


def test_the_report_shows_the_calls_against_their_targets_in_a_table_and_charts(hub: HubProcess, pages: Pages) -> None:
    """A P1 call dispatched at once and a P4 call never dispatched: the table says so per priority against
    each target, and the bar chart of the 90th percentile against the target line is drawn."""
    desk(hub.url, lambda i: UnitRoster(id=i, unit="PO81", district="Downtown"))
    urgent = new_call(hub, "DISORDER", priority=1)
    new_call(hub, "PARKING", priority=4)
    desk(hub.url, lambda i: IncidentAssign(id=i, incident=urgent, unit="PO81", primary=True))
    with api(hub) as http:

        def archived() -> bool:
            by_priority = http.get("/api/reports/response-times").json()["by_priority"]
            return by_priority.get("P1", {}).get("dispatched", 0) >= 1 and "P4" in by_priority

        poll_until(archived, 10 * S, "the calls are in the records store")
    page = desk_page(pages, hub, "reports")
    p1 = page.locator("#priority-rows tr[data-priority='P1']")
    expect(p1).to_contain_text("P1 Immediate")
    expect(p1.locator("td.target")).to_have_text("60.0 s")
    expect(p1.locator("td.verdict")).to_have_text("\u2713 Met")
    p4 = page.locator("#priority-rows tr[data-priority='P4']")
    expect(p4.locator("td.verdict")).to_have_text("\u2717 Missed (none dispatched)")
    expect(p4.locator("td.within")).to_have_text("0.0%")
    expect(page.locator("#status")).to_contain_text("calls from")
    expect(page.locator("#p90-chart")).to_be_visible()
    drawn = page.evaluate(
        "() => { const c = Chart.getChart('p90-chart'); return c && c.data.datasets.map((d) => [d.type, d.data]); }"
    )
    assert drawn[0][0] == "bar" and drawn[0][1][0] is not None  # P1's 90th percentile
    assert drawn[1][0] == "line" and drawn[1][1][0] == 60  # and P1's target
    assert page.evaluate("() => Chart.getChart('share-chart').data.datasets[0].data[3]") == 0  # P4: 0% within
    screenshot(page, "desk-reports")

    # the range picker: a range before the calls shows none; a reversed one is refused in words
    page.keyboard.press("Alt+n")
    expect(page.locator("#since")).to_be_focused()
    page.locator("#since").fill("2020-01-01")
    page.locator("#until").fill("2020-01-31")
    page.locator("#until").press("Enter")
    expect(page.locator("#status")).to_have_text("No calls from 2020-01-01 to 2020-01-31.")
    page.locator("#since").fill("2020-02-01")
    page.locator("#until").press("Enter")
    expect(page.locator("#problem")).to_contain_text("the first day must not be after the last")


def test_a_unit_added_to_the_roster_appears_on_the_board(hub: HubProcess, pages: Pages) -> None:
    """A unit added from the keyboard (district, shift, capabilities, officers) shows on an open board at
    once; editing it from the roster list changes it in place."""
    board = pages._page(viewport=DESK_SIZE)
    sign_in(board, hub.http, "ana", "/board/")
    page = desk_page(pages, hub, "units")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    page.keyboard.press("Alt+n")
    expect(page.locator("#u-unit")).to_be_focused()
    page.keyboard.type("PO91")
    page.keyboard.press("Tab")
    page.keyboard.type("Peace 91")
    page.keyboard.press("Tab")
    page.keyboard.type("Downtown")  # selects the district by typing
    page.keyboard.press("Tab")
    page.keyboard.type("06:30-17:00")
    page.locator("#cap-first_aid").check()
    page.locator("#u-other").fill("bike")
    page.locator("#u-officers").fill("PO Singh, PO Tran")
    page.locator("#u-officers").press("Enter")
    expect(page.locator("#status")).to_have_text("Unit PO91 added to the roster.")
    row = page.locator("#rows tr[data-unit='PO91']")
    expect(row).to_contain_text("Peace 91")
    expect(row).to_contain_text("Downtown")
    expect(row).to_contain_text("bike, first_aid")
    expect(row).to_contain_text("PO Singh, PO Tran")
    on_board = board.locator("#units tr[data-unit='PO91']")
    expect(on_board).to_contain_text("Available")
    expect(on_board).to_contain_text("Downtown")

    page.keyboard.press("Alt+l")
    expect(page.locator("#rows tr[data-unit]").first).to_be_focused()
    page.locator("#rows tr[data-unit='PO91']").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#form-title")).to_have_text("Edit unit PO91")
    expect(page.locator("#u-unit")).to_have_attribute("readonly", "")
    expect(page.locator("#cap-first_aid")).to_be_checked()
    page.locator("#u-shift").fill("12:30-23:00")
    page.locator("#u-shift").press("Enter")
    expect(page.locator("#status")).to_have_text("Unit PO91 changed.")
    expect(row).to_contain_text("12:30-23:00")
    expect(row).to_contain_text("bike, first_aid")  # the whole record kept, not only the changed field
    screenshot(page, "desk-units")

    page.locator("#u-unit").fill("not a unit!")
    page.locator("#u-unit").press("Enter")
    expect(page.locator("#problem")).to_contain_text("Not saved: the unit needs a name")


def test_a_resource_is_added_given_to_a_unit_and_taken_back(hub: HubProcess, pages: Pages) -> None:
    """A boat added to the inventory is given to a unit (which then lends its capability, as the roster shows)
    and taken back; giving a resource out of service is refused in words."""
    desk(hub.url, lambda i: UnitRoster(id=i, unit="PO95", district="Southwest"))
    page = desk_page(pages, hub, "resources")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    page.keyboard.press("Alt+n")
    expect(page.locator("#r-id")).to_be_focused()
    page.keyboard.type("BOAT-2")
    page.keyboard.press("Tab")
    page.keyboard.type("Boat")
    page.keyboard.press("Tab")
    page.keyboard.type("Jet boat 2")
    page.keyboard.press("Tab")
    page.keyboard.type("boat")
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_have_text("Resource BOAT-2 added to the inventory.")
    row = page.locator("#rows tr[data-resource='BOAT-2']")
    expect(row).to_contain_text("Jet boat 2")
    expect(row).to_contain_text("Boat")

    row.focus()
    page.keyboard.press("g")  # give it: the form has the resource, the unit list has the focus
    expect(page.locator("#g-unit")).to_be_focused()
    expect(page.locator("#g-resource")).to_have_value("BOAT-2")
    page.locator("#g-unit").select_option("PO95")
    page.locator("#g-unit").press("Enter")
    expect(page.locator("#status")).to_have_text("BOAT-2 given to PO95.")
    expect(row.locator("td.unit")).to_contain_text("PO95")
    screenshot(page, "desk-resources")

    roster = pages._page(viewport=DESK_SIZE)
    sign_in(roster, hub.http, "ana", "/board/")
    roster.goto(f"{hub.http}/desk/units/")
    expect(roster.locator("#rows tr[data-unit='PO95']")).to_contain_text("boat (resource)")

    page.get_by_role("button", name="Take back").click()
    expect(page.locator("#status")).to_have_text("BOAT-2 taken back into the inventory.")
    expect(row.locator("td.unit")).to_have_text("-")
    expect(roster.locator("#rows tr[data-unit='PO95']")).not_to_contain_text("boat")

    row.focus()
    page.keyboard.press("Enter")  # edit: take it out of service, then try to give it
    expect(page.locator("#form-title")).to_have_text("Edit resource BOAT-2")
    page.locator("#r-available").uncheck()
    page.locator("#r-note").fill("In repair")
    page.locator("#r-note").press("Enter")
    expect(row).to_contain_text("no")
    page.locator("#g-resource").select_option("BOAT-2")
    page.locator("#g-unit").select_option("PO95")
    page.get_by_role("button", name="Give to unit").click()
    expect(page.locator("#problem")).to_have_text("BOAT-2 not given to PO95: BOAT-2 is not in service")


AXE = ROOT / "static" / "vendor" / "node_modules" / "axe-core" / "axe.min.js"


@pytest.mark.skipif(not AXE.exists(), reason="axe-core is installed by make (npm ci in static/vendor)")
def test_every_desk_page_passes_axe_with_its_fields_labelled(hub: HubProcess, pages: Pages) -> None:
    """axe-core (WCAG 2.1 A and AA rules) finds nothing on any desk page: every field has its label, every
    table its headers, and the text its contrast; each page has the navigation to all the others."""
    page = pages._page(viewport=DESK_SIZE, bypass_csp=True)  # only to inject axe itself
    sign_in(page, hub.http, "ana", "/board/")
    for name in DESK_PAGES:
        page.goto(f"{hub.http}/desk/{name}/")
        expect(page.locator("#whoami")).to_have_text("ana (dispatcher)")
        expect(page.locator("#desk-nav a")).to_have_count(len(DESK_PAGES) + 1)
        expect(page.locator("#desk-nav a[aria-current='page']")).to_have_attribute("href", f"/desk/{name}/")
        page.add_script_tag(path=str(AXE))
        found = page.evaluate(
            "async () => { const r = await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']});"
            " return {passed: r.passes.length,"
            " violations: r.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)}; }"
        )
        assert found["violations"] == [], f"/desk/{name}/: {found['violations']}"
        assert found["passed"] > 5  # it did look

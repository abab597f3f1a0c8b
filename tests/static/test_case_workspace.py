"""The case workspace in Chromium: the queue and a file at desktop and laptop sizes, the allegations
edited in the page and seen live by a second coordinator, an overdue clock announced without a
reload, and a stale save refused with a conflict that keeps nothing of it."""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from playwright.sync_api import Page, expect

from server.access.roles import Role
from tests.helpers import HubProcess, S, test_token
from tests.static.conftest import Pages, screenshot

LAPTOP = {"width": 1280, "height": 720}
WIDE = {"width": 1440, "height": 900}
ZONE = ZoneInfo("America/Edmonton")
_n = 0


def _complaint(**over: Any) -> dict[str, Any]:
    global _n
    _n += 1
    return {
        "submission_id": f"ws-{_n:06d}-{os.getpid()}-{int(time.time())}",
        "kind": "complaint",
        "police_service": "Edmonton Police Service",
        "narrative": "The officer shouted at me on the platform and would not give a badge number.",
        "contact_by": "email",
        "email": "person@example.org",
        "name": "Dana Example",
        "accessibility": "Please use large print; I use a screen reader.",
        "interpreter": "Tigrinya",
        "consent_share": True,
    } | over


def file_complaint(hub: HubProcess, token: str | None = None, **over: Any) -> str:
    """A complaint through the portal (as staff with ``token``), once the intake worker has filed it."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(base_url=hub.http, headers=headers) as http:
        answer = http.post("/api/complaints", json=_complaint(**over))
        assert answer.status_code == 201, answer.text
        number: str = answer.json()["file_number"]
        staff = {"Authorization": f"Bearer {test_token('cora', Role.CASE_COORDINATOR)}"}
        deadline = time.monotonic() + 20 * S
        while http.get(f"/api/cases/{number}", headers=staff).status_code != 200:
            assert time.monotonic() < deadline, f"{number} was not filed"
            time.sleep(0.1)
    return number


def workspace(pages: Pages, hub: HubProcess, user: str, role: Role = Role.CASE_COORDINATOR) -> Page:
    page = pages.desktop()
    page.set_viewport_size(WIDE)  # type: ignore[arg-type]
    page.context.add_cookies([{"name": "dispatch_token", "value": test_token(user, role), "url": hub.http}])
    page.goto(f"{hub.http}/cases/")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    return page


def open_file(page: Page, number: str) -> None:
    row = page.locator(f'#rows tr[data-key="{number}"]')
    expect(row).to_be_visible()
    row.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#file-title")).to_contain_text(number)


def test_the_queue_and_a_file_at_desktop_and_laptop_sizes(hub: HubProcess, pages: Pages) -> None:
    """A filed complaint is in the queue; opened from the keyboard it shows the person's access needs first."""
    number = file_complaint(hub)
    page = workspace(pages, hub, "cora")
    open_file(page, number)
    needs = page.locator("#needs")
    expect(needs).to_contain_text("large print")
    expect(needs).to_contain_text("Interpreter: Tigrinya")
    expect(page.locator("#file-body")).to_contain_text("The complainant sees:")
    expect(page.locator('[data-act="take"]')).to_be_visible()
    expect(page.locator('[data-act="dismiss"]')).to_have_count(0)  # the team lead's alone
    screenshot(page, "case-workspace-desktop")
    page.set_viewport_size(LAPTOP)  # type: ignore[arg-type]
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(page, "case-workspace-laptop")


def test_allegations_edited_in_the_page_reach_a_second_coordinator_live(hub: HubProcess, pages: Pages) -> None:
    """Two allegations added in the page show in a second coordinator's open file without a reload."""
    number = file_complaint(hub)
    cora = workspace(pages, hub, "cora")
    dev = workspace(pages, hub, "dev")
    open_file(cora, number)
    open_file(dev, number)
    for kind, badge, summary in (
        ("discourtesy", "4411", "Shouted on the platform"),
        ("neglect_of_duty", "4411", "No badge number"),
    ):
        new = cora.locator('tr[data-allegation="new"]')
        new.locator('select[name="type"]').select_option(kind)
        new.locator('input[name="officer_name"]').fill("Cst. Reyes")
        new.locator('input[name="officer_badge"]').fill(badge)
        new.locator('input[name="summary"]').fill(summary)
        new.get_by_role("button", name="Add").click()
        expect(cora.locator("#status")).to_contain_text("Saved")
    expect(cora.locator("tr[data-allegation]:not([data-allegation=new])")).to_have_count(2)
    seen = dev.locator("tr[data-allegation]:not([data-allegation=new])")
    expect(seen).to_have_count(2)
    expect(dev.locator('input[name="summary"]').first).to_have_value("Shouted on the platform")
    screenshot(dev, "case-workspace-allegations-live")


def test_an_overdue_clock_is_announced_without_a_reload(hub: HubProcess, pages: Pages) -> None:
    """A letter received ten days ago is filed late: its acknowledgement is overdue at once, and the open
    workspace says so and shows it overdue in the queue, announced by the intake lane's clock sweep."""
    page = workspace(pages, hub, "cora")
    received = (dt.datetime.now(ZONE).date() - dt.timedelta(days=10)).isoformat()
    number = file_complaint(
        hub, test_token("cora", Role.CASE_COORDINATOR), channel="mail", received_on=received, contact_by="email"
    )
    expect(page.locator("#announce")).to_contain_text(f"{number}: Acknowledgement is overdue")
    row = page.locator(f'#rows tr[data-key="{number}"]')
    expect(row.locator(".clock")).to_contain_text("Overdue")
    screenshot(page, "case-workspace-overdue")


def test_a_stale_save_gets_a_conflict_and_keeps_nothing(hub: HubProcess, pages: Pages) -> None:
    """B is typing when A saves: B is told and keeps the typing; B's save from the old version is refused."""
    number = file_complaint(hub)
    a, b = workspace(pages, hub, "cora"), workspace(pages, hub, "dev")
    open_file(a, number)
    open_file(b, number)
    b.locator('[data-act="edit"]').click()
    b.locator("#a-summary").fill("Dev's summary")
    a.locator('[data-act="note"]').click()
    a.locator("#a-text").fill("Called the complainant back")
    a.locator("#a-text").press("Tab")
    a.locator('form[data-act="note"] button[type="submit"]').click()
    expect(a.locator("#file-body")).to_contain_text("Called the complainant back")
    expect(b.locator("#changed")).to_contain_text("cora changed this file")
    b.locator('form[data-act="edit"] button[type="submit"]').click()
    expect(b.locator("#conflict")).to_contain_text("changed this file while you had it open")
    with httpx.Client(base_url=hub.http) as http:
        got = http.get(
            f"/api/cases/{number}", headers={"Authorization": f"Bearer {test_token('cora', Role.CASE_COORDINATOR)}"}
        )
    assert got.json()["file"]["summary"] == ""
    b.locator("#conflict button").click()
    expect(b.locator("#file-body")).to_contain_text("Called the complainant back")


def test_the_complainant_answers_what_we_asked_on_the_portal(hub: HubProcess, pages: Pages) -> None:
    """Asked for more, the person sees the question on the status check and answers it there; the file goes on."""
    with httpx.Client(base_url=hub.http) as http:
        answer = http.post("/api/complaints", json=_complaint())
        receipt = answer.json()
    number = receipt["file_number"]
    staff = {"Authorization": f"Bearer {test_token('cora', Role.CASE_COORDINATOR)}"}
    with httpx.Client(base_url=hub.http, headers=staff) as http:
        deadline = time.monotonic() + 20 * S
        while http.get(f"/api/cases/{number}").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        for body in (
            {"act": "start_screening"},
            {"act": "request_info", "missing": ["when"], "message": "What day did this happen?"},
        ):
            version = http.get(f"/api/cases/{number}").json()["file"]["version"]
            assert http.post(f"/api/cases/{number}/acts", json={"version": version, "act": body}).status_code == 200
    page = pages.desktop()
    page.goto(f"{hub.http}/complaint/")
    page.fill("#s-file", number)
    page.fill("#s-code", receipt["status_code"])
    page.click("#status-check")
    form = page.locator("#reply-form")
    expect(form).to_contain_text("We asked you: What day did this happen?")
    page.get_by_label("Your answer (you can also call us)").fill("It was the Saturday before, around 9 pm.")
    page.click("#reply-send")
    expect(page.locator("#reply-said")).to_contain_text("We have your answer")
    screenshot(page, "complaint-portal-reply")
    with httpx.Client(base_url=hub.http, headers=staff) as http:
        view = http.get(f"/api/cases/{number}").json()
    assert view["file"]["stage"] == "screening"
    assert view["file"]["messages"][-1]["text"] == "It was the Saturday before, around 9 pm."

"""The public complaint portal: problems shown by field with nothing lost, one file per submission, its status."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, Route, expect

from server.access.roles import Role
from tests.helpers import HubProcess, poll_until, test_token
from tests.static.conftest import PHONE, Pages, browser_hub, screenshot

PHONE_375 = {"width": 375, "height": 812}
NARRATIVE = "An officer shouted at me while I waited for the bus and took my phone without saying why."
ZONE = ZoneInfo("America/Edmonton")  # the default policy's: the hub dates files in it


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubProcess]:
    """A hub of its own; the test checks a file's status until it is filed, more often than the public may."""
    running = browser_hub(tmp_path / "hub", env={"DISPATCH_STATUS_CHECKS_BURST": "1000"})
    yield running
    running.stop()


def records(hub: HubProcess, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Rows from the hub's records store, read beside the running hub."""
    uri = f"file:{hub.data_dir / 'records.sqlite3'}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=5)) as db:
        return db.execute(sql, args).fetchall()


def next_part(page: Page, n: int) -> None:
    """Press Next at the bottom of part ``n``: part n+1 comes up with the focus on its heading."""
    page.click(f"#step-{n}-next")
    expect(page.locator(f"#step-{n + 1}-title")).to_be_focused()
    expect(page.locator(f"#step-{n}")).to_be_hidden()


def check_status_until(page: Page, text: str) -> None:
    """Press "Check status" (waiting for each answer) until the answer says ``text``."""
    result = page.locator("#status-result")

    def answered() -> bool:
        n = int(result.get_attribute("data-answers") or 0)
        page.click("#status-check")
        expect(result).to_have_attribute("data-answers", str(n + 1))
        return text in result.inner_text()

    poll_until(answered, 30, f"the status check says {text!r}")


def test_a_person_fixes_what_was_missing_and_gets_one_file_and_its_status(hub: HubProcess, pages: Pages) -> None:
    """On a phone: the missing story and permission are marked by their fields with everything typed kept (a
    reload too); a Send whose answer was lost and a second Send make one file; the status check finds it filed."""
    page = pages.phone()
    page.set_viewport_size(PHONE_375)
    page.goto(f"{hub.http}/complaint/")
    expect(page.locator("#submit")).to_be_enabled()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_375["width"]  # nothing sideways
    screenshot(page, "complaint-portal-phone")

    page.check("#c-kind-complaint")  # one part at a time on a phone
    page.fill("#c-occurred_time", "around 9 pm")
    page.fill("#c-location", "Jasper Ave and 101 St")
    next_part(page, 1)
    page.select_option("#c-police_service", "Edmonton Police Service")
    page.focus("#add-officer")
    page.keyboard.press("Enter")  # from the keyboard: the new row's first field takes the focus
    expect(page.locator("#c-officers-0-name")).to_be_focused()
    page.fill("#c-officers-0-badge", "4471")
    page.fill("#c-officers-0-description", "Tall, grey jacket")
    next_part(page, 2)
    page.check("#c-contact_by-email")
    page.fill("#c-email", "sam@example.org")
    next_part(page, 3)
    page.click("#submit")

    narrative = page.locator("#c-narrative")
    expect(page.locator("#c-narrative-error")).to_contain_text("Tell us what happened")
    expect(page.locator("#c-consent_share-error")).to_contain_text("We need your permission")
    expect(narrative).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#c-consent_share")).to_have_attribute("aria-invalid", "true")
    assert "c-narrative-error" in (narrative.get_attribute("aria-describedby") or "")
    expect(narrative).to_be_focused()  # the first question that needs a second look, on its own part
    expect(page.locator("#step-1")).to_be_visible()
    expect(page.locator("#error-list li")).to_have_count(2)
    expect(page.locator("#error-list li").first).to_contain_text("What happened")
    expect(page.locator("#c-email")).to_have_value("sam@example.org")
    expect(page.locator("#c-officers-0-badge")).to_have_value("4471")
    expect(page.locator("#c-kind-complaint")).to_be_checked()
    screenshot(page, "complaint-portal-phone-errors")

    page.reload()  # the draft (and its submission id) stays in the tab
    expect(page.locator("#c-officers-0-description")).to_have_value("Tall, grey jacket")
    expect(page.locator("#c-police_service")).to_have_value("Edmonton Police Service")
    expect(page.locator("#c-contact_by-email")).to_be_checked()
    narrative.fill(NARRATIVE)
    for n in (1, 2, 3):
        next_part(page, n)
    page.check("#c-consent_share")

    # The first Send reaches the hub, but its answer never comes back to the page...
    reached: list[int] = []

    def lose_first_answer(route: Route) -> None:
        if reached:
            route.continue_()
            return
        reached.append(route.fetch().status)
        route.abort("connectionreset")

    page.route("**/api/complaints", lose_first_answer)
    page.click("#submit")
    expect(page.locator("#form-problem")).to_contain_text("press Send again")
    assert reached == [201]
    expect(narrative).to_have_value(NARRATIVE)
    # ...so the person presses Send again: the same submission, the same file.
    page.click("#submit")
    file_number = page.locator("#file-number")
    expect(file_number).to_have_text(re.compile(r"^PC-\d{4}-\d{5}$"))
    expect(page.locator("#status-code")).to_have_text(re.compile(r"^[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}$"))
    expect(page.locator("#receipt-repeat")).to_be_visible()  # "not filed twice"
    expect(page.locator("#receipt-title")).to_be_focused()
    screenshot(page, "complaint-portal-phone-receipt")
    number, code = file_number.inner_text(), page.locator("#status-code").inner_text()

    page.fill("#s-file", number.lower())  # typed by hand, in lower case
    page.fill("#s-code", code)
    check_status_until(page, "acknowledge your file by")
    expect(page.locator("#status-result")).to_contain_text("A case coordinator will read it soon")
    screenshot(page, "complaint-portal-phone-status")

    filed = records(hub, "SELECT file_number, kind, police_service, narrative, email, channel FROM complaints")
    assert filed == [(number, "complaint", "Edmonton Police Service", NARRATIVE, "sam@example.org", "web")]
    officers = records(hub, "SELECT badge, description FROM complaint_officers WHERE file_number=?", number)
    assert officers == [("4471", "Tall, grey jacket")]

    page.reload()  # the receipt stays on screen for this tab; the draft with the story is gone
    expect(page.locator("#file-number")).to_have_text(number)
    assert page.evaluate("sessionStorage.getItem('complaint-portal:draft')") is None


def test_case_staff_enter_a_complaint_taken_by_phone(hub: HubProcess, pages: Pages) -> None:
    """Signed in as a case coordinator, the form says who takes it, asks how it came in and words the consent as
    given aloud; the file records the channel and who took it."""
    page = pages.desktop()
    page.goto(f"{hub.http}/complaint/")
    expect(page.locator("#submit")).to_be_enabled()
    expect(page.locator("#staff-panel")).to_be_hidden()
    screenshot(page, "complaint-portal-desktop")

    token = test_token("casey", Role.CASE_COORDINATOR)
    page.context.add_cookies([{"name": "dispatch_token", "value": token, "url": hub.http}])
    page.reload()
    expect(page.locator("#staff-panel")).to_contain_text("Taken by casey")
    expect(page.locator("#consent-label")).to_contain_text("The person agreed verbally")
    page.select_option("#c-channel", "walk_in")
    screenshot(page, "complaint-portal-desktop-staff")
    page.check("#c-kind-compliment")
    page.select_option("#c-police_service", "Not sure")
    page.fill("#c-narrative", "The officer at the front desk was patient and kind.")
    page.check("#c-contact_by-none")
    page.check("#c-consent_share")
    page.click("#submit")
    expect(page.locator("#file-number")).to_have_text(re.compile(r"^PC-"))
    expect(page.locator("#receipt-repeat")).to_be_hidden()
    number = page.locator("#file-number").inner_text()

    sql = "SELECT kind, channel, taken_by FROM complaints WHERE file_number=?"
    filed = poll_until(lambda: records(hub, sql, number), 30, "the complaint filed")
    assert filed == [("compliment", "walk_in", "casey")]

    page.click("#start-new")  # the next caller: an empty form, a new submission
    expect(page.locator("#complaint-form")).to_be_visible()
    expect(page.locator("#c-narrative")).to_have_value("")


def fill_on_one_page(page: Page, contact: str = "email") -> None:
    """Show every question on one page and answer what is needed, contacting by ``contact``."""
    page.click("#layout-toggle")
    expect(page.locator("#layout-toggle")).to_have_text("Show one part at a time")
    for n in (1, 2, 3, 4):
        expect(page.locator(f"#step-{n}")).to_be_visible()
    page.check("#c-kind-complaint")
    page.fill("#c-narrative", NARRATIVE)
    page.select_option("#c-police_service", "Edmonton Police Service")
    page.check(f"#c-contact_by-{contact}")
    if contact == "email":
        page.fill("#c-email", "sam@example.org")
    page.check("#c-consent_share")


def test_a_person_on_a_phone_goes_back_and_forth_through_the_parts_and_sends_it(hub: HubProcess, pages: Pages) -> None:
    """On a 390x844 phone the form comes one part at a time ("Step n of 4", the focus on the part's heading);
    Back, Next, a reload and the review's Change keep every answer; a problem found at Send is shown on its own
    part with the rest kept; fixed, the same answers are filed."""
    page = pages.phone()
    page.goto(f"{hub.http}/complaint/")
    expect(page.locator("#submit")).to_be_enabled()
    expect(page.locator("#step-1-title")).to_have_text(re.compile(r"^\s*Step 1 of 4:?\s+What happened\s*$"))
    for n in (2, 3, 4):
        expect(page.locator(f"#step-{n}")).to_be_hidden()
    expect(page.locator("#layout-toggle")).to_have_text("Show all the questions on one page")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    page.check("#c-kind-concern")
    page.fill("#c-narrative", NARRATIVE)
    page.fill("#c-location", "Churchill Square")
    next_part(page, 1)
    expect(page.locator("#step-2-title")).to_contain_text("Step 2 of 4")
    page.select_option("#c-police_service", "Edmonton Police Service")
    page.click("#add-officer")
    page.fill("#c-officers-0-badge", "4471")
    screenshot(page, "complaint-portal-phone-step-2")

    page.click("#step-2-back")  # back: what was typed on part 1 is there
    expect(page.locator("#step-1-title")).to_be_focused()
    expect(page.locator("#c-narrative")).to_have_value(NARRATIVE)
    expect(page.locator("#c-kind-concern")).to_be_checked()
    next_part(page, 1)
    expect(page.locator("#c-officers-0-badge")).to_have_value("4471")
    page.reload()  # the tab comes back to the same part, answers kept
    expect(page.locator("#step-2")).to_be_visible()
    expect(page.locator("#step-1")).to_be_hidden()
    expect(page.locator("#c-officers-0-badge")).to_have_value("4471")
    expect(page.locator("#c-police_service")).to_have_value("Edmonton Police Service")

    next_part(page, 2)
    page.check("#c-contact_by-phone")  # but no number yet
    page.fill("#c-name", "Sam")
    page.fill("#c-safe_times", "weekdays after 5 pm")
    next_part(page, 3)
    review = page.locator("#review")
    expect(review).to_contain_text("A concern")
    expect(review).to_contain_text(NARRATIVE)
    expect(review).to_contain_text("Officer 1: badge 4471")
    expect(review).to_contain_text("By phone call")
    expect(review.locator("dd.missing")).to_have_text(["Not answered yet (required)"])  # the number
    screenshot(page, "complaint-portal-phone-review")
    review.get_by_role("button", name="Change What happened").click()
    expect(page.locator("#step-1-title")).to_be_focused()
    page.fill("#c-location", "Churchill Square, by the fountain")
    for n in (1, 2, 3):
        next_part(page, n)
    expect(review).to_contain_text("by the fountain")
    page.check("#c-consent_share")
    page.click("#submit")

    phone = page.locator("#c-phone")
    expect(page.locator("#step-3")).to_be_visible()  # the part the problem is on
    expect(page.locator("#step-4")).to_be_hidden()
    expect(phone).to_be_focused()
    expect(phone).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#c-phone-error")).to_contain_text("You chose a call: tell us the number.")
    expect(page.locator("#error-list li")).to_have_count(1)
    expect(page.locator("#c-name")).to_have_value("Sam")
    screenshot(page, "complaint-portal-phone-step-error")
    phone.fill("780-555-0142")
    next_part(page, 3)
    expect(page.locator("#c-consent_share")).to_be_checked()
    page.click("#submit")

    number = page.locator("#file-number")
    expect(number).to_have_text(re.compile(r"^PC-\d{4}-\d{5}$"))
    expect(page.locator("#receipt-title")).to_be_focused()
    expect(page.locator("#receipt-contact")).to_have_text(
        "A case coordinator will read what you sent, and will contact you in the way you chose."
    )
    sql = "SELECT kind, narrative, location, contact_by, phone, name, safe_times FROM complaints WHERE file_number=?"
    filed = poll_until(lambda: records(hub, sql, number.inner_text()), 30, "the complaint filed")
    assert filed == [
        (
            "concern",
            NARRATIVE,
            "Churchill Square, by the fountain",
            "phone",
            "780-555-0142",
            "Sam",
            "weekdays after 5 pm",
        )
    ]
    officers = records(hub, "SELECT badge FROM complaint_officers WHERE file_number=?", number.inner_text())
    assert officers == [("4471",)]


def test_check_its_status_checks_the_file_just_sent(hub: HubProcess, pages: Pages) -> None:
    """After sending, "Check its status" fills in the file number and code and runs the check: the answer shows
    without pressing "Check status"."""
    page = pages.desktop()
    page.goto(f"{hub.http}/complaint/")
    expect(page.locator("#submit")).to_be_enabled()
    fill_on_one_page(page)
    page.click("#submit")
    number = page.locator("#file-number")
    expect(number).to_have_text(re.compile(r"^PC-"))

    result = page.locator("#status-result")
    assert result.get_attribute("data-answers") is None  # nothing checked yet
    page.click("#check-this")
    expect(result).to_have_attribute("data-answers", "1")
    expect(result.locator("h3")).to_have_text(f"File {number.inner_text()}")
    expect(result).to_contain_text(re.compile(r"opening your file now|A case coordinator will read it soon"))
    expect(page.locator("#s-file")).to_have_value(number.inner_text())
    expect(page.locator("#s-code")).to_have_value(page.locator("#status-code").inner_text())
    expect(page.locator("#status-title")).to_be_focused()
    expect(page.locator("#status-error")).to_have_text("")
    screenshot(page, "complaint-portal-desktop-check-its-status")


def test_a_person_who_asked_not_to_be_contacted_is_never_told_we_will_contact_them(
    hub: HubProcess, pages: Pages
) -> None:
    """A person who chose "Please do not contact me": the receipt and the file's status say we will not, and how
    to check the status oneself, instead of promising contact."""
    page = pages.phone()
    page.goto(f"{hub.http}/complaint/")
    expect(page.locator("#submit")).to_be_enabled()
    fill_on_one_page(page, contact="none")
    page.click("#submit")
    expect(page.locator("#file-number")).to_have_text(re.compile(r"^PC-"))
    receipt = page.locator("#receipt")
    expect(receipt).to_contain_text("You asked us not to contact you, so we will not.")
    expect(receipt).to_contain_text("come back to this page at any time and check its status")
    assert "we will, in the way you chose" not in receipt.inner_text()

    page.click("#check-this")
    result = page.locator("#status-result")
    expect(result).to_have_attribute("data-answers", "1")  # its own check answered before any other
    check_status_until(page, "A case coordinator will read it soon")  # filed, not just received
    expect(result).to_contain_text("We will not contact you, as you asked.")
    expect(result).to_contain_text("enter your file number and status code")
    assert "We will contact you" not in result.inner_text()
    assert "acknowledge your file" not in result.inner_text()
    screenshot(page, "complaint-portal-phone-status-no-contact")


def test_case_staff_give_the_day_a_mailed_complaint_was_received(hub: HubProcess, pages: Pages) -> None:
    """Staff entering a letter give the day it arrived (today unless changed, never in the future): the file is
    received, and its clock started, on that day."""
    page = pages.desktop()
    token = test_token("casey", Role.CASE_COORDINATOR)
    page.context.add_cookies([{"name": "dispatch_token", "value": token, "url": hub.http}])
    page.goto(f"{hub.http}/complaint/")
    expect(page.locator("#staff-panel")).to_contain_text("Taken by casey")
    today = dt.datetime.now(ZONE).date()
    received = page.locator("#c-received_on")
    expect(received).to_have_value(today.isoformat())
    expect(received).to_have_attribute("max", today.isoformat())

    page.select_option("#c-channel", "mail")
    received.fill((today + dt.timedelta(days=1)).isoformat())  # a slip: tomorrow
    page.check("#c-kind-complaint")
    page.fill("#c-narrative", "Letter: the officer would not say why my car was searched.")
    page.fill("#c-occurred_on", (today - dt.timedelta(days=6)).isoformat())
    page.select_option("#c-police_service", "Edmonton Police Service")
    page.check("#c-contact_by-mail")
    page.fill("#c-mailing_address", "10111 104 Ave NW, Edmonton")
    page.check("#c-consent_share")
    page.click("#submit")
    expect(page.locator("#c-received_on-error")).to_contain_text("not in the future")
    expect(received).to_be_focused()
    expect(received).to_have_attribute("aria-invalid", "true")
    screenshot(page, "complaint-portal-desktop-staff-received")

    day = today - dt.timedelta(days=3)
    received.fill(day.isoformat())
    page.click("#submit")
    number = page.locator("#file-number")
    expect(number).to_have_text(re.compile(r"^PC-"))

    start = int(dt.datetime.combine(day, dt.time(), ZONE).timestamp() * 1000)
    sql = (
        "SELECT c.channel, c.taken_by, c.received_at, k.started_at FROM complaints c"
        " JOIN complaint_clocks k ON k.file_number=c.file_number AND k.clock='acknowledge' WHERE c.file_number=?"
    )
    filed = poll_until(lambda: records(hub, sql, number.inner_text()), 30, "the complaint filed")
    assert filed == [("mail", "casey", start, start)]

"""The public complaint portal: problems shown by field with nothing lost, one file per submission, its status."""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from server.auth import Role
from tests.helpers import HubProcess, poll_until, test_token
from tests.static.conftest import Pages, browser_hub, screenshot

PHONE_375 = {"width": 375, "height": 812}
NARRATIVE = "An officer shouted at me while I waited for the bus and took my phone without saying why."


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

    page.check("#c-kind-complaint")
    page.select_option("#c-police_service", "Edmonton Police Service")
    page.focus("#add-officer")
    page.keyboard.press("Enter")  # from the keyboard: the new row's first field takes the focus
    expect(page.locator("#c-officers-0-name")).to_be_focused()
    page.fill("#c-officers-0-badge", "4471")
    page.fill("#c-officers-0-description", "Tall, grey jacket")
    page.fill("#c-occurred_time", "around 9 pm")
    page.fill("#c-location", "Jasper Ave and 101 St")
    page.check("#c-contact_by-email")
    page.fill("#c-email", "sam@example.org")
    page.click("#submit")

    narrative = page.locator("#c-narrative")
    expect(page.locator("#c-narrative-error")).to_contain_text("Tell us what happened")
    expect(page.locator("#c-consent_share-error")).to_contain_text("We need your permission")
    expect(narrative).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#c-consent_share")).to_have_attribute("aria-invalid", "true")
    assert "c-narrative-error" in (narrative.get_attribute("aria-describedby") or "")
    expect(narrative).to_be_focused()  # the first question that needs a second look
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
    expect(page.locator("#status-result")).to_contain_text("A case coordinator is reviewing it")
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

"""The 311 referral form: 311 staff post an Open311 request with the sign-in cookie and watch its status."""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3

from playwright.sync_api import expect

from tests.helpers import HubProcess, poll_until
from tests.static.conftest import PASSWORDS, PHONE, Pages, screenshot, sign_in


def test_strangers_are_sent_to_sign_in_and_come_back(hub: HubProcess, pages: Pages) -> None:
    """Not signed in: /referral/ sends to sign in and, once signed in as 311 staff, back to the form."""
    page = pages.desktop()
    page.goto(f"{hub.http}/referral/")
    page.wait_for_url("**/signin/?next=%2Freferral%2F")
    page.fill("#user", "rio")
    page.fill("#password", PASSWORDS["rio"])
    page.click("#signin-button")
    page.wait_for_url("**/referral/")
    expect(page.locator("#whoami")).to_have_text("rio (intake_311)")


def test_311_staff_refer_a_noise_complaint_and_see_it_open_with_dispatch(hub: HubProcess, pages: Pages) -> None:
    """Signing in lands 311 staff on the form; Noise complaint's questions, a map click and Send make a request
    whose id is shown and whose status is polled until dispatch has it open."""
    page = pages.desktop()
    sign_in(page, hub.http, "rio", "/referral/", live=False)
    expect(page.locator("#service option", has_text="Noise complaint")).to_have_count(1)
    screenshot(page, "referral-desktop")

    page.select_option("#service", label="Noise complaint")
    expect(page.locator("#service-description")).to_contain_text("Loud music")
    expect(page.locator("#attr-SOURCE option")).to_have_count(6)  # "Choose…" and five sources
    page.click("#send")  # nothing answered yet: told so before anything is sent
    expect(page.locator("#error-list li")).to_have_count(3)
    expect(page.locator("#attr-SOURCE")).to_have_attribute("aria-invalid", "true")

    page.select_option("#attr-SOURCE", "music")
    page.select_option("#attr-ONGOING", "yes")
    page.locator("#map").click()  # the middle of the service area
    expect(page.locator("#lat")).to_have_value(re.compile(r"^5\d\.\d{6}$"))
    expect(page.locator("#long")).to_have_value(re.compile(r"^-11\d\.\d{6}$"))
    page.fill("#description", "Party with loud music on the balcony, third floor.")
    page.fill("#first_name", "Jo")
    page.fill("#phone", "780-555-0199")
    page.set_viewport_size(PHONE)
    screenshot(page, "referral-phone-filled")
    page.click("#send")

    request_id = page.locator("#request-id")
    expect(request_id).to_have_text(re.compile(r"^\S+$"))
    expect(page.locator("#sent-summary")).to_contain_text("Noise complaint at 5")
    expect(page.locator("#service-notice")).to_contain_text("dispatch")
    expect(page.locator("#request-status")).to_have_text("open — Received by dispatch; waiting for an officer.")
    screenshot(page, "referral-phone-sent")

    uri = f"file:{hub.data_dir / 'records.sqlite3'}?mode=ro"
    sql = "SELECT service_code, submitted_by, lat, lon, attributes, first_name FROM service_requests WHERE id=?"

    def filed() -> list[tuple[object, ...]]:
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=5)) as db:
            return db.execute(sql, (request_id.inner_text(),)).fetchall()

    [(code, by, lat, lon, attributes, first_name)] = poll_until(filed, 10, "the request on record")
    assert (code, by, first_name) == ("NOISE", "staff:rio", "Jo")
    assert lat is not None and lon is not None
    assert json.loads(attributes) == {"SOURCE": "music", "ONGOING": "yes"}

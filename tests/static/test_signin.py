"""Sign-in for the board and the officer app: the token lands in an HttpOnly cookie."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.helpers import HubProcess
from tests.static.conftest import PASSWORDS, Pages, screenshot, sign_in


def test_wrong_password_is_refused_and_the_right_one_opens_the_board(hub: HubProcess, pages: Pages) -> None:
    """A wrong password says so and keeps the name; the right one lands on the board with an HttpOnly cookie."""
    page = pages.desktop()
    page.goto(f"{hub.http}/board/")
    page.wait_for_url("**/signin/?next=%2Fboard%2F")  # not signed in: sent to sign in, then back
    page.fill("#user", "ana")
    page.fill("#password", "not-the-password")
    page.click("#signin-button")
    expect(page.locator("#signin-error")).to_contain_text("wrong")
    expect(page.locator("#user")).to_have_value("ana")
    screenshot(page, "signin-wrong-password")
    page.fill("#password", PASSWORDS["ana"])
    page.click("#signin-button")
    page.wait_for_url("**/board/")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    expect(page.locator("#whoami")).to_have_text("ana (dispatcher)")
    cookie = next(c for c in page.context.cookies() if c["name"] == "dispatch_token")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # scripts cannot read the token
    screenshot(page, "board-signed-in")


def test_an_officer_lands_on_the_officer_app_and_not_on_the_board(hub: HubProcess, pages: Pages) -> None:
    """An officer signing in gets the officer app for its unit; the board sends it back there."""
    page = pages.phone()
    sign_in(page, hub.http, "u61", "/officer/")
    expect(page.locator("#unit-title")).to_have_text("Unit PO61")
    page.goto(f"{hub.http}/board/")
    page.wait_for_url("**/officer/")
    page.click("#signout")
    page.wait_for_url("**/signin/")
    page.goto(f"{hub.http}/officer/")
    page.wait_for_url("**/signin/?next=%2Fofficer%2F")

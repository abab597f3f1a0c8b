"""In Chromium: a second factor set up on the account page and asked at sign-in; the admin's
accounts page ending a dispatcher's board; and a sign-in link that cannot send anyone off-site."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pyotp
from playwright.sync_api import Page, expect

from server.access.second_factor import STEP_S
from tests.helpers import ROOT, HubProcess
from tests.static.conftest import PASSWORDS, Pages, screenshot, sign_in


def _add(hub: HubProcess, name: str, role: str, password: str) -> None:
    cmd = [sys.executable, "-m", "server.cli", "user", "add", name, "--role", role, "--password", password]
    subprocess.run([*cmd, "--data-dir", str(hub.data_dir)], check=True, cwd=ROOT, capture_output=True)


def _secret(page: Page) -> str:
    """The key shown under the QR code (once the set-up has started)."""
    expect(page.locator("#secret")).to_have_text(re.compile(r"[A-Z2-7]{4} "))
    return page.locator("#secret").inner_text().replace(" ", "")


def _code(secret: str, offset: int = 0) -> str:
    return pyotp.TOTP(secret, interval=STEP_S).at(time.time() + offset * STEP_S)


def _password(page: Page, http: str, user: str, password: str) -> None:
    """The first step of signing in, from the front door."""
    page.goto(f"{http}/")
    _fill(page, user, password)


def _fill(page: Page, user: str, password: str | None = None) -> None:
    page.fill("#user", user)
    page.fill("#password", password or PASSWORDS[user])
    page.click("#signin-button")


def test_a_team_lead_sets_up_a_second_factor_then_signs_in_with_it(hub: HubProcess, pages: Pages) -> None:
    """First sign-in of a team lead: the account page asks for a second factor (QR code and key), takes a
    code, shows recovery codes once; the next sign-in asks for a code after the password."""
    _add(hub, "lee", "team_lead", "lee-password-1")
    page = pages.desktop()
    _password(page, hub.http, "lee", "lee-password-1")
    page.wait_for_url("**/account/?enrol=1")
    expect(page.locator("#factor-state")).to_contain_text("must sign in with a second factor")
    expect(page.locator("#qr")).to_be_visible()
    assert page.locator("#qr").evaluate("img => img.naturalWidth") > 100  # the QR image drew
    secret = _secret(page)
    screenshot(page, "account-enrol-second-factor")
    page.goto(f"{hub.http}/intake/")  # nothing else opens until it is done
    page.wait_for_url("**/account/")
    page.goto(f"{hub.http}/account/?enrol=1")
    secret = _secret(page)
    page.fill("#confirm-code", _code(secret, -1))
    page.click("#confirm button[type=submit]")
    expect(page.locator("#code-list li")).to_have_count(10)
    screenshot(page, "account-recovery-codes")
    page.click("#codes-done")
    page.wait_for_url("**/cases/")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")  # the workspace is up
    page.goto("about:blank")  # left, so that no call of its own races the next sign-in
    page.context.clear_cookies()  # a new browser, say

    _password(page, hub.http, "lee", "lee-password-1")
    expect(page.locator("#second-factor")).to_be_visible()
    expect(page.locator("#code-user")).to_have_text("lee")
    page.fill("#code", "000000")
    page.click("#code-button")
    expect(page.locator("#code-error")).to_contain_text("not right")
    screenshot(page, "signin-second-factor")
    page.fill("#code", _code(secret))
    page.click("#code-button")
    page.wait_for_url("**/cases/")


def test_an_admin_disables_a_dispatcher_and_the_board_closes(hub: HubProcess, pages: Pages) -> None:
    """On the accounts page an admin disables ana: her open board loses its connection for good, and
    she cannot sign in again until enabled."""
    board = pages.desktop()
    sign_in(board, hub.http, "ana", "/board/")
    _add(hub, "root", "admin", "root-password-1")
    admin = pages.desktop()
    _password(admin, hub.http, "root", "root-password-1")
    admin.wait_for_url("**/account/?enrol=1")  # an admin needs a second factor first
    secret = _secret(admin)
    admin.fill("#confirm-code", _code(secret, -1))
    admin.click("#confirm button[type=submit]")
    admin.click("#codes-done")
    admin.goto(f"{hub.http}/admin/")
    row = admin.locator("tr[data-name=ana]")
    expect(row).to_contain_text("dispatcher")
    expect(row).to_contain_text("1 open")
    screenshot(admin, "admin-accounts")
    admin.on("dialog", lambda d: d.accept())
    row.get_by_role("button", name="Disable").click()
    expect(admin.locator("tr[data-name=ana]")).to_contain_text("disabled")
    expect(board.locator("#connection")).to_have_attribute("data-state", "stopped")
    expect(board.locator("#connection")).to_contain_text("disabled")
    screenshot(board, "board-account-disabled")
    again = pages.desktop()
    _password(again, hub.http, "ana", PASSWORDS["ana"])
    expect(again.locator("#signin-error")).to_contain_text("wrong")


def test_the_sign_in_link_cannot_send_anyone_to_another_site(hub: HubProcess, pages: Pages) -> None:
    """?next= naming another site in any disguise lands on this site's home instead."""
    page = pages.desktop()
    for bad in ("/.//evil.example/x", "//evil.example/x", "/\\evil.example", "https://evil.example/"):
        page.context.clear_cookies()
        page.goto(f"{hub.http}/signin/?next={bad}")
        _fill(page, "ana")
        page.wait_for_url(f"{hub.http}/**")
        assert page.url.startswith(hub.http + "/"), (bad, page.url)
    page.context.clear_cookies()
    page.goto(f"{hub.http}/signin/?next=%2Fboard%2F%3Fx%3D1")
    _fill(page, "ana")
    page.wait_for_url(f"{hub.http}/board/?x=1")

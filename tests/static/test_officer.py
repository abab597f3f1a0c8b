"""The officer app in Chromium at phone size: one-tap status, the panic hold, the offline outbox."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.sync_api import expect

from protocol.messages import IncidentAssign
from tests.helpers import HubProcess, S, start_hub_process, test_token
from tests.static.conftest import HUB_ENV, Pages, browser_hub, desk, screenshot, sign_in
from tests.static.test_board import CHURCHILL, create_call, open_board, roster


def test_a_status_change_in_the_officer_app_appears_on_the_board(hub: HubProcess, pages: Pages) -> None:
    """The officer acknowledges and goes en route and on scene with one tap each; the board follows."""
    roster(hub.url, "PO61", CHURCHILL)
    incident = create_call(hub.url)
    desk(hub.url, lambda i: IncidentAssign(id=i, incident=incident, unit="PO61", primary=True))
    officer = pages.phone(*CHURCHILL)
    sign_in(officer, hub.http, "u61", "/officer/")
    board = open_board(pages, hub)
    unit_row = board.locator("#units tr[data-unit='PO61']")
    expect(unit_row).to_contain_text("Dispatched")

    # the policy allows no break from dispatched: that button is off
    expect(officer.locator("#status-buttons button[data-status='break']")).to_be_disabled()
    officer.locator("#status-buttons button[data-status='ack']").tap()
    officer.locator("#status-buttons button[data-status='enroute']").tap()
    expect(unit_row).to_contain_text("En route")
    expect(board.locator(f"#queue tr[data-incident='{incident}']")).to_contain_text("En route")
    officer.locator("#status-buttons button[data-status='onscene']").tap()
    expect(unit_row).to_contain_text("On scene")
    expect(officer.locator("#status-buttons button[data-status='onscene']")).to_have_attribute("aria-pressed", "true")
    screenshot(officer, "officer-on-scene-phone")
    officer.locator("#checkin").tap()
    expect(officer.locator("#welfare")).to_contain_text("Next check-in due")


def test_a_short_tap_on_panic_sends_nothing(hub: HubProcess, pages: Pages) -> None:
    """The panic control ignores a brush of the thumb: only a one-second hold sends."""
    roster(hub.url, "PO61", CHURCHILL)
    officer = pages.phone(*CHURCHILL)
    sign_in(officer, hub.http, "u61", "/officer/")
    board = open_board(pages, hub)
    officer.locator("#panic").tap()
    officer.locator("#panic").click()
    officer.wait_for_timeout(1500)  # longer than the hold: had a tap counted, the alarm would be up
    expect(officer.locator("#panic-state")).to_be_hidden()
    expect(board.locator("#alarms .alarm")).to_have_count(0)
    # and from the keyboard: holding Space for a second does send
    officer.locator("#panic").focus()
    officer.keyboard.down(" ")
    officer.wait_for_timeout(1300)
    officer.keyboard.up(" ")
    expect(board.locator("#alarms .alarm").first).to_contain_text("PANIC")


def test_the_offline_outbox_delivers_after_reconnect(tmp_path: Path, pages: Pages) -> None:
    """With the hub gone, status taps wait in the outbox (kept in the phone's storage) and say so;
    when the hub is back they are sent, in order, once."""
    hub = browser_hub(tmp_path / "hub")
    try:
        roster(hub.url, "PO61", CHURCHILL)
        incident = create_call(hub.url)
        desk(hub.url, lambda i: IncidentAssign(id=i, incident=incident, unit="PO61", primary=True))
        officer = pages.phone(*CHURCHILL)
        sign_in(officer, hub.http, "u61", "/officer/")
        expect(officer.locator("#my-status")).to_have_text("Dispatched")

        hub.stop()
        expect(officer.locator("#connection")).to_have_attribute("data-state", "reconnecting")
        officer.locator("#status-buttons button[data-status='enroute']").tap()
        officer.locator("#status-buttons button[data-status='onscene']").tap()
        expect(officer.locator("#outbox")).to_contain_text("2 changes waiting to send")
        expect(officer.locator("#my-status")).to_have_text("On scene (waiting to send)")
        saved = officer.evaluate("JSON.parse(localStorage.getItem('dispatch-outbox:u61')).map(i => i.frame.status)")
        assert saved == ["enroute", "onscene"]
        screenshot(officer, "officer-offline-outbox-phone")

        hub = start_hub_process(tmp_path / "hub", port=hub.port, env=HUB_ENV)
        hub.wait_healthy(30 * S)
        expect(officer.locator("#connection")).to_have_attribute("data-state", "live")
        expect(officer.locator("#outbox")).to_be_empty()
        expect(officer.locator("#my-status")).to_have_text("On scene")
        assert officer.evaluate("localStorage.getItem('dispatch-outbox:u61')") == "[]"

        board = open_board(pages, hub)
        expect(board.locator("#units tr[data-unit='PO61']")).to_contain_text("On scene")
        expect(board.locator(f"#queue tr[data-incident='{incident}']")).to_contain_text("On scene")
        statuses = [e["detail"] for e in _timeline(hub, incident) if e["action"] == "unit status"]
        assert statuses == ["PO61 enroute", "PO61 onscene"]  # in order, once each
    finally:
        hub.stop()


def _timeline(hub: HubProcess, incident: str) -> list[dict[str, str]]:
    r = httpx.get(f"{hub.http}/api/incidents/{incident}", headers={"Authorization": f"Bearer {test_token()}"})
    return list(r.json()["timeline"])

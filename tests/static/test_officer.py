"""The officer app in Chromium at phone size: one-tap status, the panic hold, the offline outbox,
and honesty in an emergency: what was sent, what was not, and what dispatch did about it."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from protocol.messages import AlarmAcknowledge, IncidentAssign, IncidentCreate, IncidentNote, TrafficEmergency
from protocol.state import Location
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


# ---- an app that never lies about a panic (issue 14) --------------------------------------

# Every text the panic button may show: it is rebuilt, never appended to.
PANIC_LABELS = {"PANIC: press and hold", "Keep holding…", "SENDING…", "NOT SENT: use your radio", "SENT"}
NO_WORDS_OF_CODE = re.compile(r"\b(null|undefined|NaN)\b")


def _watch_panic_label(page: Page) -> None:
    """Keep every text the panic button shows, in window.panicLabels."""
    page.evaluate(
        """() => {
          const button = document.querySelector('#panic');
          window.panicLabels = [button.textContent.trim()];
          new MutationObserver(() => window.panicLabels.push(button.textContent.trim()))
            .observe(button, { subtree: true, childList: true, characterData: true });
        }"""
    )


def _hold_panic(page: Page) -> None:
    """Hold the panic button for longer than its one second (with the mouse: it stays over it)."""
    panic = page.locator("#panic")
    panic.hover()
    page.mouse.down()
    page.wait_for_timeout(1300)
    page.mouse.up()


def _panics(hub: HubProcess, unit: str) -> list[dict[str, Any]]:
    """The active panic alarms of a unit, as the hub has them."""
    r = httpx.get(f"{hub.http}/api/board", headers={"Authorization": f"Bearer {test_token()}"})
    r.raise_for_status()
    return [a for a in r.json()["alarms"] if a.get("kind") == "alarm" and a.get("unit") == unit]


def _wait_for_panic(hub: HubProcess, unit: str) -> dict[str, Any]:
    deadline = time.monotonic() + 15 * S
    while time.monotonic() < deadline:
        found = _panics(hub, unit)
        if found:
            assert len(found) == 1, found  # sent again and again, raised once
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no panic of {unit} reached the hub")


def _is_red(page: Page, selector: str) -> bool:
    rgb = page.eval_on_selector(selector, "el => getComputedStyle(el).backgroundColor")
    r, g, b = (int(x) for x in re.findall(r"\d+", rgb)[:3])
    return r > 2 * g and r > 2 * b


def test_a_panic_without_a_network_says_not_sent_until_the_hub_has_it(hub: HubProcess, pages: Pages) -> None:
    """Offline, the header says so and a panic says NOT SENT at once; back online, it goes first
    (ahead of a status change made before it), says SENT once the hub has acked it, and then
    shows dispatch's acknowledgement."""
    roster(hub.url, "PO61", CHURCHILL)
    officer = pages.phone(*CHURCHILL)
    sign_in(officer, hub.http, "u61", "/officer/")
    _watch_panic_label(officer)
    pill = officer.locator("#connection")

    officer.context.set_offline(True)
    expect(pill).not_to_have_attribute("data-state", "live", timeout=3_000 * S)
    expect(pill).not_to_contain_text("Live")
    expect(pill).to_contain_text("Offline")
    officer.locator("#status-buttons button[data-status='busy']").tap()
    _hold_panic(officer)
    expect(officer.locator("#panic")).to_have_text("NOT SENT: use your radio", timeout=3_000 * S)
    expect(officer.locator("#panic-state")).to_contain_text("NOT SENT: use your radio")
    # the panic is not "a change waiting to send": that is the status alone
    expect(officer.locator("#outbox")).to_contain_text("1 change waiting to send")
    assert _is_red(officer, "#panic")
    screenshot(officer, "officer-panic-not-sent-phone")
    assert _panics(hub, "PO61") == []

    officer.context.set_offline(False)
    alarm = _wait_for_panic(hub, "PO61")
    assert alarm["previous_status"] == "available"  # the panic went before the status change
    assert "with no connection" in alarm["reason"]  # dispatch can tell it was pressed offline
    expect(officer.locator("#panic")).to_have_text("SENT")
    expect(pill).to_have_attribute("data-state", "live")
    expect(officer.locator("#panic-state")).to_contain_text("SENT")
    desk(hub.url, lambda i: AlarmAcknowledge(id=i, alarm=alarm["id"]))
    expect(officer.locator("#panic-state")).to_contain_text("Dispatch acknowledged your panic")
    expect(officer.locator("#panic")).to_have_text("PANIC: press and hold")
    screenshot(officer, "officer-panic-acknowledged-phone")
    assert _panics(hub, "PO61") == []
    assert set(officer.evaluate("window.panicLabels")) <= PANIC_LABELS


def test_a_panic_pressed_online_says_sent_and_the_button_stays_red(hub: HubProcess, pages: Pages) -> None:
    """The label is rebuilt at each step (never appended to) and the button keeps its red after a press."""
    roster(hub.url, "PO61", CHURCHILL)
    officer = pages.phone(*CHURCHILL)
    sign_in(officer, hub.http, "u61", "/officer/")
    _watch_panic_label(officer)
    _hold_panic(officer)
    expect(officer.locator("#panic")).to_have_text("SENT")
    _wait_for_panic(hub, "PO61")
    assert _is_red(officer, "#panic"), "the panic button lost its red after a press"
    officer.wait_for_timeout(3500)  # the old label came back after 3 s, appended
    labels = officer.evaluate("window.panicLabels")
    assert set(labels) <= PANIC_LABELS, labels
    expect(officer.locator("#panic")).to_have_text("SENT")  # still active: dispatch has it


def test_an_assignment_shows_caller_callback_notes_and_directions(hub: HubProcess, pages: Pages) -> None:
    """A call with no narrative shows no "null"; caller, callback, dispatch's notes and a
    directions link are there."""
    roster(hub.url, "PO61", CHURCHILL)
    (ack,) = desk(
        hub.url,
        lambda i: IncidentCreate(
            id=i,
            call_type="NOISE",
            priority=3,
            location=Location("Churchill Square", *CHURCHILL),
            caller="J. Tran",
            callback="780-555-0101",
        ),
    )
    assert ack.result is not None
    incident = ack.result["incident"]
    desk(hub.url, lambda i: IncidentAssign(id=i, incident=incident, unit="PO61", primary=True))
    officer = pages.phone(*CHURCHILL)
    sign_in(officer, hub.http, "u61", "/officer/")
    body = officer.locator("#assignment-body")
    expect(body).to_contain_text("Churchill Square")
    expect(body).to_contain_text("J. Tran")
    expect(body).to_contain_text("780-555-0101")
    expect(body.locator("a[href^='tel:']")).to_have_attribute("href", "tel:780-555-0101")
    lat, lon = CHURCHILL
    expect(body.get_by_role("link", name="Directions")).to_have_attribute(
        "href", f"https://www.openstreetmap.org/directions?to={lat},{lon}"
    )
    expect(body.get_by_role("link", name="Open in maps app")).to_have_attribute("href", f"geo:{lat},{lon}")
    text = officer.locator("body").inner_text()
    assert not NO_WORDS_OF_CODE.search(text), text

    desk(hub.url, lambda i: IncidentNote(id=i, incident=incident, text="Music from the back yard"))
    expect(body).to_contain_text("Music from the back yard")
    screenshot(officer, "officer-assignment-details-phone")
    assert not NO_WORDS_OF_CODE.search(officer.locator("body").inner_text())


def test_emergency_traffic_only_is_shown_to_the_officer(hub: HubProcess, pages: Pages) -> None:
    """Dispatch declares emergency traffic only: the officer sees it (live and after a reload) until cleared."""
    roster(hub.url, "PO61", CHURCHILL)
    officer = pages.phone(*CHURCHILL)
    sign_in(officer, hub.http, "u61", "/officer/")
    traffic = officer.locator("#traffic")
    expect(traffic).to_be_hidden()
    desk(hub.url, lambda i: TrafficEmergency(id=i, on=True, unit="PO62", reason="officer needs assistance"))
    expect(traffic).to_be_visible()
    expect(traffic).to_contain_text("EMERGENCY TRAFFIC ONLY")
    expect(traffic).to_contain_text("PO62")
    screenshot(officer, "officer-emergency-traffic-phone")
    officer.reload()
    expect(traffic).to_contain_text("EMERGENCY TRAFFIC ONLY")
    desk(hub.url, lambda i: TrafficEmergency(id=i, on=False))
    expect(traffic).to_be_hidden()


def test_the_panic_bar_covers_no_button(hub: HubProcess, pages: Pages) -> None:
    """At 390x844, with a call and its map, every status button and the check-in can be reached
    without the panic bar (or the header) over it."""
    roster(hub.url, "PO61", CHURCHILL)
    incident = create_call(hub.url)
    desk(hub.url, lambda i: IncidentAssign(id=i, incident=incident, unit="PO61", primary=True))
    officer = pages.phone(*CHURCHILL)
    sign_in(officer, hub.http, "u61", "/officer/")
    expect(officer.locator("#mini-map")).to_be_visible()
    targets = [
        f"#status-buttons button[data-status='{s}']"
        for s in ("ack", "enroute", "onscene", "available", "busy", "break")
    ]
    for selector in [*targets, "#checkin"]:
        target = officer.locator(selector)
        target.scroll_into_view_if_needed()
        box = target.bounding_box()
        bar = officer.locator(".panic-card").bounding_box()
        top = officer.locator(".topbar").bounding_box()
        assert box and bar and top
        assert box["y"] + box["height"] <= bar["y"] + 0.5, f"the panic bar covers {selector}"
        assert box["y"] >= top["y"] + top["height"] - 0.5, f"the header covers {selector}"
    screenshot(officer, "officer-nothing-covered-phone")


def test_the_app_loads_offline_once_it_has_been_opened(tmp_path: Path, pages: Pages) -> None:
    """Opened once, the app comes back from its service worker with no network (and no hub),
    says it is offline, keeps a panic pressed then across another reload, and sends it when
    both are back."""
    hub = browser_hub(tmp_path / "hub")
    try:
        roster(hub.url, "PO61", CHURCHILL)
        officer = pages.phone(*CHURCHILL)
        sign_in(officer, hub.http, "u61", "/officer/")
        officer.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=15_000 * S)
        worker = httpx.get(f"{hub.http}/officer/sw.js")
        assert worker.headers["content-type"].startswith("text/javascript")
        assert worker.headers["service-worker-allowed"] == "/officer/"

        officer.context.set_offline(True)
        hub.stop()  # and the hub away too: the service worker's own fetches cannot reach it either
        officer.reload()
        expect(officer.locator("#unit-title")).to_have_text("Unit PO61")
        expect(officer.locator("#panic")).to_be_visible()
        expect(officer.locator("#connection")).to_contain_text("Offline")
        expect(officer.locator("#assignment-body")).to_contain_text("Not known yet")  # not "No assignment"
        screenshot(officer, "officer-offline-reload-phone")
        _hold_panic(officer)
        expect(officer.locator("#panic")).to_have_text("NOT SENT: use your radio")
        officer.reload()
        expect(officer.locator("#panic")).to_have_text("NOT SENT: use your radio")  # from the saved outbox
        cached = officer.evaluate(
            "async () => (await Promise.all((await caches.keys()).map(async (n) =>"
            " (await (await caches.open(n)).keys()).map((r) => new URL(r.url).pathname)))).flat()"
        )
        assert "/officer/" in cached
        assert not [p for p in cached if p.startswith(("/api/", "/ws"))], cached

        hub = start_hub_process(tmp_path / "hub", port=hub.port, env=HUB_ENV)
        hub.wait_healthy(30 * S)
        officer.context.set_offline(False)
        expect(officer.locator("#connection")).to_have_attribute("data-state", "live")
        _wait_for_panic(hub, "PO61")
        expect(officer.locator("#panic")).to_have_text("SENT")
    finally:
        hub.stop()


def test_a_hub_that_stops_answering_is_found_out_by_the_liveness_check(tmp_path: Path, pages: Pages) -> None:
    """The network looks up but the hub answers nothing (its process frozen): the panic says NOT SENT
    and the header leaves Live (a ping with no pong), and all is sent once the hub answers again."""
    hub = browser_hub(tmp_path / "hub")
    try:
        roster(hub.url, "PO61", CHURCHILL)
        officer = pages.phone(*CHURCHILL)
        sign_in(officer, hub.http, "u61", "/officer/")
        _watch_panic_label(officer)
        hub.proc.send_signal(signal.SIGSTOP)
        try:
            _hold_panic(officer)
            expect(officer.locator("#panic")).to_have_text("NOT SENT: use your radio")
            expect(officer.locator("#connection")).not_to_have_attribute("data-state", "live")
            expect(officer.locator("#connection")).not_to_contain_text("Live")
        finally:
            hub.proc.send_signal(signal.SIGCONT)
        expect(officer.locator("#connection")).to_have_attribute("data-state", "live")
        _wait_for_panic(hub, "PO61")
        expect(officer.locator("#panic")).to_have_text("SENT")
        assert set(officer.evaluate("window.panicLabels")) <= PANIC_LABELS
    finally:
        hub.stop()

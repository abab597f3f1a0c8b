"""The dispatcher's whole desk on the board, in Chromium: reassigning a unit to a new P1 from the
keyboard, places from the gazetteer, calls with no location, the alarm banner, sound, emergency
traffic, a unit's status from the desk and every action on the open call."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from protocol.messages import IncidentAssign, IncidentCreate, UnitPanic, UnitPosition, UnitRoster
from protocol.state import Location
from tests.helpers import HubProcess
from tests.static.conftest import Pages, browser_hub, desk, screenshot, sign_in

CHURCHILL_LRT = (53.5444, -113.4887)
HAWRELAK = (53.5262, -113.5507)
LAPTOP = {"width": 1280, "height": 720}


def roster(hub_url: str, unit: str, at: tuple[float, float], district: str = "Downtown") -> None:
    desk(
        hub_url,
        lambda i: UnitRoster(id=i, unit=unit, district=district),
        lambda i: UnitPosition(id=i, unit=unit, lat=at[0], lon=at[1]),
    )


def call(
    hub_url: str, priority: int, address: str = "Churchill Square", at: tuple[float, float] | None = CHURCHILL_LRT
) -> str:
    where = Location(address, *at) if at else Location(address)
    (ack,) = desk(hub_url, lambda i: IncidentCreate(id=i, call_type="NOISE", priority=priority, location=where))
    assert ack.result is not None
    return ack.result["incident"]


def laptop_board(pages: Pages, hub: HubProcess) -> Page:
    board = pages._page(viewport=LAPTOP)
    sign_in(board, hub.http, "ana", "/board/")
    return board


def new_call_at_place(board: Page, call_type: str, typed: str) -> None:
    """Alt+N, the call type, two Tabs to the place, what was typed, Enter takes the top suggestion."""
    board.keyboard.press("Alt+n")
    board.keyboard.type(call_type)
    board.keyboard.press("Tab")
    board.keyboard.press("Tab")
    expect(board.locator("#call-address")).to_be_focused()
    board.keyboard.type(typed)
    expect(board.locator("#place-list [role=option]").first).to_have_attribute("aria-selected", "true")
    board.keyboard.press("Enter")


def test_a_unit_is_pulled_from_a_p3_to_a_new_p1_with_the_keyboard_alone(hub: HubProcess, pages: Pages) -> None:
    """Every unit is committed; a new P1 at a gazetteer place; A says why it cannot assign and offers P;
    P pulls the unit from the P3 (which waits again); the officer app shows the new call."""
    roster(hub.url, "PO61", CHURCHILL_LRT)
    p3 = call(hub.url, 3)
    desk(hub.url, lambda i: IncidentAssign(id=i, incident=p3, unit="PO61"))
    officer = pages.phone(*CHURCHILL_LRT)
    sign_in(officer, hub.http, "u61", "/officer/")
    expect(officer.locator("#assignment-title")).to_contain_text("NOISE · P3")
    board = laptop_board(pages, hub)
    expect(board.locator(f"#queue tr[data-incident='{p3}']")).to_contain_text("PO61")

    new_call_at_place(board, "PANIC", "churchill lrt")  # PANIC/DURESS ALARM: a P1 by its type
    expect(board.locator("#call-lat")).to_have_value(f"{CHURCHILL_LRT[0]:.6f}")
    expect(board.locator("#location-status")).to_have_text("Located: Downtown")
    board.keyboard.press("Control+Enter")
    expect(board.locator("#detail")).to_be_focused()
    expect(board.locator("#detail-title")).to_contain_text("P1 PANIC/DURESS ALARM")
    expect(board.locator("#recs button.pull").first).to_have_text(f"Pull PO61 from P3 {p3}")
    board.keyboard.press("a")  # nothing free: it says why, and what to press
    outcome = board.locator("#detail .outcome")
    expect(outcome).to_contain_text("No unit is free for this call. Press P to pull PO61")
    screenshot(board, "board-nothing-free-press-p")
    board.keyboard.press("p")
    expect(outcome).to_contain_text(f"PO61 pulled from {p3} and assigned")
    expect(outcome).to_contain_text(f"{p3} (P3) waits again with no unit")
    p1 = board.locator("#detail-title").inner_text().split(" ")[0]
    expect(board.locator(f"#queue tr[data-incident='{p1}']")).to_contain_text("PO61*")
    expect(board.locator(f"#queue tr[data-incident='{p3}']")).to_contain_text("Pending")
    expect(officer.locator("#assignment-title")).to_contain_text("PANIC/DURESS ALARM · P1")
    screenshot(board, "board-pulled-to-p1")
    screenshot(officer, "officer-pulled-to-p1-phone")


def test_a_gazetteer_place_gives_the_call_its_point_and_district_and_the_nearest_unit_first(
    hub: HubProcess, pages: Pages
) -> None:
    """Typing "hawrelak" suggests Hawrelak Park; taking it sets the point and the district, and the unit
    near the park ranks before the one downtown."""
    roster(hub.url, "PO62", CHURCHILL_LRT)
    roster(hub.url, "PO61", (HAWRELAK[0] + 0.002, HAWRELAK[1]), district="Southwest")
    board = laptop_board(pages, hub)
    board.keyboard.press("Alt+n")
    board.locator("#call-address").fill("hawre")
    option = board.locator("#place-list [role=option]").first
    expect(option).to_contain_text("Hawrelak Park")
    expect(option).to_contain_text("Southwest")
    screenshot(board, "board-place-suggestions")
    board.locator("#call-address").press("Enter")
    expect(board.locator("#call-address")).to_have_value("Hawrelak Park (9330 Groat Rd NW)")
    expect(board.locator("#call-lon")).to_have_value(f"{HAWRELAK[1]:.6f}")
    board.locator("#call-address").press("Control+Enter")
    expect(board.locator("#detail .facts")).to_contain_text("Hawrelak Park (9330 Groat Rd NW) (Southwest)")
    first = board.locator("#recs li").first
    expect(first).to_contain_text("Assign PO61")
    expect(first).to_contain_text("0.2 km")


def test_an_address_with_no_match_says_no_location_and_ranks_no_one_at_zero_km(hub: HubProcess, pages: Pages) -> None:
    """No suggestion, no point: the form says so before sending, the call says NO LOCATION, the queue
    row says it too, and the units are listed with their distance unknown, never 0.0 km."""
    roster(hub.url, "PO61", CHURCHILL_LRT)
    board = laptop_board(pages, hub)
    board.keyboard.press("Alt+n")
    address = board.locator("#call-address")
    address.fill("12345 Nowhere Rd")
    expect(board.locator("#place-list")).to_contain_text("No place matches")
    expect(board.locator("#location-status")).to_contain_text("No location yet")
    address.press("Control+Enter")
    expect(board.locator("#detail .facts .no-location")).to_contain_text("NO LOCATION")
    expect(board.locator("#queue tr").first).to_contain_text("NO LOCATION")
    recs = board.locator("#recs")
    expect(recs).to_contain_text("Assign PO61")
    expect(recs).to_contain_text("distance unknown")
    expect(recs).to_contain_text("the call has no location")
    expect(recs).not_to_contain_text("0.0 km")
    screenshot(board, "board-no-location")


def test_a_place_outside_the_service_area_is_warned_about_and_still_allowed(hub: HubProcess, pages: Pages) -> None:
    """A point typed in Red Deer: the form warns before sending, and the call is still created, marked."""
    board = laptop_board(pages, hub)
    board.keyboard.press("Alt+n")
    board.locator("#call-address").fill("Red Deer City Hall")
    board.locator("#call-lat").fill("52.2681")
    board.locator("#call-lon").fill("-113.8112")
    board.locator("#call-lon").press("Tab")
    expect(board.locator("#location-status")).to_contain_text("OUTSIDE the service area")
    board.locator("#call-form button[type=submit]").click()
    expect(board.locator("#detail .facts")).to_contain_text("OUTSIDE the service area")


@pytest.fixture
def alarm_hub(tmp_path: Path) -> Iterator[HubProcess]:
    """A hub whose calls raise "call waiting" after a second, so the banner fills quickly."""
    policy = tmp_path / "policy.toml"
    policy.write_text("".join(f"[priorities.{p}]\nunassigned_alarm_s = 1\n" for p in (1, 2, 3, 4)))
    running = browser_hub(tmp_path / "hub", env={"DISPATCH_POLICY_FILE": str(policy)})
    yield running
    running.stop()


def test_ten_alarms_stay_within_the_banner_bound_with_the_panic_first(alarm_hub: HubProcess, pages: Pages) -> None:
    """Nine calls waiting and then a panic: the banner stays within its bound and scrolls, the newer panic
    comes first and the P1 call waiting before the older P4s, the flashing label never goes blank, each
    unit is named once, and an alarm can be cancelled with a reason."""
    hub = alarm_hub
    roster(hub.url, "PO60", CHURCHILL_LRT)
    for priority in (4, 4, 4, 4, 3, 3, 2, 2):
        call(hub.url, priority)
    p1 = call(hub.url, 1)
    board = pages.desktop()
    sign_in(board, hub.http, "ana", "/board/")
    rows = board.locator("#alarms .alarm")
    expect(rows).to_have_count(9)
    desk(hub.url, lambda i: UnitPanic(id=i, unit="PO60", reason="PO60 panic button"))
    expect(rows).to_have_count(10)
    expect(rows.nth(0)).to_contain_text("PANIC")
    expect(rows.nth(1)).to_have_attribute("data-alarm", f"unassigned:{p1}")
    expect(board.locator("#alarms .alarm-count")).to_contain_text("10 alarms, 1 urgent")
    banner = board.locator("#alarms").bounding_box()
    assert banner is not None and banner["height"] <= 0.3 * 900, banner
    who = rows.nth(0).locator(".who").inner_text()
    assert who.count("PO60") == 1, who
    # the pulsing label: sampled over two seconds, it is always there to read
    seen = board.evaluate(
        """async () => {
          const what = document.querySelector('#alarms .alarm.flash .what');
          const out = [];
          for (let i = 0; i < 20; i++) {
            const style = getComputedStyle(what);
            out.push([style.visibility, what.textContent, style.color !== style.backgroundColor]);
            await new Promise((r) => setTimeout(r, 100));
          }
          return out;
        }"""
    )
    assert all(v == "visible" and text == "PANIC" and differs for v, text, differs in seen), seen
    screenshot(board, "board-ten-alarms")

    panic = rows.nth(0)
    panic.get_by_role("button", name="Cancel…").click()
    panic.locator("input.cancel-reason").fill("pressed by accident in the car")
    panic.locator("input.cancel-reason").press("Enter")
    expect(rows).to_have_count(9)
    expect(rows.nth(0)).to_have_attribute("data-alarm", f"unassigned:{p1}")


def test_sound_comes_back_with_the_first_key_after_a_reload_and_says_when_it_is_off(
    hub: HubProcess, pages: Pages
) -> None:
    board = pages.desktop()
    sign_in(board, hub.http, "ana", "/board/")
    warning = board.locator("#sound-off")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("SOUND OFF")
    board.keyboard.press("Shift")
    expect(warning).to_be_hidden()
    board.reload()
    expect(warning).to_be_visible()
    # The warning is in the page's HTML: wait for the board's script (live) before the click it listens for.
    expect(board.locator("#connection")).to_have_attribute("data-state", "live")
    board.mouse.click(5, 300)
    expect(warning).to_be_hidden()


def test_every_action_on_the_open_call_and_a_units_status_from_the_desk(hub: HubProcess, pages: Pages) -> None:
    """Priority, note, link, police support, take a unit off, set a unit's status, EIDO, emergency traffic,
    close and reopen: each one click (and its form) from the open call, at 1280x720, in view."""
    roster(hub.url, "PO61", CHURCHILL_LRT)
    roster(hub.url, "PO62", CHURCHILL_LRT)
    first, other = call(hub.url, 3), call(hub.url, 4, "Rogers Place")
    desk(hub.url, lambda i: IncidentAssign(id=i, incident=first, unit="PO61"))
    board = laptop_board(pages, hub)
    entry = board.locator(".entry").bounding_box()
    create = board.locator("#call-form button[type=submit]").bounding_box()
    assert entry and create and create["y"] + create["height"] <= entry["y"] + entry["height"], (entry, create)

    board.locator(f"#queue tr[data-incident='{first}']").click()
    toolbar = board.locator("#detail .toolbar")
    detail = board.locator("#detail").bounding_box()
    bar = toolbar.bounding_box()
    assert detail and bar and bar["y"] + bar["height"] <= detail["y"] + detail["height"], (detail, bar)

    def act(button: str, field: str, value: str | None, submit: str) -> None:
        toolbar.get_by_role("button", name=button, exact=True).click()
        if value is not None:
            target = board.locator(field)
            if target.evaluate("e => e.tagName") == "SELECT":
                target.select_option(value)
            else:
                target.fill(value)
        board.locator("#detail .action-forms").get_by_role("button", name=submit).click()

    outcome = board.locator("#detail .outcome")
    act("Priority", "#detail-priority", "2", "Set priority")
    expect(board.locator(f"#queue tr[data-incident='{first}'] .prio")).to_have_text("P2")
    act("Note", "#incident-note", "caller called back: louder", "Add note")
    expect(board.locator("#timeline")).to_contain_text("louder")
    act("Merge / link", "#other-incident", other, "Link to it")
    expect(outcome).to_contain_text(f"Linked to {other}")
    act("Police support", "#police-note", "crowd growing", "Request police support")
    expect(board.locator("#timeline")).to_contain_text("police support requested by ana: crowd growing")

    on_call = board.locator("#on-call li[data-unit='PO61']")
    on_call.get_by_label("New status for PO61").select_option("onscene")
    on_call.get_by_role("button", name="Set status").click()
    expect(board.locator("#units tr[data-unit='PO61']")).to_contain_text("On scene")
    on_call.get_by_role("button", name="Take PO61 off").click()
    expect(board.locator("#units tr[data-unit='PO61']")).to_contain_text("Available")
    expect(board.locator("#on-call")).to_contain_text("No unit on this call yet")

    board.locator("#status-unit").fill("PO62")
    board.locator("#status-value").select_option("break")
    board.locator("#unit-status-form button").click()
    expect(board.locator("#units tr[data-unit='PO62']")).to_contain_text("Break")

    href = toolbar.get_by_role("link", name="EIDO").get_attribute("href")
    assert href is not None
    eido = board.request.get(f"{hub.http}{href}")
    assert eido.ok and json.dumps(eido.json()).count(first) >= 1

    board.locator("#traffic-toggle").click()
    expect(board.locator("#traffic")).to_contain_text("EMERGENCY TRAFFIC ONLY")
    board.locator("#traffic-toggle").click()
    expect(board.locator("#traffic")).to_be_hidden()

    act("Close", "#close-note", "music off", "Close call")
    expect(board.locator("#detail-title")).to_contain_text("Closed")
    board.locator("#reopen-reason").fill("caller says it started again")
    board.locator("#detail").get_by_role("button", name="Reopen call").click()
    expect(board.locator(f"#queue tr[data-incident='{first}']")).to_contain_text("Reopened")
    screenshot(board, "board-open-call-actions-1280x720")

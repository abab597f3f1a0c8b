"""The dispatcher board in Chromium: live calls, assign from the recommendation, alarms, hub restarts."""

from __future__ import annotations

from pathlib import Path

import redis as sync_redis
from playwright.sync_api import Page, expect

from protocol.messages import IncidentCreate, RadioAppend, UnitPosition, UnitRoster, UnitStatus
from protocol.state import Location
from server.bus.valkey import EmbeddedValkey
from tests.helpers import HubProcess, S, poll_until, start_hub_process
from tests.static.conftest import HUB_ENV, PHONE, Pages, add_accounts, desk, screenshot, sign_in

CHURCHILL = (53.5444, -113.4897)


def create_call(hub_url: str, address: str = "Churchill Square", at: tuple[float, float] = CHURCHILL) -> str:
    (ack,) = desk(
        hub_url,
        lambda i: IncidentCreate(
            id=i,
            call_type="NOISE",
            priority=3,
            location=Location(address, *at),
            narrative="Loud music",
            caller="J. Tran",
        ),
    )
    assert ack.result is not None
    return ack.result["incident"]


def roster(hub_url: str, unit: str, at: tuple[float, float]) -> None:
    desk(
        hub_url,
        lambda i: UnitRoster(id=i, unit=unit, district="Downtown", capabilities=["first_aid"]),
        lambda i: UnitPosition(id=i, unit=unit, lat=at[0], lon=at[1]),
    )


def open_board(pages: Pages, hub: HubProcess) -> Page:
    board = pages.desktop()
    sign_in(board, hub.http, "ana", "/board/")
    return board


def test_a_call_created_by_another_client_appears_on_the_board(hub: HubProcess, pages: Pages) -> None:
    """A call entered at another console shows in the queue, on the map and with its countdown."""
    board = open_board(pages, hub)
    incident = create_call(hub.url)
    row = board.locator(f"#queue tr[data-incident='{incident}']")
    expect(row).to_contain_text("NOISE")
    expect(row).to_contain_text("Churchill Square")
    expect(row.locator("td.target")).to_contain_text("left")  # P3: counting down to its target
    expect(board.locator("#queue-count")).to_have_text("(1)")
    screenshot(board, "board-call-arrives")


def test_a_call_entered_from_the_keyboard_is_opened_and_assigned_without_a_mouse(hub: HubProcess, pages: Pages) -> None:
    """Alt+N, type, Enter creates the call; the queue opens with arrows and Enter; A assigns the top unit."""
    roster(hub.url, "PO61", CHURCHILL)
    board = open_board(pages, hub)
    expect(board.locator("#units tr[data-unit='PO61']")).to_be_visible()
    board.keyboard.press("Alt+n")
    expect(board.locator("#call-type")).to_be_focused()
    board.keyboard.type("PARKING")  # selects by typing, as in any select
    board.keyboard.press("Tab")
    board.keyboard.press("Tab")
    board.keyboard.type("Jasper Ave & 109 St")
    board.keyboard.press("Tab")
    board.keyboard.type(str(CHURCHILL[0]))
    board.keyboard.press("Tab")
    board.keyboard.type(str(CHURCHILL[1]))
    board.keyboard.press("Enter")
    expect(board.locator("#queue tr")).to_have_count(1)
    row = board.locator("#queue tr").first
    expect(row).to_contain_text("PARKING")
    board.keyboard.press("Alt+q")
    expect(row).to_be_focused()
    board.keyboard.press("Enter")
    expect(board.locator("#recs button.assign").first).to_have_text("Assign PO61")
    board.keyboard.press("a")
    expect(board.locator("#units tr[data-unit='PO61']")).to_contain_text("Dispatched")
    expect(row).to_contain_text("PO61*")


def test_assign_from_the_recommendation_shows_on_the_officer_app(hub: HubProcess, pages: Pages) -> None:
    """The board ranks the officer's unit first (by the phone's own position); one click assigns it,
    and the officer app shows the call with its address."""
    roster(hub.url, "PO61", (53.60, -113.41))  # far away, until the phone reports
    officer = pages.phone(*CHURCHILL)
    sign_in(officer, hub.http, "u61", "/officer/")
    expect(officer.locator("#geo")).to_contain_text("Sharing your location")
    board = open_board(pages, hub)
    incident = create_call(hub.url)
    board.locator(f"#queue tr[data-incident='{incident}']").click()
    first = board.locator("#recs button.assign").first
    expect(first).to_have_text("Assign PO61")
    screenshot(board, "board-recommendation")
    first.click()
    expect(board.locator("#detail #on-call")).to_contain_text("PO61 (primary)")
    expect(officer.locator("#assignment-title")).to_contain_text("NOISE")
    expect(officer.locator("#assignment-body .address")).to_have_text("Churchill Square")
    expect(officer.locator("#my-status")).to_have_text("Dispatched")
    screenshot(officer, "officer-assignment-phone")
    # and the board at phone size still shows the call and the unit
    board.set_viewport_size(PHONE)
    expect(board.locator(f"#queue tr[data-incident='{incident}']")).to_be_visible()
    screenshot(board, "board-phone")


def test_a_panic_stays_on_the_board_across_reloads_until_acknowledged(hub: HubProcess, pages: Pages) -> None:
    """Holding the officer's panic control raises the board's alarm (in words, not only colour), the unit
    flashes on the map; a reload keeps it; Acknowledge clears it for good."""
    roster(hub.url, "PO61", CHURCHILL)
    officer = pages.phone(*CHURCHILL)
    sign_in(officer, hub.http, "u61", "/officer/")
    board = open_board(pages, hub)
    panic = officer.locator("#panic")
    box = panic.bounding_box()
    assert box is not None
    officer.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    officer.mouse.down()
    officer.wait_for_timeout(1300)  # the control needs a deliberate one-second hold
    officer.mouse.up()
    alarm = board.locator("#alarms .alarm").first
    expect(alarm).to_contain_text("PANIC")
    expect(alarm).to_contain_text("PO61")
    expect(alarm).to_have_attribute("role", "alert")
    expect(board.locator(".unit-flash[data-unit='PO61']")).to_be_visible()
    expect(board.locator("#units tr[data-unit='PO61']")).to_contain_text("EMERGENCY")
    expect(officer.locator("#panic-state")).to_contain_text("PANIC SENT")
    screenshot(board, "board-panic-alarm")
    screenshot(officer, "officer-panic-sent-phone")

    board.reload()
    expect(board.locator("#connection")).to_have_attribute("data-state", "live")
    expect(board.locator("#alarms .alarm").first).to_contain_text("PANIC")  # latched across the reload

    board.locator("#alarms .alarm button.ack").first.click()
    expect(board.locator("#alarms")).to_be_hidden()
    board.reload()
    expect(board.locator("#connection")).to_have_attribute("data-state", "live")
    expect(board.locator("#units tr[data-unit='PO61']")).to_be_visible()
    expect(board.locator("#alarms .alarm")).to_have_count(0)


def test_the_board_recovers_after_the_hub_restarts_and_shows_what_happened_meanwhile(
    tmp_path: Path, pages: Pages, valkey: EmbeddedValkey, postgres_url: str
) -> None:
    """The board's hub stops; work goes on through another hub; when the first is back the same page
    (not reloaded) reconnects, says it is live again, and holds what happened while it was away."""
    redis_url = valkey.url
    sync_redis.Redis.from_url(redis_url).flushall()
    add_accounts(tmp_path / "a", postgres_url)
    shared = {**HUB_ENV, "DATABASE_URL": postgres_url}  # two hosts: one Redis, one records store
    first = start_hub_process(tmp_path / "a", redis_url=redis_url, env=shared)
    other = start_hub_process(tmp_path / "b", redis_url=redis_url, env=shared)
    try:
        first.wait_healthy(30 * S)
        other.wait_healthy(30 * S)
        roster(first.url, "PO61", CHURCHILL)
        board = open_board(pages, first)
        board.evaluate("window.sameDocument = true")
        expect(board.locator("#units tr[data-unit='PO61']")).to_contain_text("Available")

        first.stop()
        expect(board.locator("#connection")).to_have_attribute("data-state", "reconnecting")
        expect(board.locator("#connection")).to_contain_text("Reconnecting")
        screenshot(board, "board-reconnecting")
        meanwhile = create_call(other.url, "Rogers Place", (53.5469, -113.4978))
        desk(
            other.url,
            lambda i: UnitStatus(id=i, unit="PO61", status="break"),
            lambda i: RadioAppend(id=i, channel="main", text="PO61 on break at Rogers Place", unit="PO61"),
        )

        restarted = start_hub_process(tmp_path / "a", redis_url=redis_url, port=first.port, env=shared)
        try:
            restarted.wait_healthy(30 * S)
            expect(board.locator("#connection")).to_have_attribute("data-state", "live")
            expect(board.locator(f"#queue tr[data-incident='{meanwhile}']")).to_contain_text("Rogers Place")
            expect(board.locator("#units tr[data-unit='PO61']")).to_contain_text("Break")
            expect(board.locator("#radio-log")).to_contain_text("PO61 on break at Rogers Place")
            assert board.evaluate("window.sameDocument") is True  # resumed, not reloaded
            screenshot(board, "board-after-hub-restart")
        finally:
            restarted.stop()
    finally:
        first.stop()
        other.stop()


def test_unit_positions_move_markers_in_place(hub: HubProcess, pages: Pages) -> None:
    """Positions arrive batched and move the unit's marker; the unit row is updated, not rebuilt."""
    roster(hub.url, "PO61", CHURCHILL)
    board = open_board(pages, hub)
    row = board.locator("#units tr[data-unit='PO61']")
    expect(row).to_be_visible()
    board.evaluate("window.po61Row = document.querySelector(\"#units tr[data-unit='PO61']\")")
    desk(hub.url, lambda i: UnitPosition(id=i, unit="PO61", lat=53.5469, lon=-113.4978))
    moved = "dispatchBoard.state.positions.get('PO61')?.lat === 53.5469"
    poll_until(lambda: board.evaluate(moved), 10 * S, "the board has PO61's new position")
    expect(row.locator("td.seen")).to_contain_text("ago")
    assert board.evaluate("window.po61Row === document.querySelector(\"#units tr[data-unit='PO61']\")")
    assert board.evaluate("JSON.stringify(localStorage).includes('eyJ')") is False  # no token in storage

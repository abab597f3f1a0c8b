"""The board with a big shift: 500 units and 200 open incidents, positions arriving in batches."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from protocol.messages import IncidentCreate, UnitPosition, UnitRoster
from protocol.state import Location
from tests.helpers import S, poll_until
from tests.static.conftest import Pages, browser_hub, desk, screenshot
from tests.static.test_board import open_board

UNITS = [f"U{n:03d}" for n in range(1, 501)]
# One console sends the whole roster here: lift the per-connection command rate for this hub.
FAST = {"DISPATCH_COMMANDS_PER_S": "100000", "DISPATCH_COMMANDS_BURST": "100000"}


def _spot(n: int, shift: float = 0.0) -> tuple[float, float]:
    return 53.47 + (n % 25) * 0.006 + shift, -113.62 + (n // 25) * 0.009


def test_500_units_and_200_incidents_are_drawn_and_updated_in_place(tmp_path: Path, pages: Pages) -> None:
    """Every unit and call is on the board and the map; a batch of 500 moves updates the same rows and markers."""
    hub = browser_hub(tmp_path / "hub", env=FAST)
    try:
        roster = [lambda i, u=u: UnitRoster(id=i, unit=u, district="Downtown") for u in UNITS]
        placed = [
            lambda i, n=n, u=u: UnitPosition(id=i, unit=u, lat=_spot(n)[0], lon=_spot(n)[1])
            for n, u in enumerate(UNITS)
        ]
        calls = [
            lambda i, n=n: IncidentCreate(
                id=i, call_type="NOISE", priority=1 + n % 5, location=Location(f"Call {n}", *_spot(n, 0.002))
            )
            for n in range(200)
        ]
        desk(hub.url, *roster, *placed, *calls)
        board = open_board(pages, hub)
        expect(board.locator("#units tr")).to_have_count(500)
        expect(board.locator("#queue tr")).to_have_count(200)
        expect(board.locator("#queue tr").first.locator(".prio")).to_have_text("P1")  # most urgent first
        poll_until(lambda: board.evaluate("dispatchBoard.map.units.size") == 500, 20 * S, "500 unit markers")
        assert board.evaluate("dispatchBoard.map.incidents.size") == 200
        board.evaluate("window.rowsBefore = [...document.querySelectorAll('#units tr')]")
        screenshot(board, "board-500-units-200-calls")

        moves = [
            lambda i, n=n, u=u: UnitPosition(id=i, unit=u, lat=_spot(n, 0.001)[0], lon=_spot(n)[1])
            for n, u in enumerate(UNITS)
        ]
        desk(hub.url, *moves)
        moved = "[...dispatchBoard.state.positions.values()].filter(p => p.unit.startsWith('U')).length"
        target = f"dispatchBoard.map.units.get('U500').getLatLng().lat.toFixed(4) === '{_spot(499, 0.001)[0]:.4f}'"
        poll_until(lambda: board.evaluate(moved) == 500 and board.evaluate(target), 20 * S, "every unit moved")
        same_rows = "[...document.querySelectorAll('#units tr')].every((tr, i) => tr === window.rowsBefore[i])"
        assert board.evaluate(same_rows), "unit rows were rebuilt instead of updated in place"
    finally:
        hub.stop()

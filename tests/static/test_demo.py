"""The README's demo as a newcomer meets it: `DEMO=1 make serve`, sign in with the printed account,
and the board is alive: units moving, calls arriving; the person takes a call before the
assistant, and PO60 waits off duty until the person goes on duty in the officer app."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.helpers import ROOT, S, free_port, healthy, poll_until
from tests.static.conftest import HUB_ENV, Pages, screenshot

pytestmark = pytest.mark.slow


def test_demo_shift_brings_the_board_to_life(tmp_path: Path, pages: Pages) -> None:
    """The printed dispatcher account opens a board with the demo's units and calls, and assigns
    the first call from its recommendation: the assistant, told by DEMO_ASSIST_* to wait, leaves
    it alone. The officer account opens the app for the human unit, off duty until it goes on."""
    port = free_port()
    env = {
        **os.environ,
        **HUB_ENV,
        "PORT": str(port),
        "DATA_DIR": str(tmp_path / "var"),
        "DEMO": "1",
        "DEMO_ASSIST_AFTER_S": "600",
        "DEMO_ASSIST_ROUTINE_AFTER_S": "600",
    }
    env.pop("REDIS_URL", None)
    env.pop("DISPATCH_SECRET", None)
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            ["make", "--no-print-directory", "serve"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        http = f"http://127.0.0.1:{port}"
        poll_until(lambda: proc.poll() is None and healthy(http), 120 * S, "the demo hub healthy")
        accounts = poll_until(
            lambda: dict(re.findall(r"^\s+(dispatcher|officer)\s+/ (\S+)", log_path.read_text(), re.M)) or None,
            30 * S,
            "the demo accounts printed",
        )
        board = pages.desktop()
        board.goto(http)
        board.fill("#user", "dispatcher")
        board.fill("#password", accounts["dispatcher"])
        board.click("#signin-button")
        board.wait_for_url("**/board/")
        expect(board.locator("#units tr")).to_have_count(11)  # ten simulated units and the human's PO60
        expect(board.locator("#queue tr").first).to_be_visible(timeout=60_000 * S)  # calls arrive
        assert re.search(r"assistant leaves P1/P2 calls to you for 600 s", log_path.read_text())
        screenshot(board, "demo-board")
        board.locator("#queue tr").first.click()
        first = board.locator("#recs button.assign").first
        expect(first).to_be_visible()
        unit = (first.text_content() or "").removeprefix("Assign ")
        assert unit.startswith("PO") and unit != "PO60"  # PO60 is off duty: not offered
        first.click()
        expect(board.locator("#detail #on-call")).to_contain_text(f"{unit} (primary)")

        officer = pages.phone()
        officer.goto(http)
        officer.fill("#user", "officer")
        officer.fill("#password", accounts["officer"])
        officer.click("#signin-button")
        officer.wait_for_url("**/officer/")
        expect(officer.locator("#unit-title")).to_have_text("Unit PO60")
        expect(officer.locator("#my-status")).to_have_text("Off duty")  # nobody was there to check in
        officer.click("#status-buttons button[data-status='available']")  # going on duty
        expect(officer.locator("#my-status")).to_have_text("Available")
        screenshot(officer, "demo-officer-phone")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30 * S)

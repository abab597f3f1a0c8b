"""desk: how many actions, and how long, from Alt+N to a P1 dispatched at a gazetteer place, in Chromium.

A hub of its own; one officer (PO61) signed in on the officer app in a phone-sized page, with a
position at the place; the dispatcher board at 1280x720. Each run the dispatcher presses Alt+N,
types the call type, Tab, Tab, types the place, Enter (the top suggestion), Ctrl+Enter (create: the
call opens), A (assign the top unit); typed text counts as one action per field. The time runs from
the first key to the officer app showing the new call (its title changes), measured on one clock in
this process. Between runs the call is closed from the board's Python twin so the unit is free.

    python -m loadtest.desk --runs 10 --json desk.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

from playwright.sync_api import Page, expect, sync_playwright

from loadtest.browser import CHROMIUM, FLAGS, console, sign_in
from loadtest.hubproc import start_hub
from loadtest.machine import MachineWatch
from protocol.messages import IncidentClose, UnitPosition, UnitRoster

__all__ = ["desk", "main"]

PLACE = ("churchill lrt", 53.5444, -113.4887)


def _one_call(board: Page, officer: Page) -> tuple[int, float, str]:
    """Dispatch one P1 from the keyboard. -> (actions, first key to the officer's screen in ms, incident)."""
    actions = 0

    def key(name: str) -> None:
        nonlocal actions
        board.keyboard.press(name)
        actions += 1

    def typed(text: str) -> None:
        nonlocal actions
        board.keyboard.type(text)
        actions += 1

    before = officer.locator("#assignment-title").inner_text()
    began = time.perf_counter()
    key("Alt+n")
    typed("PANIC")
    key("Tab")
    key("Tab")
    typed(PLACE[0])
    expect(board.locator("#place-list [role=option]").first).to_contain_text("Churchill LRT station")
    key("Enter")
    key("Control+Enter")
    expect(board.locator("#recs button.assign").first).to_be_visible()
    key("a")
    expect(officer.locator("#assignment-title")).not_to_have_text(before, timeout=30_000)
    expect(officer.locator("#assignment-title")).to_contain_text("PANIC/DURESS ALARM")
    shown_ms = (time.perf_counter() - began) * 1000
    incident = board.locator("#detail-title").inner_text().split(" ")[0]
    return actions, shown_ms, incident


def desk(args: argparse.Namespace) -> dict[str, Any]:
    with start_hub() as hub:
        board_token = hub.token("desk", "dispatcher")
        hub.token("po61", "officer", "PO61")
        console(
            hub,
            board_token,
            lambda i: UnitRoster(id=i, unit="PO61", district="Downtown"),
            lambda i: UnitPosition(id=i, unit="PO61", lat=PLACE[1], lon=PLACE[2]),
        )
        watch = MachineWatch()
        runs: list[dict[str, Any]] = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            board = browser.new_context(viewport={"width": 1280, "height": 720}).new_page()
            phone = browser.new_context(
                viewport={"width": 390, "height": 844},
                is_mobile=True,
                has_touch=True,
                geolocation={"latitude": PLACE[1], "longitude": PLACE[2], "accuracy": 8},
                permissions=["geolocation"],
            ).new_page()
            sign_in(phone, f"http://127.0.0.1:{hub.port}", "po61", "/officer/")
            sign_in(board, f"http://127.0.0.1:{hub.port}", "desk", "/board/")
            for n in range(args.runs):
                actions, ms, incident = _one_call(board, phone)
                runs.append({"run": n + 1, "actions": actions, "first_key_to_officer_ms": round(ms, 1)})
                print(
                    f"run {n + 1}: {actions} actions, officer shows the call {ms:.0f} ms after the first key",
                    file=sys.stderr,
                )
                console(
                    hub,
                    board_token,
                    lambda i, inc=incident: IncidentClose(id=i, incident=inc, disposition="no action required"),
                )
                expect(board.locator(f"#queue tr[data-incident='{incident}']")).to_have_count(0)
                expect(phone.locator("#assignment-title")).to_have_text("No assignment", timeout=30_000)
            browser.close()
        times = sorted(r["first_key_to_officer_ms"] for r in runs)
        return {
            "scenario": "desk",
            "runs": runs,
            "actions": max(r["actions"] for r in runs),
            "first_key_to_officer_ms": {
                "p50": round(statistics.median(times), 1),
                "max": times[-1],
                "min": times[0],
            },
            "machine": watch.result(),
        }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m loadtest.desk", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--json", help="write the report here")
    args = parser.parse_args()
    report = desk(args)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as out:
            out.write(text + "\n")


if __name__ == "__main__":
    main()

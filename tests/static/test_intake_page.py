"""The intake dead-letter page: 311 staff see what could not be filed, and why, and replay it."""

from __future__ import annotations

import sqlite3

import redis
from playwright.sync_api import expect

from server.intake.lane import REFERRALS
from tests.helpers import HubProcess, poll_until
from tests.static.conftest import Pages, screenshot, sign_in


def test_311_staff_see_a_dead_letter_and_replay_it(hub: HubProcess, pages: Pages) -> None:
    """A referral for a service the policy no longer has cannot be filed: it is listed with the reason; Replay
    queues it again (and it is listed again, still unfileable), and the first is marked as replayed by rio."""
    with redis.Redis(unix_socket_path=str(hub.data_dir / "valkey.sock")) as r:
        r.xadd(
            REFERRALS.stream,
            {
                "ref": "900001",
                "kind": "referral",
                "key": "k-900001",
                "at": "1795000000000",
                "by": "old-crm",
                "body": '{"service_code": "TREES", "address_string": "Churchill Square"}',
            },
        )
    db = hub.data_dir / "records.sqlite3"

    def letters() -> list[tuple[int, str | None]]:
        with sqlite3.connect(db) as conn:
            return list(conn.execute("SELECT id, replayed_by FROM intake_dead_letters ORDER BY id"))

    poll_until(letters, 20, "the hub's intake worker dead-letters the entry")
    page = pages.desktop()
    sign_in(page, hub.http, "rio", "/referral/", live=False)
    page.goto(f"{hub.http}/intake/")
    row = page.locator("#rows tr")
    expect(row).to_have_count(1)
    expect(row.first).to_contain_text("900001")
    expect(row.first).to_contain_text("no service 'TREES'")
    screenshot(page, "intake-dead-letters-desktop")
    page.get_by_role("button", name="Replay 900001").click()
    poll_until(lambda: len(letters()) == 2, 20, "the replayed entry is dead-lettered again")
    assert letters()[0][1] == "rio"
    page.click("#refresh")
    expect(row).to_have_count(1)  # the new one; the replayed one only with "Show replayed ones too"
    page.check("#show-all")
    expect(page.locator("#rows tr.replayed")).to_contain_text("replayed by rio")

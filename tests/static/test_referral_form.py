"""The 311 referral form: 311 staff post an Open311 request with the sign-in cookie and watch its status."""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3

from playwright.sync_api import expect

from tests.helpers import ROOT, HubProcess, poll_until
from tests.static.conftest import PASSWORDS, PHONE, Pages, screenshot, sign_in


def test_strangers_are_sent_to_sign_in_and_come_back(hub: HubProcess, pages: Pages) -> None:
    """Not signed in: /referral/ sends to sign in and, once signed in as 311 staff, back to the form."""
    page = pages.desktop()
    page.goto(f"{hub.http}/referral/")
    page.wait_for_url("**/signin/?next=%2Freferral%2F")
    page.fill("#user", "rio")
    page.fill("#password", PASSWORDS["rio"])
    page.click("#signin-button")
    page.wait_for_url("**/referral/")
    expect(page.locator("#whoami")).to_have_text("rio (intake_311)")


def test_311_staff_refer_a_noise_complaint_and_see_it_open_with_dispatch(hub: HubProcess, pages: Pages) -> None:
    """Signing in lands 311 staff on the form; Noise complaint's questions, a map click and Send make a request
    whose id is shown and whose status is polled until dispatch has it open."""
    page = pages.desktop()
    sign_in(page, hub.http, "rio", "/referral/", live=False)
    expect(page.locator("#service option", has_text="Noise complaint")).to_have_count(1)
    screenshot(page, "referral-desktop")

    page.select_option("#service", label="Noise complaint")
    expect(page.locator("#service-description")).to_contain_text("Loud music")
    expect(page.locator("#attr-SOURCE option")).to_have_count(6)  # "Choose…" and five sources
    page.click("#send")  # nothing answered yet: told so before anything is sent
    expect(page.locator("#error-list li")).to_have_count(3)
    expect(page.locator("#attr-SOURCE")).to_have_attribute("aria-invalid", "true")

    page.select_option("#attr-SOURCE", "music")
    page.select_option("#attr-ONGOING", "yes")
    page.locator("#map").click()  # the middle of the service area
    expect(page.locator("#lat")).to_have_value(re.compile(r"^5\d\.\d{6}$"))
    expect(page.locator("#long")).to_have_value(re.compile(r"^-11\d\.\d{6}$"))
    expect(page.locator("#area-warning")).to_have_text("")  # inside the service area: nothing to warn about
    page.fill("#description", "Party with loud music on the balcony, third floor.")
    page.fill("#first_name", "Jo")
    page.fill("#phone", "780-555-0199")
    page.set_viewport_size(PHONE)
    screenshot(page, "referral-phone-filled")
    page.click("#send")

    request_id = page.locator("#request-id")
    expect(request_id).to_have_text(re.compile(r"^\S+$"))
    expect(page.locator("#sent-summary")).to_contain_text("Noise complaint at 5")
    expect(page.locator("#service-notice")).to_contain_text("dispatch")
    expect(page.locator("#request-status")).to_have_text("open — Received by dispatch; waiting for an officer.")
    screenshot(page, "referral-phone-sent")

    uri = f"file:{hub.data_dir / 'records.sqlite3'}?mode=ro"
    sql = "SELECT service_code, submitted_by, lat, lon, attributes, first_name FROM service_requests WHERE id=?"

    def filed() -> list[tuple[object, ...]]:
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=5)) as db:
            return db.execute(sql, (request_id.inner_text(),)).fetchall()

    [(code, by, lat, lon, attributes, first_name)] = poll_until(filed, 10, "the request on record")
    assert (code, by, first_name) == ("NOISE", "staff:rio", "Jo")
    assert lat is not None and lon is not None
    assert json.loads(attributes) == {"SOURCE": "music", "ONGOING": "yes"}


def test_a_point_far_outside_the_service_area_is_warned_about_and_can_still_be_sent(
    hub: HubProcess, pages: Pages
) -> None:
    """Coordinates typed (pasted as one pair) for a place about 250 km south of the area: a warning in words
    appears at once beside them, the map shows both, and Send still makes a request with that point."""
    page = pages.desktop()
    sign_in(page, hub.http, "rio", "/referral/", live=False)
    page.select_option("#service", label="Noise complaint")
    page.select_option("#attr-SOURCE", "music")
    page.select_option("#attr-ONGOING", "yes")
    warning = page.locator("#area-warning")
    expect(warning).to_have_attribute("role", "status")
    expect(warning).to_have_text("")

    page.fill("#lat", "51.148, -113.5")  # read to the caller off a phone's map
    page.keyboard.press("Tab")
    expect(page.locator("#lat")).to_have_value("51.148000")
    expect(page.locator("#long")).to_have_value("-113.500000")
    expect(warning).to_have_text(
        "This point is outside the service area (about 250 km from it): check it, or send it anyway."
    )
    expect(warning).to_be_visible()
    assert "area-warning" in (page.locator("#lat").get_attribute("aria-describedby") or "")
    screenshot(page, "referral-desktop-outside-area")

    page.fill("#lat", "53.5461")  # downtown: no warning
    page.fill("#long", "-113.4938")
    page.keyboard.press("Tab")
    expect(warning).to_have_text("")
    page.fill("#lat", "51.148")
    page.fill("#long", "-113.5")
    page.keyboard.press("Tab")
    expect(warning).to_contain_text("about 250 km")
    page.fill("#description", "Caller is visiting from out of town; says the party is here.")
    page.click("#send")

    request_id = page.locator("#request-id")
    expect(request_id).to_have_text(re.compile(r"^\S+$"))
    expect(page.locator("#sent-summary")).to_contain_text("outside the service area")
    expect(page.locator("#request-status")).to_have_text(re.compile(r"^open — "))  # accepted, as any other

    uri = f"file:{hub.data_dir / 'records.sqlite3'}?mode=ro"

    def filed() -> list[tuple[object, ...]]:
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=5)) as db:
            sql = "SELECT lat, lon FROM service_requests WHERE id=?"
            return db.execute(sql, (request_id.inner_text(),)).fetchall()

    [(lat, lon)] = poll_until(filed, 10, "the request on record")
    assert (lat, lon) == (51.148, -113.5)


def test_geo_tells_inside_from_outside_holes_included_and_how_far(pages: Pages) -> None:
    """static/common/geo.js on its own: ray casting over Polygon and MultiPolygon rings with a hole, the marked
    service area picked out of its districts, and distances to the nearest edge."""
    page = pages.desktop()
    source = (ROOT / "static" / "common" / "geo.js").read_text()
    found = page.evaluate(
        """async (source) => {
            const g = await import("data:text/javascript;base64," + btoa(source));
            const square = [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]];
            const hole = [[4, 4], [6, 4], [6, 6], [4, 6], [4, 4]];
            const donut = g.polygonsOf({ type: "Polygon", coordinates: [square, hole] });
            const two = g.polygonsOf({
                type: "Feature",
                geometry: { type: "MultiPolygon", coordinates: [[square], [[[20, 0], [30, 0], [30, 5], [20, 0]]]] },
            });
            const feature = (properties, ring) => ({
                type: "Feature", properties, geometry: { type: "Polygon", coordinates: [ring] },
            });
            const marked = g.serviceArea({
                type: "FeatureCollection",
                features: [feature({ district: "North" }, hole), feature({ role: "service_area" }, square)],
            });
            return {
                inDonut: g.inside(donut, 2, 2),
                inHole: g.inside(donut, 5, 5),
                outside: g.inside(donut, 5, 11),
                inSecond: g.inside(two, 1, 28),
                besideSecond: g.inside(two, 4, 22),
                marked: marked.length === 1 && marked[0][0].length === 5 && marked[0][0][1][0] === 10,
                kmInside: g.kmFrom(donut, 2, 2),
                kmInHole: g.kmFrom(donut, 5, 5),
                kmNorth: g.kmFrom(donut, 11, 5),
                kmCorner: g.kmFrom(donut, -1, -1),
                nothing: g.polygonsOf(null).length + g.polygonsOf({ type: "Point", coordinates: [1, 2] }).length,
                rough: [0.4, 7.4, 143, 249.97].map(g.roughKm),
            };
        }""",
        source,
    )
    assert found.pop("rough") == ["less than 1 km", "7 km", "145 km", "250 km"]
    km = {k: found.pop(k) for k in ("kmInside", "kmInHole", "kmNorth", "kmCorner")}
    assert found == {
        "inDonut": True,
        "inHole": False,
        "outside": False,
        "inSecond": True,
        "besideSecond": False,
        "marked": True,
        "nothing": 0,
    }
    assert km["kmInside"] == 0
    assert 110 < km["kmInHole"] < 112 and 110 < km["kmNorth"] < 112  # one degree of latitude
    assert 156 < km["kmCorner"] < 158  # to the corner, not to either edge's line

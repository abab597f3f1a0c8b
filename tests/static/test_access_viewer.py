"""The redaction viewer in Chromium: access staff log a request, upload a document, open it (its
pages drawn by pdf.js), draw a box with a reason on a page; the box shows on the page and in the
redaction log, survives a reload, and every phone number is boxed at once. Screenshots saved."""

from __future__ import annotations

from pathlib import Path

import httpx
import weasyprint
from playwright.sync_api import Page, expect

from server.access.roles import Role
from tests.helpers import HubProcess, test_token
from tests.static.conftest import Pages, screenshot
from tests.static.test_case_workspace import WIDE


def access_page(pages: Pages, hub: HubProcess, user: str = "ari") -> Page:
    page = pages.desktop()
    page.set_viewport_size(WIDE)  # type: ignore[arg-type]
    page.context.add_cookies(
        [{"name": "dispatch_token", "value": test_token(user, Role.ACCESS_STAFF), "url": hub.http}]
    )
    page.goto(f"{hub.http}/access/")
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    return page


def test_a_box_drawn_with_a_reason_shows_on_the_page_and_in_the_log(
    hub: HubProcess, pages: Pages, tmp_path: Path
) -> None:
    page = access_page(pages, hub)
    page.locator("#new-request summary").click()
    page.get_by_label("Requester's name").fill("Sam Asker")
    page.get_by_label("What they ask for, in their words").fill("The notes about my call in May")
    page.get_by_label("Received by").select_option("mail")
    page.get_by_role("button", name="Log the request").click()
    expect(page.locator("#request-title")).to_contain_text("AR-")
    number = page.locator("#request-title").inner_text().split(" ")[0]

    doc = tmp_path / "notes.pdf"
    pdf = weasyprint.HTML(
        string="<h1>Officer notes</h1><p>Witness Pat Doe, 780-555-0188, saw it.</p><p>Second witness: 587-555-0101.</p>"
    ).write_pdf()
    assert pdf is not None
    doc.write_bytes(pdf)
    page.get_by_label("Upload a document (PDF, PNG, JPEG)").set_input_files(str(doc))
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator(".records li")).to_have_count(1)
    page.locator(".records li button").click()
    sheet = page.locator("#viewer .sheet").first
    expect(sheet).to_be_visible()
    expect(page.locator("#viewer canvas").first).to_be_visible()
    painted = page.evaluate(
        """() => { const c = document.querySelector('#viewer canvas');
             const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
             let ink = 0; for (let i = 0; i < px.length; i += 4) if (px[i] < 128) ink++; return ink; }"""
    )
    assert painted > 200  # pdf.js drew the page's text

    page.get_by_label("Reason for boxes drawn").select_option("s.20")
    box = sheet.locator(".overlay").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 40, box["y"] + 30)
    page.mouse.down()
    page.mouse.move(box["x"] + 260, box["y"] + 70, steps=5)
    page.mouse.up()
    drawn = sheet.locator(".box")
    expect(drawn).to_have_count(1)
    expect(drawn).to_have_text("s.20")
    expect(page.locator("#redaction-log tbody tr")).to_have_count(1)
    expect(page.locator("#redaction-log")).to_contain_text("drawn")
    screenshot(page, "access-viewer-box")

    page.get_by_label("or every").select_option("phone")
    page.get_by_label("Reason", exact=True).select_option("s.17")
    page.get_by_role("button", name="Box them all").click()
    expect(page.locator("#status")).to_contain_text("2 places boxed")
    expect(page.locator("#redaction-log tbody tr")).to_have_count(3)

    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    page.locator(f'#log tr[data-key="{number}"]').click()
    page.locator(".records li button").click()
    expect(page.locator("#viewer .sheet .box")).to_have_count(3)
    screenshot(page, "access-viewer-log")
    with httpx.Client(
        base_url=hub.http, headers={"Authorization": f"Bearer {test_token('ari', Role.ACCESS_STAFF)}"}
    ) as http:
        log = http.get(f"/api/access/{number}").json()["request"]["boxes"]
    assert sorted(b["reason"] for b in log) == ["s.17", "s.17", "s.20"] and all(b["by"] == "ari" for b in log)

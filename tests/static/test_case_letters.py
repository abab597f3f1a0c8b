"""Letters and reports in Chromium: a coordinator drafts a letter from a file, the team lead
returns it with comments, the coordinator edits and resubmits it, the team lead approves it and
its PDF opens; the reports page draws its charts and a table downloads as CSV."""

from __future__ import annotations

import csv
import io

from playwright.sync_api import Page, expect

from server.access.roles import Role
from tests.helpers import HubProcess, test_token
from tests.static.conftest import Pages, screenshot
from tests.static.test_case_workspace import WIDE, file_complaint, open_file, workspace


def letters_page(pages: Pages, hub: HubProcess, user: str, role: Role, hash_: str = "") -> Page:
    page = pages.desktop()
    page.set_viewport_size(WIDE)  # type: ignore[arg-type]
    page.context.add_cookies([{"name": "dispatch_token", "value": test_token(user, role), "url": hub.http}])
    page.goto(f"{hub.http}/cases/letters/{hash_}")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    return page


def test_a_letter_is_drafted_returned_edited_and_approved_in_the_browser(hub: HubProcess, pages: Pages) -> None:
    number = file_complaint(hub, name="Dana Example", contact_by="email")
    cora = workspace(pages, hub, "cora")
    open_file(cora, number)
    cora.select_option("#letter-kind", "acknowledgement")
    cora.get_by_role("button", name="Draft", exact=True).click()
    expect(cora.locator("#letter-title")).to_contain_text(number)
    expect(cora.frame_locator("iframe.letter-page").locator("body")).to_contain_text("Dear Dana Example")
    expect(cora.frame_locator("iframe.letter-page").locator("body")).to_contain_text("DRAFT")
    expect(cora.get_by_role("button", name="Approve and issue")).to_have_count(0)  # never one's own
    screenshot(cora, "case-letter-draft")
    cora.get_by_role("button", name="Submit for approval").click()
    expect(cora.locator("#status")).to_contain_text("Submitted")
    letter_id = cora.evaluate("location.hash.slice(1)")

    lena = letters_page(pages, hub, "lena", Role.TEAM_LEAD)
    row = lena.locator(f'#waiting tr[data-key="{letter_id}"]')
    expect(row).to_be_visible()
    row.focus()
    lena.keyboard.press("Enter")
    lena.get_by_label("What should change").fill("Please name the support line in the first paragraph.")
    lena.get_by_role("button", name="Return with comments").click()
    expect(lena.locator("#status")).to_contain_text("Returned")

    cora.reload()
    expect(cora.locator("#letter-body .banner")).to_contain_text("name the support line")
    text = cora.get_by_role("textbox", name="The letter's text")
    text.click()
    cora.keyboard.press("Control+Home")
    cora.keyboard.type("You can call 211 at any time for support. ")
    cora.get_by_role("button", name="Save the text").click()
    expect(cora.locator("#status")).to_contain_text("Saved")
    cora.get_by_role("button", name="Submit for approval").click()
    expect(cora.locator("#status")).to_contain_text("Submitted")

    lena.goto(f"{hub.http}/cases/letters/#{letter_id}")
    expect(lena.frame_locator("iframe.letter-page").locator("body")).to_contain_text("You can call 211 at any time")
    screenshot(lena, "case-letter-review")
    lena.get_by_role("button", name="Approve and issue").click()
    expect(lena.locator("#status")).to_contain_text("Issued as letter PC-L-")
    expect(lena.locator("#pdf")).to_be_visible()
    pdf = lena.request.get(f"{hub.http}/api/cases/letters/{letter_id}/pdf")
    assert pdf.status == 200 and pdf.body().startswith(b"%PDF")
    screenshot(lena, "case-letter-issued")
    # The file's timeline says it was issued.
    open_file(cora_page := workspace(pages, hub, "cora"), number)
    expect(cora_page.locator(".timeline")).to_contain_text("approved and issued")


def test_the_reports_page_draws_its_charts_and_downloads_a_table_as_csv(hub: HubProcess, pages: Pages) -> None:
    for service in ("Edmonton Police Service", "Calgary Police Service", "Calgary Police Service"):
        file_complaint(hub, police_service=service)
    page = pages.desktop()
    page.set_viewport_size(WIDE)  # type: ignore[arg-type]
    page.context.add_cookies([{"name": "dispatch_token", "value": test_token("lena", Role.TEAM_LEAD), "url": hub.http}])
    page.goto(f"{hub.http}/cases/reports/")
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    for canvas in ("#service-chart", "#type-chart", "#clock-chart", "#milestone-chart"):
        drawn = page.evaluate(
            """(sel) => { const c = document.querySelector(sel); const chart = window.Chart.getChart(c);
                 const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                 let painted = 0; for (let i = 3; i < px.length; i += 4) if (px[i]) painted++;
                 return { chart: !!chart, painted }; }""",
            canvas,
        )
        assert drawn["chart"] and drawn["painted"] > 100, (canvas, drawn)
    expect(page.locator("#warnings")).to_be_visible()  # the team lead's flags
    screenshot(page, "case-reports")
    with page.expect_download() as got:
        page.locator('a.csv[data-table="by_service"]').click()
    path = got.value.path()
    assert got.value.suggested_filename.startswith("by_service-")
    rows = list(csv.reader(io.StringIO(path.read_text())))
    assert rows[0][-1] == "total"
    calgary = next(r for r in rows if r[0] == "Calgary Police Service")
    assert int(calgary[-1]) == 2

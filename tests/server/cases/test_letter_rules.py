"""Letters, early warning and reviews, pure: every letter kind renders from a sample file with no
missing merge field; an operator's template naming an unknown field is a clear error; who may
move a letter; how a letter reaches the complainant; early warning fires once per crossing."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pypdfium2
import pytest

from server.access.roles import Role
from server.agency.policy import load_policy
from server.cases.letters import LetterTemplates, TemplateProblem, sample_file
from server.cases.rules import reviews
from server.cases.rules.early_warning import Mark, Threshold, assess, top_percentile, window_start
from server.cases.rules.letters import LetterKind, LetterMove, LetterState, delivery, move, scrub
from server.cases.rules.stages import Refused

DAY = 86_400_000
POLICY = load_policy(None)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.mark.parametrize("kind", list(LetterKind))
def test_every_letter_kind_renders_from_the_sample_file_with_every_field_filled(kind: LetterKind) -> None:
    now = int(time.time() * 1000)
    t = LetterTemplates(POLICY)
    fields = t.fields(sample_file(POLICY, now), kind, "Cora Coordinator", now)
    body = t.render_body(kind, fields)
    page = t.render_page(fields, body, None)
    text = _text(page)
    assert "PC-2026-00042" in text
    # No field rendered empty or as a Python value: every sentence of the template got its words.
    assert "None" not in text and "[]" not in text and "{{" not in text
    assert not re.search(r"\(\s*\)|:\s*\.|\bby\s*\.", text), text
    if kind is not LetterKind.POLICE_NOTICE:
        assert "Dear Alex Sample" in text
        assert "211" in text  # support services named in every letter to a complainant
    assert "On behalf of the Chief Executive" in text


def test_a_template_naming_an_unknown_field_is_a_clear_error_at_preview(tmp_path: Path) -> None:
    (tmp_path / "letters").mkdir()
    (tmp_path / "letters" / "acknowledgement.html.j2").write_text("<p>Dear {{ complainant.nickname }},</p>")
    t = LetterTemplates(POLICY, tmp_path)
    assert t.overridden(LetterKind.ACKNOWLEDGEMENT) and not t.overridden(LetterKind.CLOSING)
    with pytest.raises(TemplateProblem, match="nickname"):
        t.preview(LetterKind.ACKNOWLEDGEMENT)
    with pytest.raises(TemplateProblem, match="line 1"):
        t.preview(LetterKind.CLOSING, source="<p>{% if %}</p>")
    # A good override is used in place of the shipped one.
    (tmp_path / "letters" / "acknowledgement.html.j2").write_text("<p>Hello {{ complainant.name }}.</p>")
    assert "Hello Alex Sample." in t.preview(LetterKind.ACKNOWLEDGEMENT)


def test_merged_text_is_escaped() -> None:
    now = int(time.time() * 1000)
    f = sample_file(POLICY, now)
    f.complainant.name = "<script>alert(1)</script>"
    t = LetterTemplates(POLICY)
    fields = t.fields(f, LetterKind.ACKNOWLEDGEMENT, "cora", now)
    page = t.render_page(fields, t.render_body(LetterKind.ACKNOWLEDGEMENT, fields), None)
    assert "<script>" not in page and "&lt;script&gt;" in page


async def test_the_large_print_letter_is_a_pdf_whose_text_holds_the_names() -> None:
    now = int(time.time() * 1000)
    t = LetterTemplates(POLICY)
    f = sample_file(POLICY, now)
    fields = t.fields(f, LetterKind.DECISION, "Cora Coordinator", now)
    assert fields["format"] == "large_print"  # the sample asked for large print
    pdf = await t.pdf(t.render_page(fields, t.render_body(LetterKind.DECISION, fields), "PC-L-2026-00001"))
    doc = pypdfium2.PdfDocument(pdf)
    text = " ".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    assert "Alex Sample" in text and "PC-L-2026-00001" in text and "Jordan Officer" in text
    assert "Not sustained" in text  # a finding explained, never a bare word


def test_only_someone_other_than_the_author_approves_and_only_the_team_lead_or_acting() -> None:
    submitted = LetterState.SUBMITTED
    with pytest.raises(Refused, match="another person"):
        move(LetterMove.APPROVE, submitted, Role.TEAM_LEAD, "lena", "lena", acting_for_lead=False)
    with pytest.raises(Refused, match="team lead"):
        move(LetterMove.APPROVE, submitted, Role.CASE_COORDINATOR, "carl", "cora", acting_for_lead=False)
    with pytest.raises(Refused, match="another person"):
        move(LetterMove.APPROVE, submitted, Role.CASE_COORDINATOR, "cora", "cora", acting_for_lead=True)
    assert (
        move(LetterMove.APPROVE, submitted, Role.TEAM_LEAD, "lena", "cora", acting_for_lead=False) is LetterState.ISSUED
    )
    assert (
        move(LetterMove.APPROVE, submitted, Role.CASE_COORDINATOR, "carl", "cora", acting_for_lead=True)
        is LetterState.ISSUED
    )
    with pytest.raises(Refused, match="issued"):
        move(LetterMove.EDIT, LetterState.ISSUED, Role.TEAM_LEAD, "lena", "cora", acting_for_lead=False)
    with pytest.raises(Refused):
        move(LetterMove.SUBMIT, LetterState.DRAFT, Role.ADMIN, "root", "cora", acting_for_lead=False)
    assert (
        move(LetterMove.RETURN, submitted, Role.TEAM_LEAD, "lena", "cora", acting_for_lead=False)
        is LetterState.RETURNED
    )
    assert (
        move(LetterMove.EDIT, LetterState.RETURNED, Role.CASE_COORDINATOR, "cora", "cora", acting_for_lead=False)
        is LetterState.DRAFT
    )


def test_the_channel_and_format_follow_the_complainants_wishes() -> None:
    d = delivery("email", "Large print please", "a@x.org", "780-555-0100", "1 Main St")
    assert (d.channel, d.format, d.address) == ("email", "large_print", "a@x.org")
    assert delivery("mail", "", "a@x.org", "", "1 Main St, Edmonton").channel == "mail"
    assert delivery("none", "", "a@x.org", "", "").channel == "file"
    phoned = delivery("phone", "braille", "", "780-555-0100", "1 Main St")
    assert phoned.channel == "phone" and phoned.format == "braille" and "by mail" in phoned.note
    assert delivery("email", "", "", "", "2 Oak Ave").channel == "mail"  # no email given: the address they did


def test_scrub_withholds_names_and_contact_details() -> None:
    said = scrub(
        "Waiting on Jordan Officer's notes; Alex Sample at alex@example.org or 780 555 0142.",
        ["Jordan Officer", "Alex Sample"],
    )
    assert "Jordan" not in said and "Alex" not in said and "@" not in said and "555" not in said
    assert said.startswith("Waiting on [withheld]")
    # A first name alone, and part of an address, are withheld too.
    alone = scrub("Called Alex back; left notes at 12 Sample Road.", ["Alex Sample", "12 Sample Road NW, Edmonton"])
    assert "Alex" not in alone and "Sample Road" not in alone and "back" in alone


def test_early_warning_fires_once_when_crossed_and_again_only_on_a_new_crossing() -> None:
    t = Threshold("3 in 12 months", 3, 12)
    now = 1_790_000_000_000
    marks = [Mark(now - 300 * DAY, "F1", "discourtesy", 3), Mark(now - 100 * DAY, "F2", "discourtesy", 3)]
    crossed, above = assess([t], marks, now, frozenset())
    assert crossed == [] and above == frozenset()
    marks.append(Mark(now - DAY, "F3", "neglect_of_duty", 3))
    crossed, above = assess([t], marks, now, above)
    assert [c.threshold.name for c in crossed] == ["3 in 12 months"] and len(crossed[0].marks) == 3
    # A fourth allegation while above: no new flag.
    marks.append(Mark(now, "F4", "discourtesy", 3))
    again, above = assess([t], marks, now, above)
    assert again == [] and above == {"3 in 12 months"}
    # Months later the old ones leave the window: below again, then a new crossing fires anew.
    later = now + 270 * DAY  # F1 and F2 are out of the window; F3 and F4 remain
    quiet, above = assess([t], marks, later, above)
    assert quiet == [] and above == frozenset()
    marks.append(Mark(later, "F5", "discourtesy", 3))
    anew, above = assess([t], marks, later, above)
    assert len(anew) == 1 and {m.file_number for m in anew[0].marks} == {"F3", "F4", "F5"}


def test_thresholds_by_tier_and_the_top_percentile() -> None:
    now = 1_790_000_000_000
    tier1 = Threshold("any tier 1", 1, 12, tier=1)
    crossed, _ = assess([tier1], [Mark(now, "F1", "discourtesy", 3)], now, frozenset())
    assert crossed == []
    crossed, _ = assess([tier1], [Mark(now, "F1", "unreasonable_force", 1)], now, frozenset())
    assert len(crossed) == 1
    assert window_start(1_709_164_800_000, 12) < 1_709_164_800_000  # Feb 29 to Feb 28
    counts = {o: 1 for o in range(1, 41)} | {41: 9, 42: 6, 43: 4}  # 43 officers: the top 5% is 3
    assert top_percentile(counts, 5.0) == [41, 42, 43]
    assert top_percentile(counts | {44: 4}, 5.0) == [41, 42, 44, 43]  # a tie at the cut is in
    assert top_percentile({1: 0, 2: 0}, 5.0) == []


def test_the_months_audit_sample_is_fixed_by_the_month() -> None:
    files = [f"PC-2026-{i:05d}" for i in range(200)]
    first = reviews.sample(files, "2026-11", 10)
    assert len(first) == 10 and first == reviews.sample(list(reversed(files)), "2026-11", 10)
    assert first != reviews.sample(files, "2026-12", 10)
    assert reviews.complete("audit", {"classification": "yes"}) == ["clocks_met", "letters_sent", "documents_complete"]

"""The case workspace's pure rules: the stage machine (every act, and a refusal for each role that may
not make it), the level rule (one case per level and per redirect), completeness screening."""

from __future__ import annotations

import pytest

from server.access.roles import Role
from server.cases.rules import levels, screening
from server.cases.rules.stages import (
    ENDED,
    RULES,
    Act,
    Refused,
    Route,
    Stage,
    acting_as_lead,
    allowed,
    check,
    public_words,
)

CASE_ROLES = (Role.CASE_COORDINATOR, Role.TEAM_LEAD)


def _reason(act: Act) -> str:
    return "because" if RULES[act].needs_reason else ""


@pytest.mark.parametrize("act", list(Act))
def test_every_act_from_every_stage_it_is_allowed_from(act: Act) -> None:
    """Each act, made by a role it names, from each stage it allows, lands where the table says."""
    rule = RULES[act]
    who = next(iter(sorted(rule.who)))
    for stage in rule.from_stages:
        resume = Stage.JURISDICTION if act is Act.INFO_RECEIVED else None
        after = check(act, stage, who, reason=_reason(act), resume_to=resume)
        expected = resume if act is Act.INFO_RECEIVED else (rule.to or stage)
        assert after is expected


@pytest.mark.parametrize("act", list(Act))
def test_every_act_is_refused_to_each_role_that_may_not_make_it(act: Act) -> None:
    """Admins, dispatch roles, officers and 311 staff decide nothing on a file; team-lead acts refuse a coordinator."""
    rule = RULES[act]
    stage = next(iter(rule.from_stages))
    refused = [r for r in Role if r not in rule.who]
    assert Role.ADMIN in refused and Role.DISPATCHER in refused and Role.OFFICER in refused
    for role in refused:
        with pytest.raises(Refused):
            check(act, stage, role, reason="because", resume_to=Stage.SCREENING)


def test_acting_for_the_team_lead_covers_its_acts_but_dismissal_and_delegation() -> None:
    """A delegated coordinator may route, assign, close, extend and clear flags; never dismiss or delegate."""
    c = Role.CASE_COORDINATOR
    assert check(Act.ROUTE, Stage.JURISDICTION, c, acting=True) is Stage.ROUTED
    assert check(Act.CLOSE, Stage.CONCLUDED, c, acting=True) is Stage.CLOSED
    for act in (Act.ASSIGN, Act.EXTEND, Act.CLEAR_FLAG):
        check(act, Stage.SCREENING, c, acting=True, reason="because")
    with pytest.raises(Refused, match="Only the team lead may dismiss"):
        check(Act.DISMISS, Stage.SCREENING, c, acting=True, reason="no substance")
    with pytest.raises(Refused):
        check(Act.DELEGATE, Stage.SCREENING, c, acting=True)
    assert acting_as_lead(c, True) and not acting_as_lead(Role.TEAM_LEAD, True)


def test_dismissal_and_withdrawal_need_reasons() -> None:
    """Without a reason the team lead's dismissal and a withdrawal are refused."""
    with pytest.raises(Refused, match="reason"):
        check(Act.DISMISS, Stage.JURISDICTION, Role.TEAM_LEAD, reason="  ")
    with pytest.raises(Refused, match="reason"):
        check(Act.WITHDRAW, Stage.SCREENING, Role.CASE_COORDINATOR)
    assert check(Act.DISMISS, Stage.JURISDICTION, Role.TEAM_LEAD, reason="repeats PC-1") is Stage.DISMISSED


def test_an_ended_file_takes_only_notes() -> None:
    """Closed, withdrawn and dismissed files refuse every act but a note."""
    for stage in ENDED:
        for role in CASE_ROLES:
            assert allowed(stage, role) == [Act.NOTE]
        with pytest.raises(Refused, match="only notes"):
            check(Act.EDIT, stage, Role.CASE_COORDINATOR)
        assert check(Act.NOTE, stage, Role.CASE_COORDINATOR, reason="called back") is stage


def test_a_reply_goes_back_to_where_the_file_waited() -> None:
    """Waiting on the complainant returns to screening or to the jurisdiction review; nowhere else."""
    c = Role.CASE_COORDINATOR
    assert check(Act.INFO_RECEIVED, Stage.WAITING, c, resume_to=Stage.SCREENING) is Stage.SCREENING
    assert check(Act.INFO_RECEIVED, Stage.WAITING, c, resume_to=Stage.JURISDICTION) is Stage.JURISDICTION
    with pytest.raises(Refused):
        check(Act.INFO_RECEIVED, Stage.WAITING, c, resume_to=Stage.ROUTED)
    with pytest.raises(Refused, match="cannot"):
        check(Act.ROUTE, Stage.SCREENING, Role.TEAM_LEAD)


def test_public_words_are_plain_for_every_stage_and_route() -> None:
    """The status check's words exist for every stage and route, differ, and use no staff jargon."""
    said = {public_words(s, None) for s in Stage} | {public_words(Stage.ROUTED, r) for r in Route}
    assert len(said) == len(Stage) + len(Route)  # the routed stage's own words, and one per route
    for words in said:
        assert words
        for jargon in ("unfounded", "vexatious", "frivolous", "jurisdiction", "level", "allegation"):
            assert jargon not in words.lower(), words


# ---- the level rule ---------------------------------------------------------------

T = levels.taxonomy()


def _facts(kind: levels.ServiceKind = "municipal", *flags: str, late: bool = False) -> levels.Facts:
    return levels.Facts("Edmonton Police Service", kind, frozenset(flags), outside_limitation=late)


@pytest.mark.parametrize(
    ("allegation", "facts", "level", "route", "body"),
    [
        ("unreasonable_force", _facts("municipal", "death"), 1, Route.SERIOUS_INCIDENT, levels.ASIRT),
        ("discourtesy", _facts("first_nations", "serious_injury"), 1, Route.SERIOUS_INCIDENT, levels.ASIRT),
        ("sexual_assault", _facts(), 1, Route.SERIOUS_INCIDENT, levels.ASIRT),
        ("criminal_offence", _facts(), 2, Route.SERIOUS_INCIDENT, levels.ASIRT),
        ("wrongful_arrest", _facts(), 3, Route.INVESTIGATION, levels.COMMISSION),
        ("discourtesy", _facts("first_nations"), 3, Route.RESOLUTION, levels.COMMISSION),
        (
            "professional_performance",
            _facts(),
            4,
            Route.REFERRED_OUT,
            "Edmonton Police Service (the officer's employer)",
        ),
        ("service_policy", _facts(), 5, Route.REFERRED_OUT, "Edmonton Police Service"),
        ("discourtesy", _facts("rcmp"), None, Route.REFERRED_OUT, levels.CRCC),
        ("unreasonable_force", _facts("rcmp", "death"), 1, Route.SERIOUS_INCIDENT, levels.ASIRT),
        ("neglect_of_duty", _facts("peace_officer"), None, Route.REFERRED_OUT, levels.PEACE_OFFICER_EMPLOYER),
        ("unreasonable_force", _facts("not_police", "death"), None, Route.REFERRED_OUT, levels.NOT_POLICE),
        ("compliment", _facts(), None, Route.REFERRED_OUT, "Edmonton Police Service"),
    ],
)
def test_the_level_rule(allegation: str, facts: levels.Facts, level: int | None, route: Route, body: str) -> None:
    """One case per level and per redirect: the level, the route and the body that handles it, with reasons."""
    got = levels.recommend_allegation(T[allegation], facts)
    assert (got.level, got.route, got.body) == (level, route, body)
    assert got.reasons


def test_a_file_is_as_serious_as_its_most_serious_allegation() -> None:
    """Level 3 with level 5 is level 3; level 4 with level 1 is level 1; every reason is kept once."""
    mixed = levels.recommend([T["wrongful_search"], T["service_policy"]], _facts())
    assert (mixed.level, mixed.route) == (3, Route.INVESTIGATION)
    assert len(mixed.reasons) == 2
    worst = levels.recommend([T["professional_performance"], T["sexual_assault"]], _facts())
    assert (worst.level, worst.route) == (1, Route.SERIOUS_INCIDENT)
    with pytest.raises(ValueError, match="at least one allegation"):
        levels.recommend([], _facts())


def test_a_late_complaint_says_so_and_keeps_its_level() -> None:
    """Outside the limitation period, the reason says whether it may be extended; the level stands."""
    late = levels.recommend_allegation(T["harassment"], _facts(late=True))
    assert late.level == 3 and "may extend" in late.reasons[-1]
    fixed = levels.Facts("X", "municipal", outside_limitation=True, may_extend=False)
    assert "may not be extended" in levels.recommend_allegation(T["harassment"], fixed).reasons[-1]


def test_the_taxonomy_takes_an_operators_types_and_refuses_bad_ones() -> None:
    """An operator adds a type and relabels one; an unknown category or a tier past 3 is refused by name."""
    mine = levels.taxonomy(
        [
            {"code": "strip_search", "label": "Strip search", "tier": 1, "category": "conduct"},
            {"code": "discourtesy", "label": "Rudeness", "tier": 3, "category": "conduct"},
        ]
    )
    assert mine["strip_search"].tier == 1 and mine["discourtesy"].label == "Rudeness"
    with pytest.raises(ValueError, match="category"):
        levels.taxonomy([{"code": "x", "label": "X", "tier": 1, "category": "gossip"}])
    with pytest.raises(ValueError, match="tier"):
        levels.taxonomy([{"code": "x", "label": "X", "tier": 4, "category": "conduct"}])


# ---- completeness screening ---------------------------------------------------------


def test_each_kind_has_its_checklist_and_marks_meet_or_reopen_items() -> None:
    """A complaint asks more than a compliment; "ok" and "waived" meet an item, "missing" reopens one given."""
    given = {"narrative": True, "police_service": True, "email": True, "consent": True}
    items = screening.checklist("complaint", given, {})
    assert {i.key for i in screening.missing(items)} == {"when", "where", "officer", "outcome"}
    assert len(screening.checklist("compliment", given, {})) < len(items)
    marked = screening.checklist(
        "complaint", given, {"when": "ok", "where": "waived", "officer": "ok", "outcome": "waived"}
    )
    assert screening.screened(marked)
    reopened = screening.checklist(
        "complaint",
        given,
        {"when": "ok", "where": "waived", "officer": "ok", "outcome": "waived", "contact": "missing"},
    )
    assert [i.key for i in screening.missing(reopened)] == ["contact"]

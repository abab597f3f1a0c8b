"""The jurisdiction and level rule: what level (1 to 5) an allegation is, and who handles it. Pure.

Alberta's levels: 1, death, serious injury, serious or sensitive allegations, and 2, other
criminal or statutory offences, go to the serious incident team (ASIRT); 3, breaches of the
conduct regulation, are the commission's (municipal and First Nations police); 4, professional
performance, is referred to the officer's employer; 5, a service's policies or operations, to
the police service. RCMP matters short of levels 1 and 2 go to the federal commission (CRCC);
peace officers to their authorized employer; what is not about police at all to whoever it
belongs to. The rule recommends; the coordinator records it with reasons and the team lead
confirms or changes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from server.cases.rules.stages import Route

__all__ = [
    "CATEGORIES",
    "DEFAULT_TAXONOMY",
    "FLAGS",
    "AllegationType",
    "Category",
    "Facts",
    "Recommendation",
    "ServiceKind",
    "recommend",
    "recommend_allegation",
    "taxonomy",
]

ServiceKind = Literal["municipal", "first_nations", "rcmp", "peace_officer", "not_police"]
Category = Literal["serious", "criminal", "conduct", "performance", "policy", "compliment"]
CATEGORIES: frozenset[str] = frozenset({"serious", "criminal", "conduct", "performance", "policy", "compliment"})
FLAGS = frozenset({"death", "serious_injury", "sensitive"})

ASIRT = "the Alberta Serious Incident Response Team (ASIRT)"
COMMISSION = "the Police Review Commission"
CRCC = "the Civilian Review and Complaints Commission for the RCMP (CRCC)"
PEACE_OFFICER_EMPLOYER = "the peace officer's authorized employer"
NOT_POLICE = "the body responsible (not a police matter)"


@dataclass(frozen=True, slots=True)
class AllegationType:
    code: str
    label: str
    tier: int  # 1 (most serious) to 3; 0 outside the tiers
    category: Category


def _t(code: str, label: str, tier: int, category: Category) -> AllegationType:
    return AllegationType(code, label, tier, category)


DEFAULT_TAXONOMY: tuple[AllegationType, ...] = (
    _t("sexual_assault", "Sexual assault", 1, "serious"),
    _t("unreasonable_force", "Unreasonable use of force", 1, "conduct"),
    _t("wrongful_arrest", "Wrongful arrest", 1, "conduct"),
    _t("wrongful_seizure", "Wrongful seizure of property", 1, "conduct"),
    _t("harassment", "Harassment", 2, "conduct"),
    _t("weapon_display", "Display of a weapon", 2, "conduct"),
    _t("wrongful_search", "Wrongful search", 2, "conduct"),
    _t("wrongful_entry", "Wrongful entry", 2, "conduct"),
    _t("wrongful_detention", "Wrongful detention", 2, "conduct"),
    _t("bias", "Bias or discrimination", 3, "conduct"),
    _t("retaliation", "Retaliation", 3, "conduct"),
    _t("conduct_unbecoming", "Conduct unbecoming", 3, "conduct"),
    _t("discourtesy", "Discourtesy", 3, "conduct"),
    _t("neglect_of_duty", "Neglect of duty", 3, "conduct"),
    _t("deceit", "Deceit", 3, "conduct"),
    _t("policy_violation", "Breach of policy by the officer", 3, "conduct"),
    _t("criminal_offence", "A criminal or statutory offence", 0, "criminal"),
    _t("professional_performance", "Professional performance", 0, "performance"),
    _t("service_policy", "A service's policy, procedure or operations", 0, "policy"),
    _t("compliment", "Compliment", 0, "compliment"),
)


def taxonomy(overrides: Iterable[Mapping[str, object]] | None = None) -> dict[str, AllegationType]:
    """The default types by code, with the operator's added or replacing them by code."""
    out = {t.code: t for t in DEFAULT_TAXONOMY}
    for entry in overrides or ():
        code, label = str(entry.get("code", "")).strip(), str(entry.get("label", "")).strip()
        tier, category = entry.get("tier"), str(entry.get("category", ""))
        if not code or not label:
            raise ValueError(f"allegation type {entry!r}: give a code and a label")
        if not isinstance(tier, int) or not 0 <= tier <= 3:
            raise ValueError(f"allegation type {code!r}: tier must be 0 to 3, not {tier!r}")
        if category not in CATEGORIES:
            raise ValueError(f"allegation type {code!r}: category must be one of {sorted(CATEGORIES)}")
        out[code] = AllegationType(code, label, tier, category)  # type: ignore[arg-type]
    return out


@dataclass(frozen=True, slots=True)
class Facts:
    service: str
    service_kind: ServiceKind
    flags: frozenset[str] = frozenset()
    outside_limitation: bool = False
    may_extend: bool = True


@dataclass(frozen=True, slots=True)
class Recommendation:
    level: int | None  # None: redirected, no level of ours
    route: Route
    body: str
    reasons: tuple[str, ...]


def _limitation(facts: Facts) -> tuple[str, ...]:
    if not facts.outside_limitation:
        return ()
    if facts.may_extend:
        return ("The complaint came in after the limitation period; the commission may extend the time.",)
    return ("The complaint came in after the limitation period, and the time may not be extended.",)


def recommend_allegation(kind: AllegationType, facts: Facts) -> Recommendation:
    """One allegation's level and route, with why, in the order the rules apply."""
    late = _limitation(facts)
    if facts.service_kind == "not_police":
        why = "The complaint is not about a police service or its officers, so it is redirected."
        return Recommendation(None, Route.REFERRED_OUT, NOT_POLICE, (why, *late))
    harm = sorted(facts.flags & {"death", "serious_injury"})
    if harm or kind.category == "serious" or "sensitive" in facts.flags:
        if harm:
            why = f"It involves {' and '.join(h.replace('_', ' ') for h in harm)}: level 1."
        elif kind.category == "serious":
            why = f"{kind.label} is a serious allegation: level 1."
        else:
            why = "The matter is sensitive: level 1."
        return Recommendation(1, Route.SERIOUS_INCIDENT, ASIRT, (why, *late))
    if kind.category == "criminal":
        return Recommendation(
            2, Route.SERIOUS_INCIDENT, ASIRT, ("It alleges a criminal or statutory offence: level 2.", *late)
        )
    if facts.service_kind == "rcmp":
        why = "RCMP matters short of a serious incident or an offence go to the federal commission."
        return Recommendation(None, Route.REFERRED_OUT, CRCC, (why, *late))
    if facts.service_kind == "peace_officer":
        why = "Complaints about peace officers go to their authorized employer under the Peace Officer Act."
        return Recommendation(None, Route.REFERRED_OUT, PEACE_OFFICER_EMPLOYER, (why, *late))
    if kind.category == "conduct":
        if kind.tier in (1, 2):
            why = f"{kind.label} (tier {kind.tier}) is a breach of the conduct regulation: level 3, investigated."
            return Recommendation(3, Route.INVESTIGATION, COMMISSION, (why, *late))
        why = (
            f"{kind.label} is a breach of the conduct regulation: level 3. Resolution fits it, if the complainant"
            " agrees; otherwise it is investigated."
        )
        return Recommendation(3, Route.RESOLUTION, COMMISSION, (why, *late))
    if kind.category == "performance":
        why = "It is about professional performance: level 4, referred to the officer's employer."
        return Recommendation(4, Route.REFERRED_OUT, f"{facts.service} (the officer's employer)", (why, *late))
    if kind.category == "policy":
        why = "It is about the service's policies, procedures or operations: level 5, referred to the service."
        return Recommendation(5, Route.REFERRED_OUT, facts.service, (why, *late))
    why = "A compliment is passed on to the service."
    return Recommendation(None, Route.REFERRED_OUT, facts.service, (why, *late))


_WEIGHT = {Route.SERIOUS_INCIDENT: 0, Route.INVESTIGATION: 1, Route.RESOLUTION: 2, Route.REFERRED_OUT: 3}


def recommend(kinds: Sequence[AllegationType], facts: Facts) -> Recommendation:
    """The file as a whole: its most serious allegation decides, the reasons of all kept once each."""
    if not kinds:
        raise ValueError("Add at least one allegation before asking for a recommendation.")
    each = [recommend_allegation(k, facts) for k in kinds]
    worst = min(each, key=lambda r: (_WEIGHT[r.route], r.level if r.level is not None else 9))
    reasons: list[str] = []
    for r in [worst, *each]:
        for why in r.reasons:
            if why not in reasons:
                reasons.append(why)
    return Recommendation(worst.level, worst.route, worst.body, tuple(reasons))

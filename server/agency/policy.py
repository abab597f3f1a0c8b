"""Policy: every number an agency sets (priorities, timers, statuses, call types).

Loaded from ``policy.default.toml`` shipped beside this module, with the
operator's file (``DATA_DIR/policy.toml`` or ``DISPATCH_POLICY``) merged over
it. Read once at start; the rules take it as a plain argument.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

import msgspec

from protocol.state import Availability, CoreUnitStatus
from server.agency.gazetteer import Place, load_places
from server.agency.geography import ServiceArea

__all__ = [
    "AccessSettings",
    "DEFAULT_FILE",
    "Agency",
    "AllegationKind",
    "AreaFile",
    "CallType",
    "ClockRule",
    "Complaints",
    "Datatype",
    "Dispositions",
    "EarlyWarning",
    "LetterSettings",
    "Open311",
    "PlacesFile",
    "Policy",
    "Positions",
    "PriorityLevel",
    "Recommend",
    "Service",
    "ServiceAttribute",
    "ServiceValue",
    "StatusRule",
    "WarningRule",
    "Welfare",
    "load_policy",
]

DEFAULT_FILE = Path(__file__).with_name("policy.default.toml")


class PriorityLevel(msgspec.Struct, forbid_unknown_fields=True):
    label: str
    colour: str
    tone: str
    target_dispatch_s: int
    unassigned_alarm_s: int
    eido: int
    welfare_s: int | None = None  # check-in interval on calls of this priority (else welfare.on_call_s)
    status_alarm_s: dict[str, int] = {}  # per status: alarm when a unit on such a call stays longer


class StatusRule(msgspec.Struct, forbid_unknown_fields=True):
    availability: Availability
    next: list[str]
    max_s: int = 0


class CallType(msgspec.Struct, forbid_unknown_fields=True):
    priority: int
    needs: list[str] = []
    welfare_s: int | None = None  # first check-in on such a call (overrides the priority's)
    welfare_every_s: int | None = None  # and after each check-in


class Welfare(msgspec.Struct, forbid_unknown_fields=True):
    on_call_s: int
    idle_s: int
    critical_after_s: int


class Agency(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    country: str
    region: str
    city: str


class Positions(msgspec.Struct, forbid_unknown_fields=True):
    stale_after_s: int


class Recommend(msgspec.Struct, forbid_unknown_fields=True):
    max_distance_m: float
    count: int


class Dispositions(msgspec.Struct, forbid_unknown_fields=True):
    codes: list[str]


class AreaFile(msgspec.Struct, forbid_unknown_fields=True):
    file: str


class PlacesFile(msgspec.Struct, forbid_unknown_fields=True):
    file: str


class ServiceValue(msgspec.Struct, forbid_unknown_fields=True):
    key: str
    name: str


Datatype = Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]


class ServiceAttribute(msgspec.Struct, forbid_unknown_fields=True):
    """One question a service asks (an Open311 attribute)."""

    code: str
    datatype: Datatype
    description: str
    required: bool = False
    variable: bool = True
    datatype_description: str = ""
    values: list[ServiceValue] = []


class Service(msgspec.Struct, forbid_unknown_fields=True):
    """An Open311 service and where its referrals go."""

    name: str
    description: str
    group: str
    route: Literal["incident", "info_request"]
    agency: str
    keywords: list[str] = []
    call_type: str = ""  # route "incident": the call type on the board
    priority: int | None = None  # and its priority (else the call type's)
    business_area: str = ""  # route "info_request": where it is sent
    attributes: list[ServiceAttribute] = []


class Open311(msgspec.Struct, forbid_unknown_fields=True):
    jurisdiction_id: str
    contact: str
    key_service: str
    services: dict[str, Service]


class ClockRule(msgspec.Struct, forbid_unknown_fields=True):
    """One legislated clock on complaint files (server/cases/rules/clocks.py counts it)."""

    days: int
    day_kind: Literal["business", "calendar"] = "calendar"
    warn_days: int = 0  # a warning this many days (of its kind) before it is due
    recurring: bool = False  # the status update: sending one starts the next period
    pauses: bool = True  # whether it stops counting while the file waits on the complainant


class AllegationKind(msgspec.Struct, forbid_unknown_fields=True):
    code: str
    label: str
    tier: int
    category: str


class LetterSettings(msgspec.Struct, forbid_unknown_fields=True):
    """Who letters come from and what each one tells the person about reaching us and support."""

    sender: str = "Police Review Commission"
    signatory: str = "Chief Executive"  # letters are sent on behalf of this office
    address: str = ""
    phone: str = ""
    email: str = ""
    website: str = ""
    # Support services every letter to a complainant names (trauma-informed: say where to turn).
    support: list[str] = []


class WarningRule(msgspec.Struct, forbid_unknown_fields=True):
    """An early-warning threshold: ``count`` allegations naming one officer within ``months``."""

    name: str
    count: int
    months: int = 12
    tier: int | None = None
    type: str | None = None


def _warning_rules() -> list[WarningRule]:
    return [
        WarningRule("3 or more allegations in 12 months", 3, 12),
        WarningRule("any tier 1 allegation in 12 months", 1, 12, tier=1),
        WarningRule("2 or more tier 2 allegations in 12 months", 2, 12, tier=2),
    ]


class EarlyWarning(msgspec.Struct, forbid_unknown_fields=True):
    rules: list[WarningRule] = msgspec.field(default_factory=_warning_rules)
    top_percent: float = 5.0  # the "top percentile within the service" view


class Complaints(msgspec.Struct, forbid_unknown_fields=True):
    police_services: list[str]
    file_prefix: str = "PC"
    acknowledge_days: int = 2
    acknowledge_day_kind: Literal["business", "calendar"] = "business"
    holidays_country: str = "CA"
    holidays_subdiv: str = "AB"
    timezone: str = "America/Edmonton"
    # The clocks after the acknowledgement (which the two settings above define): status_update,
    # decision, referral (the follow-up on a file referred out).
    clocks: dict[str, ClockRule] = {}
    limitation_days: int = 365
    limitation_may_extend: bool = True
    # What kind of service each is (municipal, first_nations, rcmp, peace_officer, not_police):
    # the level rule asks. A service not listed is decided by the coordinator at screening.
    service_kinds: dict[str, str] = {}
    # Allegation types added to (or replacing, by code) the default tiered taxonomy.
    allegation_types: list[AllegationKind] = []
    # Who employs this agency's own peace officers (their complaints are referred there).
    peace_officer_employer: str = ""
    letters: LetterSettings = msgspec.field(default_factory=LetterSettings)
    early_warning: EarlyWarning = msgspec.field(default_factory=EarlyWarning)
    # Transitory records (drafts never issued, working notes marked transitory) are disposed of
    # this many days after they were last touched.
    transitory_days: int = 90
    audit_sample: int = 10  # files drawn for each month's file audit


def _grounds() -> dict[str, str]:
    return {
        "lacks_detail": "The request does not give enough detail to find the records",
        "large_volume": "A large number of records is asked for or must be searched",
        "consultation": "Time is needed to consult another public body or a third party",
        "third_party_notice": "A third party must be given notice and a chance to respond",
    }


def _reasons() -> dict[str, str]:
    return {
        "s.16": "Third-party business information",
        "s.17": "Personal privacy",
        "s.18": "Individual or public safety",
        "s.20": "Law enforcement",
        "s.21": "Intergovernmental relations",
        "s.24": "Advice from officials",
        "s.25": "Economic interests of a public body",
        "s.27": "Privileged information",
    }


class AccessSettings(msgspec.Struct, forbid_unknown_fields=True):
    """Access-to-information requests (Alberta's Access to Information Act)."""

    prefix: str = "AR"
    days: int = 30  # business days to respond
    grounds: dict[str, str] = msgspec.field(default_factory=_grounds)  # for an extension
    reasons: dict[str, str] = msgspec.field(default_factory=_reasons)  # exceptions: a box's reason code
    commissioner: str = "the Information and Privacy Commissioner of Alberta"
    systems: list[str] = msgspec.field(
        default_factory=lambda: ["complaint files", "letters", "dispatch records", "email", "paper files"]
    )


class Policy(msgspec.Struct, forbid_unknown_fields=True):
    agency: Agency
    positions: Positions
    recommend: Recommend
    priorities: dict[int, PriorityLevel]
    unit_statuses: dict[str, StatusRule]
    welfare: Welfare
    call_types: dict[str, CallType]
    dispositions: Dispositions
    service_area: AreaFile
    places: PlacesFile
    open311: Open311
    complaints: Complaints
    access: AccessSettings = msgspec.field(default_factory=AccessSettings)
    area: ServiceArea | None = None  # loaded from service_area.file
    gazetteer: list[Place] = []  # loaded from places.file

    def priority(self, level: int) -> PriorityLevel:
        return self.priorities[level]


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_policy(operator_file: Path | None = None) -> Policy:
    """The defaults, with the operator's file (if it exists) merged over them."""
    raw = tomllib.loads(DEFAULT_FILE.read_text())
    area_base = places_base = DEFAULT_FILE.parent
    if operator_file is not None and operator_file.exists():
        override = tomllib.loads(operator_file.read_text())
        raw = _merge(raw, override)
        if "service_area" in override:
            area_base = operator_file.parent
        if "places" in override:
            places_base = operator_file.parent
    try:
        policy = msgspec.convert(raw, Policy, strict=False)
    except msgspec.ValidationError as exc:
        raise ValueError(f"policy file: {exc}") from None
    missing = {s for rule in policy.unit_statuses.values() for s in rule.next} - {"*"} - set(policy.unit_statuses)
    if missing:
        raise ValueError(f"policy file: unit_statuses name unknown next statuses {sorted(missing)}")
    lacking = {str(s) for s in CoreUnitStatus} - set(policy.unit_statuses)
    if lacking:  # the hub acts on these: an agency may add statuses, not take these away
        raise ValueError(f"policy file: unit_statuses lacks {sorted(lacking)}")
    for code, service in policy.open311.services.items():
        if service.route == "incident" and service.call_type not in policy.call_types:
            raise ValueError(f"policy file: open311 service {code} names unknown call type {service.call_type!r}")
        if service.priority is not None and service.priority not in policy.priorities:
            raise ValueError(f"policy file: open311 service {code} has unknown priority {service.priority}")
    area_path = Path(policy.service_area.file)
    if not area_path.is_absolute():
        area_path = area_base / area_path
    policy.area = ServiceArea.from_geojson(area_path.read_text())
    places_path = Path(policy.places.file)
    policy.gazetteer = load_places(places_path if places_path.is_absolute() else places_base / places_path)
    return policy

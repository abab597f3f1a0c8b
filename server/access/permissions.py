"""The permission table: who may send each command, read each topic, call each HTTP route and
open each page, and the few things a route lets only some of its callers do.

Everything a role may do is written here and nowhere else. The code that
enforces it looks it up:

- WebSocket commands, by their protocol tag (``protocol.messages``):
  ``may_command``, in the command router (server/dispatch/commands.py). An
  officer sends the unit commands only for the unit bound to its token.
- Topics: ``may_read``, when a session subscribes (server/realtime/hub.py);
  an officer's incidents are further narrowed by ``officer_sees``.
- HTTP routes, by method and path as declared (Starlette's syntax, with
  its convertors): an ``Endpoint`` (server/http/endpoints.py) takes its
  roles from ``ROUTES`` and refuses with 401 (not signed in) or 403
  (another role) before its handler runs. ``PUBLIC`` routes run for anyone.
- Pages: ``may_open`` (server/http/pages.py); a role sent elsewhere lands on
  its ``home_for``.
- Grants: a route open to more roles that does more for some (the complaint
  portal for case staff, say) asks ``holds``.

Tests hold the table to the app: every route the app serves has an entry
and every entry is served (tests/server/access/test_permissions.py), and
each role, signed in, is refused exactly where the table says
(tests/server/access/test_permission_matrix.py). ``render`` writes the
table for people as docs/permissions.md.

To add a command, route or page: add its line here, then declare it.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Callable, Iterable, Mapping

from protocol.state import Incident
from server.access.roles import Principal, Role

__all__ = [
    "ACCESS_ROLES",
    "CASE_STAFF",
    "COMMANDS",
    "DESK",
    "EVERY_ROLE",
    "FIELD",
    "FILES",
    "GRANTED_AT",
    "GRANTS",
    "OWN_UNIT_COMMANDS",
    "PAGES",
    "PUBLIC",
    "ROUTES",
    "TOPICS",
    "Grant",
    "holds",
    "home_for",
    "may_command",
    "may_open",
    "may_read",
    "officer_on",
    "officer_sees",
    "render",
    "route_roles",
]

Roles = frozenset[Role]

# ---- who is who --------------------------------------------------------------

# The dispatch desk: the board, the desk pages and their HTTP reads, the office records.
DESK: Roles = frozenset({Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN})
# In the field: an officer, acting for the one unit its token is bound to.
FIELD: Roles = frozenset({Role.OFFICER})
# Complaint case management: they see what the public told us about police.
CASE_STAFF: Roles = frozenset({Role.CASE_COORDINATOR, Role.TEAM_LEAD, Role.ADMIN})
CASE_WRITERS: Roles = frozenset({Role.CASE_COORDINATOR, Role.TEAM_LEAD})  # who writes letters and reviews
LEAD: Roles = frozenset({Role.TEAM_LEAD})
# Access-to-information requests: access staff (who see nothing else of case files than what a
# request gathers), case coordinators and the team lead, who help with them.
ACCESS_ROLES: Roles = frozenset({Role.ACCESS_STAFF, Role.CASE_COORDINATOR, Role.TEAM_LEAD})
# 311 staff: the referral form, and Open311 posts without an API key.
INTAKE_STAFF: Roles = frozenset({Role.INTAKE_311, Role.ADMIN})
EVERY_ROLE: Roles = frozenset(Role)
# A route or page anyone may call, signed in or not (its handler may still look at who is).
PUBLIC: None = None

# ---- WebSocket commands, by protocol tag ------------------------------------

COMMANDS: Mapping[str, Roles] = {
    "incident.create": DESK | FIELD,  # officer-initiated calls
    "incident.update": DESK,
    "incident.assign": DESK,
    "incident.unassign": DESK,
    "incident.close": DESK,
    "incident.cancel": DESK,
    "incident.reopen": DESK,
    "incident.merge": DESK,
    "incident.link": DESK,
    "incident.note": DESK,
    "incident.police": DESK,
    "incident.recommend": DESK,
    "unit.roster": DESK,
    "unit.status": DESK | FIELD,
    "unit.ack": DESK | FIELD,
    "unit.position": DESK | FIELD,
    "unit.checkin": DESK | FIELD,
    "unit.panic": DESK | FIELD,
    "radio.append": DESK,
    "alarm.ack": DESK,
    "alarm.cancel": DESK | FIELD,  # an officer cancels its own accidental panic (server/dispatch/alarms.py)
    "alarm.police": DESK,
    "traffic.emergency": DESK,  # only dispatch declares and clears it
    "resource.upsert": DESK,
    "resource.assign": DESK,
}

# Commands an officer may send only for the unit bound to its token.
OWN_UNIT_COMMANDS = frozenset({"unit.status", "unit.position", "unit.panic", "unit.ack", "unit.checkin"})

# ---- topics -------------------------------------------------------------------

TOPICS: Mapping[str, Roles] = {
    "alarms": DESK | FIELD,
    "incidents": DESK | FIELD,  # an officer: only the calls it is on or reported (officer_sees)
    "units": DESK | FIELD,
    "radio": DESK,
    "positions": DESK | FIELD,
    "resources": DESK,
    "cases": CASE_STAFF,  # complaint files changing: case staff only, like the files themselves
    "access": ACCESS_ROLES,  # access requests changing: those who work them
    "case-warnings": LEAD,  # early-warning flags on officers: the team lead's alone
}

# ---- grants: what a route does only for some of its callers -------------------


class Grant(enum.StrEnum):
    SECOND_FACTOR = "sign in with a second factor (required)"
    OPERATIONS = "see /healthz in full and /metrics"
    OPEN311_DETAIL = "read a 311 request's description and staff notes"
    OPEN311_STAFF = "post an Open311 request without an API key"
    COMPLAINT_STAFF = "enter a complaint taken by phone, walk-in, mail or email"
    DEAD_LETTERS_COMPLAINTS = "see and replay the complaint lane's dead letters"
    DEAD_LETTERS_REFERRALS = "see and replay the referral lane's dead letters"


GRANTS: Mapping[Grant, Roles] = {
    # They see case files or the records gathered for access requests, or manage the accounts that do
    # (server/access/second_factor.py).
    Grant.SECOND_FACTOR: CASE_STAFF | {Role.ACCESS_STAFF},
    # Signed in; an operator token or an allowed address also may (server/http/operations.py).
    Grant.OPERATIONS: frozenset({Role.ADMIN, Role.SUPERVISOR}),
    # 311 staff, and the desk that worked the call; others get what the public gets, and a
    # 311 system's API key shows them too (server/intake/open311.py).
    Grant.OPEN311_DETAIL: INTAKE_STAFF | DESK,
    Grant.OPEN311_STAFF: INTAKE_STAFF,
    Grant.COMPLAINT_STAFF: CASE_STAFF,  # server/intake/complaint_door.py
    # Complaint entries hold what a member of the public told us about police: case staff
    # only. Referrals: 311 staff and dispatch supervisors (server/intake/deadletters.py).
    Grant.DEAD_LETTERS_COMPLAINTS: CASE_STAFF,
    Grant.DEAD_LETTERS_REFERRALS: frozenset({Role.INTAKE_311, Role.SUPERVISOR, Role.ADMIN, Role.TEAM_LEAD}),
}

# The routes that ask for each grant (each one an entry of ROUTES).
GRANTED_AT: Mapping[Grant, tuple[tuple[str, str], ...]] = {
    Grant.SECOND_FACTOR: (
        ("POST", "/api/login"),
        ("GET", "/api/account"),
        ("POST", "/api/account/second-factor/remove"),
    ),
    Grant.OPERATIONS: (("GET", "/healthz"), ("GET", "/metrics")),
    Grant.OPEN311_DETAIL: (
        ("GET", "/open311/v2/requests.{fmt:fmt}"),
        ("GET", "/open311/v2/requests/{service_request_id}.{fmt:fmt}"),
    ),
    Grant.OPEN311_STAFF: (("POST", "/open311/v2/requests.{fmt:fmt}"),),
    Grant.COMPLAINT_STAFF: (("POST", "/api/complaints"), ("GET", "/api/complaints/form")),
    Grant.DEAD_LETTERS_COMPLAINTS: (
        ("GET", "/api/intake/dead-letters"),
        ("POST", "/api/intake/dead-letters/{id:rowid}/replay"),
    ),
    Grant.DEAD_LETTERS_REFERRALS: (
        ("GET", "/api/intake/dead-letters"),
        ("POST", "/api/intake/dead-letters/{id:rowid}/replay"),
    ),
}

# ---- HTTP routes, by method and path as declared --------------------------------

_PLACES = DESK | {Role.INTAKE_311}  # the board's and the 311 form's place search
_DEAD_LETTERS = GRANTS[Grant.DEAD_LETTERS_COMPLAINTS] | GRANTS[Grant.DEAD_LETTERS_REFERRALS]
_ADMIN: Roles = frozenset({Role.ADMIN})

ROUTES: Mapping[tuple[str, str], Roles | None] = {
    # operations and documents
    ("GET", "/healthz"): PUBLIC,  # in full for Grant.OPERATIONS
    ("GET", "/metrics"): PUBLIC,  # for Grant.OPERATIONS (the handler refuses others)
    ("GET", "/protocol/schema.json"): PUBLIC,
    ("GET", "/api/openapi.json"): PUBLIC,
    # signing in and one's own account
    ("POST", "/api/login"): PUBLIC,
    ("POST", "/api/login/second-factor"): PUBLIC,
    ("POST", "/api/logout"): PUBLIC,
    ("GET", "/api/me"): EVERY_ROLE,
    ("GET", "/api/account"): EVERY_ROLE,
    ("POST", "/api/account/second-factor"): EVERY_ROLE,
    ("POST", "/api/account/second-factor/confirm"): EVERY_ROLE,
    ("POST", "/api/account/second-factor/remove"): EVERY_ROLE,
    ("POST", "/api/account/recovery-codes"): EVERY_ROLE,
    ("POST", "/api/account/sign-out-everywhere"): EVERY_ROLE,
    # accounts and their sessions
    ("GET", "/api/admin/accounts"): _ADMIN,
    # the audit trail for oversight: the admin, and the team lead who answers for the files
    ("GET", "/api/admin/audit.csv"): _ADMIN | frozenset({Role.TEAM_LEAD}),
    ("POST", "/api/admin/accounts/{name}/{action}"): _ADMIN,
    ("DELETE", "/api/admin/sessions/{id}"): _ADMIN,
    # the board's reads
    ("GET", "/api/board"): DESK,
    ("GET", "/api/incidents/{incident}"): DESK,
    ("GET", "/api/incidents/{incident}/eido"): DESK,
    ("GET", "/api/radio"): DESK,
    ("GET", "/api/reports/response-times"): DESK,
    ("GET", "/api/places"): _PLACES,
    ("GET", "/api/places/locate"): _PLACES,
    # the office: directory, information requests, investigations
    ("GET", "/api/agencies"): DESK,
    ("POST", "/api/agencies"): DESK,
    ("GET", "/api/business-areas"): DESK,
    ("POST", "/api/business-areas"): DESK,
    ("GET", "/api/info-requests"): DESK,
    ("POST", "/api/info-requests"): DESK,
    ("PATCH", "/api/info-requests/{id:rowid}"): DESK,
    ("GET", "/api/investigations"): DESK,
    ("POST", "/api/investigations"): DESK,
    ("GET", "/api/investigations/{id:rowid}"): DESK,
    ("PATCH", "/api/investigations/{id:rowid}"): DESK,
    # the case workspace (server/cases/api.py): case staff only; what each may do to a file is
    # the stage machine's to say (server/cases/rules/stages.py)
    ("GET", "/api/cases"): CASE_STAFF,
    ("GET", "/api/cases/caseload"): CASE_STAFF,
    ("GET", "/api/cases/reference"): CASE_STAFF,
    ("POST", "/api/cases/delegations"): frozenset({Role.TEAM_LEAD}),
    ("GET", "/api/cases/officers/{id:rowid}"): CASE_STAFF,
    ("GET", "/api/cases/{file}"): CASE_STAFF,
    ("POST", "/api/cases/{file}/acts"): CASE_STAFF,
    ("GET", "/api/cases/{file}/evidence/search"): CASE_STAFF,
    ("POST", "/api/cases/{file}/evidence"): CASE_STAFF,
    ("GET", "/api/cases/{file}/evidence/{id:rowid}"): CASE_STAFF,
    # letters (server/cases/letters_api.py): who may approve is rules/letters.py's to say
    ("GET", "/api/cases/letters"): CASE_STAFF,
    ("GET", "/api/cases/letter-templates"): CASE_STAFF,
    ("GET", "/api/cases/letter-templates/{kind}/preview"): CASE_STAFF,
    ("GET", "/api/cases/letters/{id:rowid}"): CASE_STAFF,
    ("POST", "/api/cases/letters/{id:rowid}"): CASE_WRITERS,
    ("GET", "/api/cases/letters/{id:rowid}/pdf"): CASE_STAFF,
    ("GET", "/api/cases/{file}/letters"): CASE_STAFF,
    ("POST", "/api/cases/{file}/letters"): CASE_WRITERS,
    # reports and oversight (server/cases/reports_api.py); early warning is the team lead's
    ("GET", "/api/cases/reports/delay"): CASE_STAFF,
    ("GET", "/api/cases/reports/trends"): CASE_STAFF,
    ("GET", "/api/cases/reports/trends.csv"): CASE_STAFF,
    ("GET", "/api/cases/warnings"): LEAD,
    ("GET", "/api/cases/warnings/top"): LEAD,
    ("POST", "/api/cases/warnings/{id:rowid}/seen"): LEAD,
    ("GET", "/api/cases/reviews"): CASE_STAFF,
    ("POST", "/api/cases/reviews/draw"): LEAD,
    ("GET", "/api/cases/reviews/trends"): CASE_STAFF,
    ("POST", "/api/cases/reviews/{id:rowid}"): CASE_WRITERS,
    ("GET", "/api/cases/disposals"): LEAD | _ADMIN,
    # access-to-information requests (server/cases/access_api.py)
    ("GET", "/api/access"): ACCESS_ROLES,
    ("POST", "/api/access"): ACCESS_ROLES,
    ("GET", "/api/access/statistics"): ACCESS_ROLES,
    ("GET", "/api/access/{number}"): ACCESS_ROLES,
    ("POST", "/api/access/{number}/moves"): ACCESS_ROLES,
    ("POST", "/api/access/{number}/records"): ACCESS_ROLES,
    ("POST", "/api/access/{number}/uploads"): ACCESS_ROLES,
    ("GET", "/api/access/{number}/records/{id:rowid}"): ACCESS_ROLES,
    ("POST", "/api/access/{number}/boxes"): ACCESS_ROLES,
    ("POST", "/api/access/{number}/matches"): ACCESS_ROLES,
    ("DELETE", "/api/access/{number}/boxes/{id:rowid}"): ACCESS_ROLES,
    ("GET", "/api/access/{number}/releases/{id:rowid}"): ACCESS_ROLES,
    # the public complaint portal (Grant.COMPLAINT_STAFF for phone entries)
    ("POST", "/api/complaints"): PUBLIC,
    ("POST", "/api/complaints/status"): PUBLIC,
    ("POST", "/api/complaints/reply"): PUBLIC,  # with the file number and status code
    ("GET", "/api/complaints/form"): PUBLIC,
    # the intake's dead letters: each role sees its own lanes' (Grant.DEAD_LETTERS_*)
    ("GET", "/api/intake/dead-letters"): _DEAD_LETTERS,
    ("POST", "/api/intake/dead-letters/{id:rowid}/replay"): _DEAD_LETTERS,
    # Open311 GeoReport v2: public, with API keys (Grant.OPEN311_DETAIL, Grant.OPEN311_STAFF)
    ("GET", "/open311/v2/discovery.{fmt:fmt}"): PUBLIC,
    ("GET", "/open311/v2/services.{fmt:fmt}"): PUBLIC,
    ("GET", "/open311/v2/services/{service_code}.{fmt:fmt}"): PUBLIC,
    ("GET", "/open311/v2/requests.{fmt:fmt}"): PUBLIC,
    ("POST", "/open311/v2/requests.{fmt:fmt}"): PUBLIC,
    ("GET", "/open311/v2/requests/{service_request_id}.{fmt:fmt}"): PUBLIC,
    ("GET", "/open311/v2/tokens/{token}.{fmt:fmt}"): PUBLIC,
}

# ---- pages ------------------------------------------------------------------------

# A guarded page sends a stranger to sign in (and back after), and a role not listed here
# to its home page.
PAGES: Mapping[str, Roles | None] = {
    "/": PUBLIC,  # sends each to its home page, strangers to sign in
    "/signin/": PUBLIC,
    "/complaint/": PUBLIC,  # the public portal; case staff signed in enter phone complaints on it
    "/board/": DESK,
    "/officer/": FIELD,
    "/referral/": INTAKE_STAFF,
    "/intake/": _DEAD_LETTERS,  # each role sees its own lanes' dead letters
    "/admin/": _ADMIN,  # accounts and their sessions
    "/cases/": CASE_STAFF,  # the case workspace
    "/cases/letters/": CASE_STAFF,  # letters: drafting, review, templates
    "/cases/reports/": CASE_STAFF,  # trends, the delay report, reviews and audits, early warning
    "/access/": ACCESS_ROLES,  # access-to-information requests: the log, records, redaction, release
    "/account/": EVERY_ROLE,  # one's own second factor and sessions
    # the desk's office work beside the board (static/desk/): one page per duty
    "/desk/investigations/": DESK,
    "/desk/info-requests/": DESK,
    "/desk/directory/": DESK,
    "/desk/radio/": DESK,
    "/desk/reports/": DESK,
    "/desk/units/": DESK,
    "/desk/resources/": DESK,
}

# Where a role lands after signing in. Case staff have no page of their own yet: they enter
# complaints taken by phone on the portal.
_HOMES: Mapping[Role, str] = {
    Role.OFFICER: "/officer/",
    Role.INTAKE_311: "/referral/",
    Role.CASE_COORDINATOR: "/cases/",
    Role.TEAM_LEAD: "/cases/",
    Role.ACCESS_STAFF: "/access/",
}
_DEFAULT_HOME = "/board/"

# Files anyone may fetch, by path or mount: the pages' code, styles and libraries, no data.
FILES = frozenset({"/officer/sw.js", "/static", "/vendor/leaflet", "/vendor/chart", "/vendor/pdfjs"})

# ---- the checks ---------------------------------------------------------------------


def may_command(who: Principal, command: str, unit: str | None) -> bool:
    """Whether ``who`` may send ``command`` (acting for ``unit``, if it names one)."""
    if who.role not in COMMANDS.get(command, frozenset()):
        return False
    if who.role is Role.OFFICER and command in OWN_UNIT_COMMANDS:
        return unit is not None and unit == who.unit
    return True


def may_read(who: Principal, topic: str) -> bool:
    return who.role in TOPICS.get(topic, frozenset())


def officer_sees(who: Principal) -> Callable[[Incident], bool] | None:
    """For an officer, the incidents it may see: those its unit is or was on, and those it
    reported itself. Callers' names and numbers on other calls are not its business."""
    if who.role is not Role.OFFICER:
        return None

    def sees(incident: Incident) -> bool:
        return incident.created_by == who.user or any(a.unit == who.unit for a in incident.units)

    return sees


def officer_on(who: Principal, incident: Incident) -> bool:
    """Whether an officer's unit is (or was) on a call: the calls it may write to, by linking one
    of its own new calls to them, say."""
    return who.unit is not None and any(a.unit == who.unit for a in incident.units)


def route_roles(method: str, path: str) -> Roles | None:
    """The roles that may call a route (``PUBLIC``: anyone). A route the table does not name is
    a mistake in the code, so it fails at once, saying where to add it."""
    try:
        return ROUTES[(method, path)]
    except KeyError:
        raise KeyError(f"{method} {path} has no entry in ROUTES (server/access/permissions.py): add one") from None


def may_open(role: Role, page: str) -> bool:
    roles = PAGES[page]
    return roles is None or role in roles


def home_for(role: Role) -> str:
    """Where a role lands after signing in (always a page it may open)."""
    return _HOMES.get(role, _DEFAULT_HOME)


def holds(who: Principal | None, grant: Grant) -> bool:
    """Whether ``who`` (signed in, or None) holds ``grant``."""
    return who is not None and who.role in GRANTS[grant]


# ---- the table for people --------------------------------------------------------------

_ALL_ROLES = list(Role)


def _row(name: str, allowed: Callable[[Role | None], str]) -> str:
    cells = [allowed(None), *(allowed(role) for role in _ALL_ROLES)]
    return f"| {name} | " + " | ".join(cells) + " |"


def _table(title: str, rows: Iterable[str]) -> list[str]:
    head = f"| {title} | signed out | " + " | ".join(r.value for r in _ALL_ROLES) + " |"
    rule = "|---|" + "---|" * (len(_ALL_ROLES) + 1)
    return [head, rule, *rows, ""]


def _mark(yes: bool) -> str:
    return "yes" if yes else "·"


def _roles_cell(roles: Roles | None) -> Callable[[Role | None], str]:
    return lambda role: _mark(roles is None or (role is not None and role in roles))


def render() -> str:
    """The table as Markdown: docs/permissions.md."""
    out = [
        "# Permissions",
        "",
        "Who may do what, generated from the permission table, `server/access/permissions.py`"
        " (`.venv/bin/python -m server.access.permissions > docs/permissions.md`; a test fails when"
        " this file is out of date). `yes`: allowed; `·`: refused (401 or 403 over HTTP, an `error`"
        " `FORBIDDEN` on the WebSocket, a redirect to the role's home page for a page).",
        "",
        "## WebSocket commands",
        "",
        "By protocol tag (docs/protocol.md). `own unit`: an officer sends it only for the unit its"
        " token is bound to. Signed out, nothing is sent: the WebSocket takes a token first.",
        "",
    ]

    def command_cell(command: str) -> Callable[[Role | None], str]:
        def cell(role: Role | None) -> str:
            if role is None or role not in COMMANDS[command]:
                return _mark(False)
            return "own unit" if role is Role.OFFICER and command in OWN_UNIT_COMMANDS else _mark(True)

        return cell

    out += _table("command", (_row(f"`{c}`", command_cell(c)) for c in sorted(COMMANDS)))
    out += ["## Topics", "", "An officer reads only the incidents its unit is or was on, and those it reported.", ""]
    out += _table("topic", (_row(f"`{t}`", _roles_cell(TOPICS[t])) for t in sorted(TOPICS)))
    out += ["## HTTP routes", "", "The full description of each is in the OpenAPI document, `/api/openapi.json`.", ""]
    routes = sorted(ROUTES, key=lambda key: (key[1], key[0]))
    out += _table("route", (_row(f"`{m} {p}`", _roles_cell(ROUTES[(m, p)])) for m, p in routes))
    out += ["## Pages", "", f"A role not allowed lands on its home page; most land on `{_DEFAULT_HOME}`.", ""]
    out += _table("page", (_row(f"`{p}`", _roles_cell(PAGES[p])) for p in sorted(PAGES)))
    homes = ", ".join(f"{r.value} `{home_for(r)}`" for r in _ALL_ROLES)
    out += [f"Home pages: {homes}.", ""]
    out += ["## Grants", "", "What a route does only for some of the roles that may call it.", ""]
    out += _table("grant", (_row(g.value, _roles_cell(GRANTS[g])) for g in Grant))
    out += ["Where each is asked for:", ""]
    out += [f"- {g.value}: " + ", ".join(f"`{m} {p}`" for m, p in GRANTED_AT[g]) for g in Grant]
    out += [""]
    files = ", ".join(f"`{f}`" for f in sorted(FILES))
    out += ["## Files", "", f"Anyone may fetch {files}: the pages' code, styles and libraries, no data."]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())

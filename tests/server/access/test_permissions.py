"""The permission table matches what the hub serves: every route, page, file, command and topic
has its entry, every entry is served, and docs/permissions.md is the table as it is."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import Mount, Route

from protocol.messages import COMMANDS as COMMAND_TYPES
from server.access import permissions
from server.access.permissions import (
    COMMANDS,
    FILES,
    GRANTED_AT,
    GRANTS,
    OWN_UNIT_COMMANDS,
    PAGES,
    ROUTES,
    TOPICS,
    Grant,
)
from server.access.roles import Role
from server.app import create_app
from server.bus.topics import TOPICS as BUS_TOPICS
from server.config import Settings
from tests.helpers import ROOT

REGENERATE = ".venv/bin/python -m server.access.permissions > docs/permissions.md"


def _served(tmp_path: Path) -> tuple[set[tuple[str, str]], set[str]]:
    """(method, path) of every route the app serves, and the path of every mount."""
    app = create_app(Settings(data_dir=tmp_path, secret="x" * 40))
    routes: set[tuple[str, str]] = set()
    mounts: set[str] = set()
    for route in app.routes:
        if isinstance(route, Mount):
            mounts.add(route.path)
        elif isinstance(route, Route):
            routes |= {(method, route.path) for method in route.methods or () if method != "HEAD"}
        else:
            raise AssertionError(f"a route of a kind the table does not know: {route!r}")
    return routes, mounts


def _entry_of(method: str, path: str) -> str | None:
    """Where the table names a served route, if it does."""
    if (method, path) in ROUTES:
        return "ROUTES"
    if method == "GET" and path in PAGES:
        return "PAGES"
    if method == "GET" and path in FILES:
        return "FILES"
    return None


def test_every_route_the_app_serves_has_an_entry(tmp_path: Path) -> None:
    """A route, page, file or mount added without its line in the permission table is found here."""
    routes, mounts = _served(tmp_path)
    missing = sorted(f"{m} {p}" for m, p in routes if _entry_of(m, p) is None)
    missing += sorted(f"mount {p}" for p in mounts - FILES)
    assert not missing, f"served, but not in server/access/permissions.py: {missing}"


def test_every_entry_in_the_table_is_served(tmp_path: Path) -> None:
    """A route the app no longer serves does not linger in the table."""
    routes, mounts = _served(tmp_path)
    paths = {p for _, p in routes}
    stale = [f"{m} {p}" for m, p in ROUTES if (m, p) not in routes]
    stale += [f"page {p}" for p in PAGES if ("GET", p) not in routes]
    stale += [f"file {p}" for p in FILES if p not in mounts and p not in paths]
    assert not stale, f"in server/access/permissions.py, but not served: {stale}"


def test_every_command_and_topic_has_an_entry() -> None:
    """Each command of the protocol and each topic of the bus is in the table, and nothing else is."""
    tags = {t.__struct_config__.tag for t in COMMAND_TYPES}
    assert set(COMMANDS) == tags
    assert set(TOPICS) == {t.name for t in BUS_TOPICS}


def test_the_own_unit_rule_names_commands_an_officer_sends_for_a_unit() -> None:
    """Each own-unit command is one an officer may send, and it names the unit it acts for."""
    for command_type in COMMAND_TYPES:
        tag = command_type.__struct_config__.tag
        if tag in OWN_UNIT_COMMANDS:
            assert Role.OFFICER in COMMANDS[tag], tag
            assert "unit" in command_type.__struct_fields__, tag


def test_every_role_lands_on_a_page_it_may_open() -> None:
    """After signing in, nobody is sent to a page that would send it on again."""
    for role in Role:
        assert permissions.may_open(role, permissions.home_for(role)), role


def test_every_grant_is_asked_for_on_routes_of_the_table() -> None:
    """Each grant names where it is asked for, and those are routes the table has."""
    assert set(GRANTED_AT) == set(Grant)
    for grant, routes in GRANTED_AT.items():
        assert routes and all(route in ROUTES for route in routes), grant


def test_the_lanes_of_dead_letters_are_the_roles_of_their_routes() -> None:
    """Whoever may call the dead-letter routes sees at least one lane, and nobody else sees any."""
    lanes = GRANTS[Grant.DEAD_LETTERS_COMPLAINTS] | GRANTS[Grant.DEAD_LETTERS_REFERRALS]
    assert ROUTES[("GET", "/api/intake/dead-letters")] == lanes
    assert PAGES["/intake/"] == lanes


def test_the_published_matrix_is_up_to_date() -> None:
    """docs/permissions.md is what the table renders today."""
    published = (ROOT / "docs" / "permissions.md").read_text()
    assert published == permissions.render(), f"docs/permissions.md is out of date: run `{REGENERATE}`"

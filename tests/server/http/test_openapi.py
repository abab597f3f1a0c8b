"""The OpenAPI document: served, complete, and true: Schemathesis, signed in as each role, finds no
server error and no answer that breaks the document."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.routing import Route

from server.access.roles import Role
from server.app import create_app
from server.config import Settings
from tests.helpers import HubProcess, S, start_hub_process, test_token

pytestmark = pytest.mark.slow

# Operations that end the caller's own sign-in: run, they would leave the rest of the run signed out.
ENDS_OWN_SESSION = ["/api/logout", "/api/account/sign-out-everywhere"]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    running = start_hub_process(tmp_path_factory.mktemp("openapi"), env={"DISPATCH_INTAKE_WORKERS": "0"})
    running.wait_healthy()
    yield running
    running.stop()


def test_the_document_is_served_and_names_every_api_route(tmp_path: Path) -> None:
    """Every route under /api, /open311 and the operations paths is in the document, with its method."""
    app = create_app(Settings(data_dir=tmp_path, secret="x" * 40))
    document = app.state.openapi
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    for route in app.routes:
        if not isinstance(route, Route) or not route.path.startswith(("/api/", "/open311/", "/healthz", "/metrics")):
            continue
        path = route.path.replace(":rowid", "").replace(":fmt", "")
        for method in route.methods or ():
            if method != "HEAD":
                assert (path, method.lower()) in documented, (path, method)
    assert document["openapi"] == "3.1.0"
    board = document["paths"]["/api/board"]["get"]
    assert board["x-roles"] == ["admin", "dispatcher", "supervisor"]
    assert board["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Board"}


def test_the_hub_serves_its_document(hub: HubProcess) -> None:
    got = httpx.get(hub.http + "/api/openapi.json")
    assert got.status_code == 200 and "/api/board" in got.json()["paths"]


ROLES: list[tuple[str, Role | None, str | None]] = [
    ("anonymous", None, None),
    ("dispatcher", Role.DISPATCHER, None),
    ("officer", Role.OFFICER, "PO11"),
    ("intake_311", Role.INTAKE_311, None),
    ("case_coordinator", Role.CASE_COORDINATOR, None),
    ("admin", Role.ADMIN, None),
]


@pytest.mark.parametrize(("name", "role", "unit"), ROLES, ids=[r[0] for r in ROLES])
def test_schemathesis_finds_no_server_error_and_no_answer_off_the_document(
    hub: HubProcess, tmp_path: Path, name: str, role: Role | None, unit: str | None
) -> None:
    """A bounded run of Schemathesis over every operation, as one role."""
    cmd = [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        f"{hub.http}/api/openapi.json",
        "--checks",
        "not_a_server_error,response_schema_conformance,content_type_conformance",
        "--max-examples",
        "5",
        "--max-time",
        str(int(15 * S)),
        "--seed",
        "20261202",
        "--no-color",
    ]
    for path in ENDS_OWN_SESSION:
        cmd += ["--exclude-path", path]
    if role is not None:
        cmd += ["--header", f"Authorization: Bearer {test_token(f'st-{name}', role, unit)}"]
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=180 * S)
    report = done.stdout[-6000:] + done.stderr[-2000:]
    assert done.returncode == 0, report
    assert " passed" in done.stdout and "failures" not in done.stdout.split("SUMMARY")[-1].lower(), report
    assert "Exception in ASGI application" not in hub.log(), hub.log()[-4000:]

"""Places: the gazetteer finds what a caller names, says its district and whether it is ours, and an
optional external geocoder answers what the gazetteer does not know."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis

from server.access.roles import Role
from server.agency.gazetteer import Place, match_places, parse_geocoder_answer
from server.agency.policy import load_policy
from server.bus.valkey import EmbeddedValkey
from tests.helpers import RunningHub, hub_in_process

POLICY = load_policy(None)


def test_the_default_gazetteer_is_edmonton_and_every_place_is_in_a_district() -> None:
    """The shipped places load, and each falls inside the default service area, in a district."""
    assert len(POLICY.gazetteer) >= 40
    kinds = {p.kind for p in POLICY.gazetteer}
    assert {"park", "lrt", "facility", "river_valley"} <= kinds
    assert POLICY.area is not None
    for place in POLICY.gazetteer:
        where = POLICY.area.locate(place.lat, place.lon)
        assert where.inside and where.district, place.name


def test_typed_text_finds_names_aliases_and_words_in_any_order() -> None:
    """A name that begins with the text comes first; aliases and words in another order still match."""
    names = lambda text: [p.name for p in match_places(POLICY.gazetteer, text)]  # noqa: E731
    assert names("churchill")[:2] == ["Churchill Square", "Churchill LRT station"]
    assert names("churchill lrt") == ["Churchill LRT station"]
    assert names("lrt univ") == ["University LRT station"]
    assert names("WEM") == ["West Edmonton Mall"]  # an alias
    assert names("Hawrelak")[0] == "Hawrelak Park"
    assert names("Royal Alex")[0] == "Royal Alexandra Hospital"
    assert names("10230 Jasper Ave NW") == [] and names("  ") == [] and names("--") == []
    accented = [Place(name="Café Montréal", kind="facility", lat=53.5, lon=-113.5)]
    assert [p.name for p in match_places(accented, "cafe montreal")] == ["Café Montréal"]


def test_an_operator_places_file_replaces_the_defaults(tmp_path: Path) -> None:
    """[places] file in the operator's policy, relative to it; a wrong file is refused, naming it."""
    (tmp_path / "ours.toml").write_text(
        '[[place]]\nname = "Depot"\nkind = "facility"\nlat = 53.55\nlon = -113.49\naliases = ["yard"]\n'
    )
    (tmp_path / "policy.toml").write_text('[places]\nfile = "ours.toml"\n')
    policy = load_policy(tmp_path / "policy.toml")
    assert [p.name for p in policy.gazetteer] == ["Depot"]
    (tmp_path / "ours.toml").write_text('[[place]]\nname = "Depot"\nkind = "moon"\nlat = 1\nlon = 2\n')
    with pytest.raises(ValueError, match="places file .*ours.toml"):
        load_policy(tmp_path / "policy.toml")


def test_geocoder_answers_of_both_styles_are_read_and_junk_gives_nothing() -> None:
    nominatim = [{"display_name": "10230 Jasper Ave, Edmonton", "lat": "53.5413", "lon": "-113.4947"}]
    pelias = {"features": [{"geometry": {"coordinates": [-113.49, 53.54]}, "properties": {"label": "Jasper Ave"}}]}
    assert parse_geocoder_answer(nominatim) == [("10230 Jasper Ave, Edmonton", 53.5413, -113.4947)]
    assert parse_geocoder_answer(pelias) == [("Jasper Ave", 53.54, -113.49)]
    for junk in (None, "x", {"features": [{}]}, [{"lat": "north"}], [{"display_name": "x", "lat": 99, "lon": 0}]):
        assert parse_geocoder_answer(junk) == []


class _Nominatim(http.server.BaseHTTPRequestHandler):
    asked: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        self.asked.append(self.path)
        body = json.dumps(
            [
                {"display_name": "Red Deer City Hall, Red Deer, Alberta", "lat": "52.2681", "lon": "-113.8112"},
                {"display_name": "10230 Jasper Ave NW, Edmonton", "lat": "53.5413", "lon": "-113.4947"},
            ]
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def geocoder() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Nominatim)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/search?format=jsonv2&q={{q}}"
    finally:
        server.shutdown()
        server.server_close()


async def _get(hub: RunningHub, path: str, user: str = "ana", role: Role = Role.DISPATCHER) -> httpx.Response:
    unit = "PO61" if role is Role.OFFICER else None
    async with httpx.AsyncClient() as http_:
        return await http_.get(hub.http + path, headers={"Authorization": f"Bearer {hub.token(user, role, unit)}"})


async def test_places_api_suggests_gazetteer_places_with_district_and_service_area(hub: RunningHub) -> None:
    """The desk and 311 staff get suggestions; officers do not; a point is located."""
    found = (await _get(hub, "/api/places?q=churchill%20lrt")).json()["places"]
    assert found == [
        {
            "name": "Churchill LRT station",
            "kind": "lrt",
            "address": "99 St & 102 Ave NW",
            "lat": 53.5444,
            "lon": -113.4887,
            "district": "Downtown",
            "inside": True,
            "source": "gazetteer",
        }
    ]
    assert (await _get(hub, "/api/places?q=hawrelak", "rio", Role.INTAKE_311)).json()["places"][0][
        "name"
    ] == "Hawrelak Park"
    assert (await _get(hub, "/api/places?q=hawrelak", "u61", Role.OFFICER)).status_code == 403
    assert (await _get(hub, "/api/places?q=10230%20Jasper")).json() == {"places": []}  # no geocoder configured
    assert (await _get(hub, "/api/places?q=")).status_code == 400
    red_deer = (await _get(hub, "/api/places/locate?lat=52.2681&lon=-113.8112")).json()
    assert red_deer == {"inside": False, "district": None}
    assert (await _get(hub, "/api/places/locate?lat=53.5444&lon=-113.4887")).json() == {
        "inside": True,
        "district": "Downtown",
    }


async def test_the_external_geocoder_answers_what_the_gazetteer_does_not(
    redis: aioredis.Redis, valkey: EmbeddedValkey, tmp_path: Path, geocoder: str
) -> None:
    """Asked only when no place matches; ours first, the other flagged outside; answers are kept."""
    _Nominatim.asked.clear()
    async with hub_in_process(valkey.url, tmp_path / "data", geocoder_url=geocoder) as hub:
        found = (await _get(hub, "/api/places?q=10230%20Jasper%20Ave")).json()["places"]
        assert [(p["name"], p["inside"], p["district"], p["source"]) for p in found] == [
            ("10230 Jasper Ave NW, Edmonton", True, "Downtown", "geocoder"),
            ("Red Deer City Hall, Red Deer, Alberta", False, None, "geocoder"),
        ]
        again = (await _get(hub, "/api/places?q=10230%20jasper%20ave")).json()["places"]
        assert again == found and len(_Nominatim.asked) == 1  # the same words: from the cache
        assert "q=10230%20Jasper%20Ave" in _Nominatim.asked[0]
        gaz = (await _get(hub, "/api/places?q=hawrelak")).json()["places"]
        assert [p["source"] for p in gaz] == ["gazetteer"] and len(_Nominatim.asked) == 1

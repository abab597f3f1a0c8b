"""Open311 GeoReport v2 end to end: both formats, the standard's errors, API keys from the
CLI, and a referral that becomes a call whose closing 311 can read back."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import msgspec
import pytest

from clients.connection import Connection
from protocol.messages import IncidentClose
from server import cli
from server.access.roles import Role
from server.bus.valkey import EmbeddedValkey
from server.dispatch.referrals import incident_id_for
from server.records.referrals import ReferralRecords
from tests.helpers import RunningHub
from tests.server.intake.test_intake_lane import read_one, worker_running

V2 = "/open311/v2"


async def issue_key(hub: RunningHub, name: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert (
        await cli._apikey(
            argparse.Namespace(
                key_cmd="add", name=name, data_dir=hub.settings.data_dir, database_url=hub.settings.database_url
            )
        )
        == 0
    )
    return capsys.readouterr().out.strip().splitlines()[-1]


async def until(check: Any, timeout: float = 10.0) -> Any:
    """Poll an async condition until it holds (returns its value)."""
    for _ in range(int(timeout / 0.05)):
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


def xml(text: str) -> ET.Element:
    return ET.fromstring(text.encode())


async def test_services_and_definitions_in_both_formats(hub: RunningHub) -> None:
    async with httpx.AsyncClient(base_url=hub.http) as http:
        listed = (await http.get(f"{V2}/services.json")).json()
        codes = {s["service_code"] for s in listed}
        assert codes == {"NOISE", "PARKING", "ENCAMPMENT", "GRAFFITI", "ANIMAL", "UNSIGHTLY", "PARK_BYLAW"}
        noise = next(s for s in listed if s["service_code"] == "NOISE")
        assert noise["metadata"] is True and noise["type"] == "realtime" and "music" in noise["keywords"]
        as_xml = await http.get(f"{V2}/services.xml")
        assert as_xml.headers["content-type"].startswith("text/xml")
        assert {e.findtext("service_code") for e in xml(as_xml.text).iter("service")} == codes
        definition = (await http.get(f"{V2}/services/NOISE.json")).json()
        source = definition["attributes"][0]
        assert (source["code"], source["datatype"], source["required"], source["order"]) == (
            "SOURCE",
            "singlevaluelist",
            True,
            1,
        )
        assert {"key": "music", "name": "Music or party"} in source["values"]
        d_xml = xml((await http.get(f"{V2}/services/NOISE.xml")).text)
        assert d_xml.tag == "service_definition"
        assert [v.findtext("key") for v in d_xml.iter("value")][:2] == ["music", "construction"]
        discovery = xml((await http.get(f"{V2}/discovery.xml")).text)
        assert discovery.findtext("endpoints/endpoint/specification") == "http://wiki.open311.org/GeoReport_v2"
        missing = await http.get(f"{V2}/services/TREES.xml")
        assert missing.status_code == 404
        assert xml(missing.text).findtext("error/code") == "404"


async def test_posting_needs_a_key_and_errors_take_the_standard_shape(
    hub: RunningHub, capsys: pytest.CaptureFixture[str]
) -> None:
    key = await issue_key(hub, "city-crm", capsys)
    form = {"service_code": "NOISE", "lat": "53.5444", "long": "-113.4909"}
    async with httpx.AsyncClient(base_url=hub.http) as http:
        no_key = await http.post(f"{V2}/requests.json", data=form)
        assert no_key.status_code == 403 and no_key.json()[0]["code"] == 403
        wrong = await http.post(f"{V2}/requests.xml", data=form | {"api_key": "d311_nope"})
        assert wrong.status_code == 403 and "not valid" in xml(wrong.text).findtext("error/description", "")
        incomplete = await http.post(f"{V2}/requests.json", data=form | {"api_key": key, "attribute[SOURCE]": "x"})
        assert incomplete.status_code == 400
        described = [e["description"] for e in incomplete.json()]
        assert any("SOURCE] must be one of" in d for d in described)
        assert any("ONGOING] is required" in d for d in described)
        unknown = await http.post(f"{V2}/requests.json", data={"api_key": key, "service_code": "TREES"})
        assert unknown.status_code == 404
        # queued (no worker runs in this test): the request is known and open before it is filed
        queued = await http.post(
            f"{V2}/requests.json",
            data=form | {"api_key": key, "attribute[SOURCE]": "music", "attribute[ONGOING]": "no"},
        )
        assert queued.status_code == 201
        waiting = await http.get(f"{V2}/requests/{queued.json()[0]['service_request_id']}.xml")
        assert xml(waiting.text).findtext("request/status") == "open"
        assert xml(waiting.text).findtext("request/status_notes") == "Received; being routed."
        bad_date = await http.get(f"{V2}/requests.json", params={"start_date": "last tuesday"})
        assert bad_date.status_code == 400 and "ISO 8601" in bad_date.json()[0]["description"]
        assert (await http.get(f"{V2}/requests/999999.json")).status_code == 404
        assert (await http.get(f"{V2}/tokens/nope.xml")).status_code == 404
    assert (
        await cli._apikey(
            argparse.Namespace(
                key_cmd="revoke",
                name="city-crm",
                data_dir=hub.settings.data_dir,
                database_url=hub.settings.database_url,
            )
        )
        == 0
    )
    capsys.readouterr()
    await cli._apikey(
        argparse.Namespace(key_cmd="list", data_dir=hub.settings.data_dir, database_url=hub.settings.database_url)
    )
    assert "revoked" in capsys.readouterr().out


async def test_a_referral_becomes_a_call_and_its_closing_flows_back_to_311(
    hub: RunningHub, valkey: EmbeddedValkey, capsys: pytest.CaptureFixture[str]
) -> None:
    key = await issue_key(hub, "city-crm", capsys)
    form = {
        "api_key": key,
        "service_code": "NOISE",
        "lat": "53.5444",
        "long": "-113.4909",
        "address_string": "10230 Jasper Ave NW",
        "description": "Party with a sound system on the balcony",
        "attribute[SOURCE]": "music",
        "attribute[ONGOING]": "yes",
        "first_name": "Pat",
        "phone": "780-555-0100",
    }
    async with worker_running(hub, valkey.url), httpx.AsyncClient(base_url=hub.http) as http:
        posted = await http.post(f"{V2}/requests.xml", data=form, headers={"Idempotency-Key": "crm-4411"})
        assert posted.status_code == 201
        request_id = xml(posted.text).findtext("request/service_request_id")
        token = xml(posted.text).findtext("request/token")
        assert request_id and token
        retried = await http.post(f"{V2}/requests.json", data=form, headers={"Idempotency-Key": "crm-4411"})
        assert retried.status_code == 200 and retried.json()[0]["service_request_id"] == request_id
        assert (await http.get(f"{V2}/tokens/{token}.json")).json() == [
            {"service_request_id": request_id, "token": token}
        ]
        call_id = incident_id_for(request_id)
        live = hub.ctx.hub.service.live

        async def on_board() -> Any:
            incident, _ = await live.incident_or_none(call_id)
            return incident

        call = await until(on_board)
        assert (call.call_type, call.priority, call.source, call.callback) == ("NOISE", 4, "311", "780-555-0100")
        assert "Music or party" in call.narrative and call.location.district

        async def status_of() -> dict[str, Any]:
            r = await http.get(f"{V2}/requests/{request_id}.json")
            return dict(r.json()[0]) if r.status_code == 200 else {}

        first = await until(status_of)
        assert first["status"] == "open" and first["agency_responsible"] == "Community Standards Peace Officers"
        assert first["requested_datetime"].endswith(("-07:00", "-06:00"))
        async with Connection(hub.url, token=hub.token("dee")) as desk:
            await desk.command(
                IncidentClose(
                    id=desk.next_id(), incident=call_id, disposition="citation issued", note="Owner ticketed."
                )
            )

        async def closed() -> dict[str, Any] | None:
            s = await status_of()
            return s if s.get("status") == "closed" else None

        done = await until(closed)
        # the public learns the outcome; what the officer wrote is for the 311 system that holds a key
        assert done["status_notes"] == "Closed: citation issued."
        listed = xml((await http.get(f"{V2}/requests.xml", params={"status": "closed"})).text)
        assert [r.findtext("service_request_id") for r in listed.iter("request")] == [request_id]
        assert (await http.get(f"{V2}/requests.json", params={"status": "open"})).json() == []
        assert (await http.get(f"{V2}/requests.json", params={"service_code": "PARKING"})).json() == []
        # what the caller said is shown to the 311 system that holds a key, not to anyone who asks
        assert done["description"] is None
        guessed = (await http.get(f"{V2}/requests/{request_id}.json", params={"api_key": "d311_guess"})).json()[0]
        assert guessed["description"] is None
        keyed = (await http.get(f"{V2}/requests/{request_id}.json", params={"api_key": key})).json()[0]
        assert keyed["description"] == "Party with a sound system on the balcony"
        assert keyed["status_notes"] == "Closed: citation issued. Owner ticketed."
        # nor to signed-in roles the permission table does not name: an officer, case staff
        for role, unit in ((Role.OFFICER, "PO99"), (Role.CASE_COORDINATOR, None)):
            signed = {"authorization": f"Bearer {hub.token('x', role, unit)}"}
            for got in (await http.get(f"{V2}/requests.json", headers=signed)).json():
                assert (got["description"], got["status_notes"]) == (None, "Closed: citation issued."), role
        desk = {"authorization": f"Bearer {hub.token('dee')}"}
        assert (await http.get(f"{V2}/requests.json", headers=desk)).json()[0]["description"] == form["description"]


async def test_a_referral_for_a_business_area_becomes_an_information_request(
    hub: RunningHub, valkey: EmbeddedValkey
) -> None:
    staff = {"authorization": f"Bearer {hub.token('sam', Role.INTAKE_311)}"}
    desk = {"authorization": f"Bearer {hub.token('dee')}"}
    async with worker_running(hub, valkey.url), httpx.AsyncClient(base_url=hub.http) as http:
        posted = await http.post(
            f"{V2}/requests.json",
            data={"service_code": "GRAFFITI", "address_string": "Whyte Ave and 104 St", "attribute[SURFACE]": "fence"},
            headers=staff,
        )
        request_id = posted.json()[0]["service_request_id"]

        async def routed() -> list[Any]:
            r = await http.get("/api/info-requests", headers=desk)
            return [i for i in r.json()["info_requests"] if request_id in i["subject"]]

        (info,) = await until(routed)
        assert info["business_area"] == "Graffiti Program" and info["status"] == "routed"
        patched = await http.patch(
            f"/api/info-requests/{info['id']}",
            json={"status": "answered", "notes": "Painted over on Tuesday."},
            headers=desk,
        )
        assert patched.status_code == 200
        got = (await http.get(f"{V2}/requests/{request_id}.json", headers=staff)).json()[0]
        assert (got["status"], got["status_notes"]) == ("closed", "Answered. Painted over on Tuesday.")
        assert got["description"] == ""  # shown to a signed-in client (empty here), hidden from the public
        public = (await http.get(f"{V2}/requests/{request_id}.json")).json()[0]
        assert public["description"] is None


async def test_a_referral_redelivered_at_any_step_makes_one_call_and_one_record(hub: RunningHub) -> None:
    from server.dispatch.referrals import ReferralIn
    from server.intake.__main__ import make_worker
    from server.intake.lane import REFERRALS
    from server.records.store import RecordsStore

    staff = {"authorization": f"Bearer {hub.token('sam', Role.INTAKE_311)}"}
    async with httpx.AsyncClient(base_url=hub.http) as http:
        posted = await http.post(
            f"{V2}/requests.json",
            data={"service_code": "PARKING", "address_string": "10020 100 St", "lat": "53.541", "long": "-113.49"},
            headers=staff,
        )
    request_id = posted.json()[0]["service_request_id"]
    redis = hub.ctx.redis
    store = RecordsStore(hub.settings.db_path)
    await store.open()
    try:
        worker = await make_worker(hub.settings, redis, store, consumer="one")
        await worker.ensure_groups()
        entry = await read_one(redis, REFERRALS, "one")
        filer: Any = worker.filers[REFERRALS.name]
        service = filer.policy.open311.services["PARKING"]
        referral = msgspec.json.decode(entry.fields["body"], type=ReferralIn)
        await filer._call(service, request_id, referral, "sam")  # the call was made, then the worker died
        await filer(entry)  # redelivered: the call is not made again, the record is written
        await filer(entry)  # and once more: nothing changes
    finally:
        await store.close()
    incidents = [k for k in await redis.hkeys("{dispatch}:incidents:state") if k.startswith(b"311-")]
    assert incidents == [incident_id_for(request_id).encode()]
    filed = await ReferralRecords(hub.ctx.store).service_requests()
    assert [(r.id, r.incident) for r in filed] == [(request_id, incident_id_for(request_id))]


async def test_a_revoked_key_is_refused(
    redis: Any, valkey: EmbeddedValkey, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.helpers import hub_in_process

    async with hub_in_process(valkey.url, tmp_path / "data", api_key_cache_s=0.0) as hub:
        key = await issue_key(hub, "old-crm", capsys)
        form = {"api_key": key, "service_code": "PARK_BYLAW", "address_string": "Hawrelak Park"}
        async with httpx.AsyncClient(base_url=hub.http) as http:
            assert (await http.post(f"{V2}/requests.json", data=form)).status_code == 201
            assert (
                await cli._apikey(
                    argparse.Namespace(
                        key_cmd="revoke",
                        name="old-crm",
                        data_dir=hub.settings.data_dir,
                        database_url=hub.settings.database_url,
                    )
                )
                == 0
            )
            refused = await http.post(f"{V2}/requests.json", data=form)
            assert refused.status_code == 403 and "not valid" in refused.json()[0]["description"]
        again = argparse.Namespace(
            key_cmd="add", name="old-crm", data_dir=hub.settings.data_dir, replace=False, database_url=""
        )
        assert await cli._apikey(again) == 1  # a name's key is replaced only on purpose

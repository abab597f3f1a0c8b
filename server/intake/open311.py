"""Open311 GeoReport v2 under /open311/v2/: discovery, services, requests, tokens, in JSON and XML.

Posting a request needs an API key issued to a 311 system (``dispatch apikey
add``), or a signed-in 311 staff member (the 311 form). A posted request is
checked against its service's definition, queued on the referrals stream and
answered at once with its ``service_request_id`` (and a ``token``); a worker
files it as a call or an information request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import time
from collections.abc import Mapping
from typing import Any
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

import msgspec
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from protocol.state import Incident
from server.api import principal
from server.auth import OPEN311_DETAIL_ROLES, Role
from server.inputs import InputError, bounded
from server.intake.doors import IntakeDoors, client_address
from server.intake.lane import REFERRALS
from server.intake.referrals import ReferralIn, request_status
from server.policy import Open311, Service
from server.records.store import RecordsStore

__all__ = ["api_key_hash", "check_request", "open311_routes", "render"]

STAFF = frozenset({Role.INTAKE_311, Role.ADMIN})
_FORM_MAX = 64 * 1024

# Singular tag for each list, in XML.
_ITEM = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
}


def api_key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


# ---- formats --------------------------------------------------------------


_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _xml_value(parent: ET.Element, tag: str, value: Any) -> None:
    el = ET.SubElement(parent, tag)
    if isinstance(value, dict):
        for k, v in value.items():
            _xml_value(el, k, v)
    elif isinstance(value, list):
        for v in value:
            _xml_value(el, _ITEM.get(tag, "item"), v)
    elif isinstance(value, bool):
        el.text = "true" if value else "false"
    elif value is not None:
        el.text = _NOT_XML.sub("\ufffd", str(value))  # what XML cannot hold never breaks the document


def render(fmt: str, root: str, body: Any, status: int = 200) -> Response:
    """``body`` as JSON, or as XML under ``root`` (a list's items named by the Open311 singular)."""
    if fmt == "json":
        return JSONResponse(body, status_code=status)
    top = ET.Element(root)
    if isinstance(body, list):
        for item in body:
            _xml_value(top, _ITEM.get(root, "item"), item)
    else:
        for k, v in body.items():
            _xml_value(top, k, v)
    xml = b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(top, encoding="utf-8")
    return Response(xml, status_code=status, media_type="text/xml; charset=utf-8")


def errors(fmt: str, status: int, problems: list[str]) -> Response:
    """The standard's error shape: a list of {code, description}."""
    return render(fmt, "errors", [{"code": status, "description": p} for p in problems], status)


def _named(request: Request) -> tuple[str, str] | Response:
    """(name, format) of a path ending in .json or .xml, or the 404 saying how it must end."""
    split = _split(request.path_params["name"])
    return split if split is not None else errors("json", 404, ["not found: end the path in .json or .xml"])


def _split(name: str) -> tuple[str, str] | None:
    stem, dot, fmt = name.rpartition(".")
    if not dot or fmt not in ("json", "xml") or not stem:
        return None
    return stem, fmt


def _iso(ms: int | None, zone: str) -> str | None:
    if ms is None:
        return None
    return dt.datetime.fromtimestamp(ms / 1000, ZoneInfo(zone)).isoformat(timespec="seconds")


def _parse_iso(value: str) -> int | None:
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp() * 1000)


# ---- checking a posted request (pure) ---------------------------------------

_LIMITS = {
    "address_string": 300,
    "address_id": 100,
    "email": 254,
    "device_id": 100,
    "account_id": 100,
    "first_name": 100,
    "last_name": 100,
    "phone": 40,
    "description": 4000,
    "media_url": 1000,
}
_ATTR = re.compile(r"^attribute\[([^\]]{1,64})\](\[\])?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def check_request(form: Mapping[str, list[str]], config: Open311) -> tuple[ReferralIn | None, list[str], int]:
    """A posted request checked against its service. -> (the request, problems, HTTP status)."""
    problems: list[str] = []
    one = {k: v[-1] for k, v in form.items() if v}
    code = one.get("service_code", "")
    service = config.services.get(code)
    if not code:
        return None, ["service_code is required"], 400
    if service is None:
        return None, [f"service_code {code!r} not found; GET services for the list"], 404
    jurisdiction = one.get("jurisdiction_id")
    if jurisdiction and jurisdiction != config.jurisdiction_id:
        problems.append(f"jurisdiction_id {jurisdiction!r} is not served here ({config.jurisdiction_id})")
    attributes: dict[str, str | list[str]] = {}
    for name, values in form.items():
        if _CONTROL.search(name) or any(_CONTROL.search(v) for v in values):
            problems.append(f"{_CONTROL.sub('?', name)} holds control characters")
            continue
        m = _ATTR.match(name)
        if m:
            if any(len(v) > 1000 for v in values) or len(values) > 50:
                problems.append(f"{name} is too long")
            attributes[m.group(1)] = values if (m.group(2) or len(values) > 1) else values[-1]
        # Other fields are ignored, as clients add their own (a bounded form: 200 fields of 8 KB).
    if len(attributes) > 50:
        problems.append("at most 50 attributes")
    for name, most in _LIMITS.items():
        if len(one.get(name, "")) > most:
            problems.append(f"{name} is longer than {most} characters")
    lat = lon = None
    located = bool(one.get("address_string", "").strip() or one.get("address_id", "").strip())
    if "lat" in one or "long" in one:
        try:
            lat, lon = float(one.get("lat", "")), float(one.get("long", ""))
        except ValueError:
            problems.append("lat and long must both be given, as decimal degrees (WGS84)")
            located = True  # said once is enough
        else:
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                problems.append("lat must be within -90..90 and long within -180..180")
                lat = lon = None
                located = True
    if lat is None and not located:
        problems.append("a location is required: lat and long, address_string or address_id")
    email = one.get("email", "")
    if email and not _EMAIL.match(email):
        problems.append("email is not an email address")
    media = one.get("media_url", "")
    if media and not media.startswith(("https://", "http://")):
        problems.append("media_url must be an http(s) URL")
    problems += _check_attributes(service, attributes)
    if problems:
        return None, problems, 400
    request = ReferralIn(
        service_code=code,
        lat=lat,
        long=lon,
        attributes=attributes,
        **{name: one.get(name, "").strip() for name in _LIMITS},
    )
    return request, [], 200


def _check_attributes(service: Service, given: dict[str, str | list[str]]) -> list[str]:
    problems = []
    # Attributes the service does not define are kept as given (clients send their own, such as an id).
    for a in service.attributes:
        value = given.get(a.code)
        values = value if isinstance(value, list) else ([value] if value else [])
        values = [v for v in values if v.strip()]
        if not values:
            if a.required:
                problems.append(f"attribute[{a.code}] is required: {a.description}")
            continue
        keys = {v.key for v in a.values}
        if a.datatype == "singlevaluelist" and (len(values) != 1 or values[0] not in keys):
            problems.append(f"attribute[{a.code}] must be one of {sorted(keys)}")
        elif a.datatype == "multivaluelist" and not set(values) <= keys:
            problems.append(f"attribute[{a.code}] values must be among {sorted(keys)}")
        elif a.datatype == "number":
            try:
                float(values[0])
            except ValueError:
                problems.append(f"attribute[{a.code}] must be a number")
        elif a.datatype == "datetime" and _parse_iso(values[0]) is None:
            problems.append(f"attribute[{a.code}] must be an ISO 8601 date and time")
        elif a.datatype in ("string", "text") and len(values[0]) > (200 if a.datatype == "string" else 4000):
            problems.append(f"attribute[{a.code}] is too long")
    return problems


# ---- the endpoints --------------------------------------------------------


def _ctx(request: Request) -> tuple[IntakeDoors, RecordsStore]:
    ctx = request.app.state.ctx
    return ctx.intake, ctx.store


def _service_json(code: str, s: Service) -> dict[str, Any]:
    return {
        "service_code": code,
        "service_name": s.name,
        "description": s.description,
        "metadata": bool(s.attributes),
        "type": "realtime",
        "keywords": ",".join(s.keywords),
        "group": s.group,
    }


async def discovery(request: Request) -> Response:
    split = _split(request.path_params["name"])
    if split is None or split[0] != "discovery":
        return errors("json", 404, ["not found: use discovery.json or discovery.xml"])
    doors, _ = _ctx(request)
    base = str(request.base_url).rstrip("/") + "/open311/v2/"
    config = doors.policy.open311
    body = {
        "changeset": "2026-11-23T00:00:00Z",
        "contact": config.contact,
        "key_service": config.key_service,
        "endpoints": [
            {
                "specification": "http://wiki.open311.org/GeoReport_v2",
                "url": base,
                "changeset": "2026-11-23T00:00:00Z",
                "type": "production",
                "formats": ["application/json", "text/xml"],
            }
        ],
    }
    return render(split[1], "discovery", body)


async def services(request: Request) -> Response:
    split = _split(request.path_params["name"])
    if split is None or split[0] != "services":
        return errors("json", 404, ["not found"])
    doors, _ = _ctx(request)
    body = [_service_json(code, s) for code, s in doors.policy.open311.services.items()]
    return render(split[1], "services", body)


async def service_definition(request: Request) -> Response:
    named = _named(request)
    if isinstance(named, Response):
        return named
    code, fmt = named
    doors, _ = _ctx(request)
    s = doors.policy.open311.services.get(code)
    if s is None:
        return errors(fmt, 404, [f"service_code {code!r} not found"])
    body = {
        "service_code": code,
        "attributes": [
            {
                "variable": a.variable,
                "code": a.code,
                "datatype": a.datatype,
                "required": a.required,
                "datatype_description": a.datatype_description or None,
                "order": i + 1,
                "description": a.description,
                **({"values": [{"key": v.key, "name": v.name} for v in a.values]} if a.values else {}),
            }
            for i, a in enumerate(s.attributes)
        ],
    }
    return render(fmt, "service_definition", body)


async def _api_key_name(doors: IntakeDoors, store: RecordsStore, key: str) -> str | None:
    """The 311 system an API key was issued to (None: unknown or revoked). Cached for
    ``api_key_cache_s`` (a revoked key is refused on every hub within that)."""
    digest = api_key_hash(key)
    cache = doors.key_cache
    cached = cache.get(digest)
    now = time.monotonic()
    if cached is not None and cached[1] > now:
        return cached[0]
    async with store.db.execute("SELECT name FROM api_keys WHERE key_hash=? AND revoked_at IS NULL", (digest,)) as cur:
        row = await cur.fetchone()
    name = row[0] if row else None
    if name is not None:
        await store.db.execute("UPDATE api_keys SET last_used_at=? WHERE name=?", (int(time.time() * 1000), name))
        await store.db.commit()
    if len(cache) > 1000:
        cache.clear()
    cache[digest] = (name, now + doors.settings.api_key_cache_s)
    return name


def _form_lists(form: FormData) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in form.multi_items():
        if isinstance(v, str):
            out.setdefault(k, []).append(v)
    return out


async def requests_(request: Request) -> Response:
    split = _split(request.path_params["name"])
    if split is None or split[0] != "requests":
        return errors("json", 404, ["not found"])
    fmt = split[1]
    if request.method == "POST":
        return await _post(request, fmt)
    return await _list(request, fmt)


async def _post(request: Request, fmt: str) -> Response:
    doors, store = _ctx(request)
    try:
        async with bounded(request, _FORM_MAX).form(max_files=0, max_fields=200, max_part_size=8192) as form:
            fields = _form_lists(form)
    except InputError as exc:
        return errors(fmt, exc.status, [exc.message])
    except Exception as exc:
        if type(exc).__name__ in ("MultiPartException", "HTTPException"):
            return errors(fmt, 400, [f"the form could not be read: {getattr(exc, 'detail', exc)}"])
        raise
    key = (fields.get("api_key") or [""])[-1]
    who = await principal(request)
    if not fields and "json" in request.headers.get("content-type", ""):
        return errors(fmt, 400, ["send the request as a form (application/x-www-form-urlencoded), as Open311 does"])
    name = await _api_key_name(doors, store, key) if key else None
    if name is not None:
        by = name
    elif who is not None and who.role in STAFF and not key:
        by = f"staff:{who.user}"
    else:
        if await doors.wait(doors.attempts, client_address(request)):  # guessing keys is rate-limited too
            return errors(fmt, 429, ["too many refused requests from this address; retry later"])
        if key:
            return errors(fmt, 403, ["api_key is not valid (unknown or revoked)"])
        return errors(fmt, 403, ["api_key is required to post a service request (or sign in as 311 staff)"])
    wait = await doors.wait(doors.api_keys, f"{by}@{client_address(request)}")
    if wait:
        doors.count("open311", "limited")
        return errors(fmt, 429, [f"too many requests; retry in {wait:.1f}s"])
    referral, problems, status = check_request(fields, doors.policy.open311)
    if referral is None:
        doors.count("open311", "refused")
        return errors(fmt, status, problems)
    # A client that sends an Idempotency-Key gets one request for any number of retries.
    idem = request.headers.get("idempotency-key", "")[:200]
    token = hashlib.sha256(f"{by}\n{idem}".encode()).hexdigest()[:32] if idem else secrets.token_hex(16)
    submitted = await doors.door.submit(
        REFERRALS,
        token,
        {
            "kind": "referral",
            "key": token,
            "at": str(int(time.time() * 1000)),
            "by": by,
            "body": msgspec.json.encode(referral).decode(),
        },
        receipt=msgspec.json.encode({"service_code": referral.service_code, "at": int(time.time() * 1000)}).decode(),
    )
    doors.count("open311", "queued" if submitted.new else "repeated")
    service = doors.policy.open311.services[referral.service_code]
    notice = (
        f"Sent to {service.agency} dispatch as a priority {service.priority or ''} call.".replace("  ", " ")
        if service.route == "incident"
        else f"Sent to {service.business_area}."
    )
    body = [
        {
            "service_request_id": submitted.ref,
            "token": token,
            "service_notice": notice,
            "account_id": referral.account_id or None,
        }
    ]
    return render(fmt, "service_requests", body, 201 if submitted.new else 200)


_incident_decoder = msgspec.msgpack.Decoder(Incident)

_SELECT = (
    "SELECT s.id, s.service_code, s.requested_at, s.route, s.agency_responsible, s.description, s.address,"
    " s.address_id, s.lat, s.lon, s.media_url, i.record, f.status, f.business_area, f.notes, f.updated_at,"
    " s.incident FROM service_requests s LEFT JOIN incidents i ON i.id = s.incident"
    " LEFT JOIN info_requests f ON f.id = s.info_request"
)


async def _rows(request: Request, where: str, args: tuple[Any, ...], limit: int = 1000) -> list[dict[str, Any]]:
    doors, store = _ctx(request)
    ctx = request.app.state.ctx
    zone = doors.policy.complaints.timezone
    who = await principal(request)
    # Descriptions and staff notes may name people: only for the roles allowed and holders of a valid key.
    key = request.query_params.get("api_key", "")
    show_description = (who is not None and who.role in OPEN311_DETAIL_ROLES) or (
        bool(key) and await _api_key_name(doors, store, key) is not None
    )
    out = []
    sql = f"{_SELECT} {where} ORDER BY s.requested_at DESC LIMIT ?"
    async with store.db.execute(sql, (*args, limit)) as cur:
        rows = list(await cur.fetchall())
    for r in rows:
        incident = _incident_decoder.decode(r[11]) if r[11] is not None else None
        if incident is None and r[16] and len(rows) == 1:
            incident, _ = await ctx.hub.service.live.incident_or_none(r[16])  # not archived yet
        info = None if r[12] is None else {"status": r[12], "business_area": r[13], "notes": r[14], "updated_at": r[15]}
        status, notes, updated = request_status(r[3], r[2], incident, info, full=show_description)
        service = doors.policy.open311.services.get(r[1])
        out.append(
            {
                "service_request_id": r[0],
                "status": status,
                "status_notes": notes,
                "service_name": service.name if service else r[1],
                "service_code": r[1],
                "description": r[5] if show_description else None,
                "agency_responsible": r[4],
                "service_notice": None,
                "requested_datetime": _iso(r[2], zone),
                "updated_datetime": _iso(updated, zone),
                "expected_datetime": None,
                "address": r[6] or (incident.location.address if incident else "") or None,
                "address_id": r[7] or None,
                "zipcode": None,
                "lat": r[8],
                "long": r[9],
                "media_url": r[10] or None,
            }
        )
    return out


async def _list(request: Request, fmt: str) -> Response:
    q = request.query_params
    where: list[str] = []
    args: list[Any] = []
    ids = [i for i in q.get("service_request_id", "").split(",") if i.strip()]
    if len(ids) > 100:
        return errors(fmt, 400, ["at most 100 service_request_id values"])
    if ids:
        where.append(f"s.id IN ({','.join('?' * len(ids))})")
        args += [i.strip() for i in ids]
    codes = [c for c in q.get("service_code", "").split(",") if c.strip()]
    if codes:
        where.append(f"s.service_code IN ({','.join('?' * len(codes))})")
        args += [c.strip() for c in codes]
    bounds = {}
    for name in ("start_date", "end_date"):
        if q.get(name):
            ms = _parse_iso(q[name])
            if ms is None:
                return errors(fmt, 400, [f"{name} must be an ISO 8601 date and time, e.g. 2026-11-23T00:00:00-07:00"])
            bounds[name] = ms
    if not ids:  # the standard's default window: the last 90 days
        end = bounds.get("end_date", int(time.time() * 1000) + 1)
        start = bounds.get("start_date", end - 90 * 86_400_000)
        where += ["s.requested_at >= ?", "s.requested_at <= ?"]
        args += [start, end]
    statuses = {s.strip() for s in q.get("status", "").split(",") if s.strip()}
    if statuses - {"open", "closed"}:
        return errors(fmt, 400, ["status must be open, closed or both (comma-separated)"])
    if ids:  # the standard: service_request_id overrides every other filter
        where, args, statuses = where[:1], args[: len(ids)], set()
    rows = await _rows(request, ("WHERE " + " AND ".join(where)) if where else "", tuple(args))
    if statuses:
        rows = [r for r in rows if r["status"] in statuses]
    return render(fmt, "service_requests", rows)


async def one_request(request: Request) -> Response:
    named = _named(request)
    if isinstance(named, Response):
        return named
    rid, fmt = named
    rows = await _rows(request, "WHERE s.id = ?", (rid,))
    if not rows:
        doors, _ = _ctx(request)
        receipt = await doors.door.receipt(REFERRALS, rid)
        if receipt is None:
            return errors(fmt, 404, [f"service_request_id {rid!r} not found"])
        # Queued, not yet filed (a moment, or longer if the workers are down): say so.
        known = msgspec.json.decode(receipt)
        service = doors.policy.open311.services.get(known["service_code"])
        when = _iso(known["at"], doors.policy.complaints.timezone)
        rows = [
            {
                "service_request_id": rid,
                "status": "open",
                "status_notes": "Received; being routed.",
                "service_name": service.name if service else known["service_code"],
                "service_code": known["service_code"],
                "agency_responsible": service.agency if service else None,
                "requested_datetime": when,
                "updated_datetime": when,
            }
        ]
    return render(fmt, "service_requests", rows)


async def token(request: Request) -> Response:
    named = _named(request)
    if isinstance(named, Response):
        return named
    tok, fmt = named
    doors, store = _ctx(request)
    async with store.db.execute("SELECT id FROM service_requests WHERE token=?", (tok,)) as cur:
        row = await cur.fetchone()
    ref = row[0] if row else None
    if ref is None and re.fullmatch(r"[0-9a-f]{32}", tok):
        raw = await doors.door.redis.get(REFERRALS.door(tok))
        if raw is not None:
            ref = (raw.decode() if isinstance(raw, bytes) else str(raw)).split("|", 1)[0]
    if ref is None:
        return errors(fmt, 404, [f"token {tok!r} not found"])
    return render(fmt, "service_requests", [{"service_request_id": ref, "token": tok}])


def open311_routes() -> list[Route]:
    base = "/open311/v2"
    return [
        Route(f"{base}/{{name:str}}", _top, methods=["GET", "POST"]),
        Route(f"{base}/services/{{name:str}}", service_definition, methods=["GET"]),
        Route(f"{base}/requests/{{name:str}}", one_request, methods=["GET"]),
        Route(f"{base}/tokens/{{name:str}}", token, methods=["GET"]),
    ]


async def _top(request: Request) -> Response:
    split = _split(request.path_params["name"])
    stem = split[0] if split else ""
    if stem == "requests":
        return await requests_(request)
    if request.method != "GET":
        return errors(split[1] if split else "json", 405, ["only requests takes POST"])
    if stem == "services":
        return await services(request)
    if stem == "discovery":
        return await discovery(request)
    return errors(split[1] if split else "json", 404, ["not found: discovery, services, requests, tokens"])

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
from typing import Annotated, Any, Literal
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

import msgspec
from msgspec import Meta
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from protocol.state import Incident
from server.access.permissions import Grant, holds
from server.access.roles import Principal
from server.agency.policy import Open311, Service
from server.context import context
from server.dispatch.commands import DispatchService
from server.dispatch.referrals import ReferralIn, request_status
from server.http.endpoints import Endpoint, Handler, path_type
from server.http.inputs import MAX_MS, InputError, bounded, read_query
from server.intake.doors import IntakeDoors, client_address
from server.intake.lane import REFERRALS
from server.records.referrals import ReferralRecords, ServiceRequestRow

__all__ = [
    "Attribute",
    "AttributeValue",
    "Discovery",
    "Endpoint311",
    "KeyQuery",
    "Open311Error",
    "Posted",
    "RequestForm",
    "RequestsQuery",
    "ServiceDefinition",
    "ServiceRequestView",
    "ServiceSummary",
    "TokenView",
    "api_key_hash",
    "check_request",
    "discovery",
    "endpoints",
    "errors",
    "list_requests",
    "not_found",
    "one_request",
    "post_request",
    "render",
    "service_definition",
    "services",
    "token",
]

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


# ---- the endpoints ----------------------------------------------------------

Fmt = Literal["json", "xml"]


class Open311Error(msgspec.Struct):
    """The standard's error: a list of these."""

    code: int
    description: str


class Endpoint311(msgspec.Struct):
    specification: str
    url: str
    changeset: str
    type: str
    formats: list[str]


class Discovery(msgspec.Struct):
    changeset: str
    contact: str
    key_service: str
    endpoints: list[Endpoint311]


class ServiceSummary(msgspec.Struct):
    service_code: str
    service_name: str
    description: str
    metadata: bool  # true: it has attributes (GET services/{code} for them)
    type: str
    keywords: str
    group: str


class AttributeValue(msgspec.Struct):
    key: str
    name: str


class Attribute(msgspec.Struct, omit_defaults=True):
    variable: bool
    code: str
    datatype: str
    required: bool
    datatype_description: str | None
    order: int
    description: str
    values: list[AttributeValue] | None = None


class ServiceDefinition(msgspec.Struct):
    service_code: str
    attributes: list[Attribute]


class ServiceRequestView(msgspec.Struct):
    """A service request as GET requests shows it; the description and staff notes only to a key
    holder or the roles granted it (server.access.permissions, Grant.OPEN311_DETAIL)."""

    service_request_id: str
    status: str  # open, closed
    status_notes: str
    service_name: str
    service_code: str
    description: str | None = None
    agency_responsible: str | None = None
    service_notice: str | None = None
    requested_datetime: str | None = None
    updated_datetime: str | None = None
    expected_datetime: str | None = None
    address: str | None = None
    address_id: str | None = None
    zipcode: str | None = None
    lat: float | None = None
    long: float | None = None
    media_url: str | None = None


class Posted(msgspec.Struct):
    service_request_id: str
    token: str
    service_notice: str
    account_id: str | None


class TokenView(msgspec.Struct):
    service_request_id: str
    token: str


class RequestForm(msgspec.Struct):
    """A posted service request (application/x-www-form-urlencoded). Attributes go as
    ``attribute[CODE]`` fields (see the service's definition); other fields are kept as given."""

    service_code: str
    api_key: str | None = None
    jurisdiction_id: str | None = None
    lat: float | None = None
    long: float | None = None
    address_string: str | None = None
    address_id: str | None = None
    email: str | None = None
    device_id: str | None = None
    account_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    description: str | None = None
    media_url: str | None = None


Short = Annotated[str, Meta(max_length=4000)]


class RequestsQuery(msgspec.Struct):
    service_request_id: Short | None = None  # comma-separated, at most 100; overrides the other filters
    service_code: Short | None = None  # comma-separated
    start_date: Annotated[str, Meta(max_length=64)] | None = None  # ISO 8601; default: 90 days before end_date
    end_date: Annotated[str, Meta(max_length=64)] | None = None
    status: Annotated[str, Meta(max_length=64)] | None = None  # open, closed, or both
    api_key: Annotated[str, Meta(max_length=200)] | None = None


class KeyQuery(msgspec.Struct):
    api_key: Annotated[str, Meta(max_length=200)] | None = None


def _ctx(request: Request) -> tuple[IntakeDoors, ReferralRecords]:
    ctx = context(request)
    return ctx.part(IntakeDoors), ReferralRecords(ctx.store)


def _fmt(request: Request) -> str:
    return str(request.path_params["fmt"])


def _out(fmt: str, root: str, body: Any, status: int = 200) -> Response:
    return render(fmt, root, msgspec.to_builtins(body), status)


async def discovery(request: Request, who: Principal | None) -> Response:
    doors, _ = _ctx(request)
    base = str(request.base_url).rstrip("/") + "/open311/v2/"
    config = doors.policy.open311
    changed = "2026-11-23T00:00:00Z"
    spec = "http://wiki.open311.org/GeoReport_v2"
    formats = ["application/json", "text/xml"]
    body = Discovery(
        changed, config.contact, config.key_service, [Endpoint311(spec, base, changed, "production", formats)]
    )
    return _out(_fmt(request), "discovery", body)


async def services(request: Request, who: Principal | None) -> Response:
    doors, _ = _ctx(request)
    body = [
        ServiceSummary(code, s.name, s.description, bool(s.attributes), "realtime", ",".join(s.keywords), s.group)
        for code, s in doors.policy.open311.services.items()
    ]
    return _out(_fmt(request), "services", body)


async def service_definition(request: Request, who: Principal | None) -> Response:
    fmt, code = _fmt(request), request.path_params["service_code"]
    doors, _ = _ctx(request)
    s = doors.policy.open311.services.get(code)
    if s is None:
        return errors(fmt, 404, [f"service_code {code!r} not found"])
    attributes = [
        Attribute(
            a.variable,
            a.code,
            a.datatype,
            a.required,
            a.datatype_description or None,
            i + 1,
            a.description,
            [AttributeValue(v.key, v.name) for v in a.values] if a.values else None,
        )
        for i, a in enumerate(s.attributes)
    ]
    return _out(fmt, "service_definition", ServiceDefinition(code, attributes))


async def _api_key_name(doors: IntakeDoors, store: ReferralRecords, key: str) -> str | None:
    """The 311 system an API key was issued to (None: unknown or revoked). Cached for
    ``api_key_cache_s`` (a revoked key is refused on every hub within that)."""
    digest = api_key_hash(key)
    cache = doors.key_cache
    cached = cache.get(digest)
    now = time.monotonic()
    if cached is not None and cached[1] > now:
        return cached[0]
    name = await store.api_key_user(digest)
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


async def post_request(request: Request, who: Principal | None) -> Response:
    """A new service request, from a 311 system (with its key) or 311 staff signed in."""
    fmt = _fmt(request)
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
    if not fields and "json" in request.headers.get("content-type", ""):
        return errors(fmt, 400, ["send the request as a form (application/x-www-form-urlencoded), as Open311 does"])
    name = await _api_key_name(doors, store, key) if key else None
    if name is not None:
        by = name
    elif who is not None and holds(who, Grant.OPEN311_STAFF) and not key:
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
    body = [Posted(submitted.ref, token, notice, referral.account_id or None)]
    return _out(fmt, "service_requests", body, 201 if submitted.new else 200)


_incident_decoder = msgspec.msgpack.Decoder(Incident)


async def _views(
    request: Request, who: Principal | None, rows: list[ServiceRequestRow], key: str | None
) -> list[ServiceRequestView]:
    doors, store = _ctx(request)
    ctx = context(request)
    zone = doors.policy.complaints.timezone
    # Descriptions and staff notes may name people: only for the roles allowed and holders of a valid key.
    full = holds(who, Grant.OPEN311_DETAIL) or (bool(key) and await _api_key_name(doors, store, key or "") is not None)
    out = []
    for r in rows:
        incident = _incident_decoder.decode(r.incident_record) if r.incident_record is not None else None
        if incident is None and r.incident and len(rows) == 1:
            incident, _ = await ctx.part(DispatchService).live.incident_or_none(r.incident)  # not archived yet
        info: dict[str, Any] | None = None
        if r.info_status is not None:
            info = {
                "status": r.info_status,
                "business_area": r.business_area,
                "notes": r.info_notes,
                "updated_at": r.info_updated_at,
            }
        status, notes, updated = request_status(r.route, r.requested_at, incident, info, full=full)
        service = doors.policy.open311.services.get(r.service_code)
        out.append(
            ServiceRequestView(
                service_request_id=r.id,
                status=status,
                status_notes=notes,
                service_name=service.name if service else r.service_code,
                service_code=r.service_code,
                description=r.description if full else None,
                agency_responsible=r.agency_responsible,
                requested_datetime=_iso(r.requested_at, zone),
                updated_datetime=_iso(updated, zone),
                address=r.address or (incident.location.address if incident else "") or None,
                address_id=r.address_id or None,
                lat=r.lat,
                long=r.lon,
                media_url=r.media_url or None,
            )
        )
    return out


async def list_requests(request: Request, who: Principal | None) -> Response:
    fmt = _fmt(request)
    _, store = _ctx(request)
    try:
        q = read_query(request, RequestsQuery)
    except InputError as exc:
        return errors(fmt, 400, [exc.message])
    ids = [i.strip() for i in (q.service_request_id or "").split(",") if i.strip()]
    if len(ids) > 100:
        return errors(fmt, 400, ["at most 100 service_request_id values"])
    codes = [c.strip() for c in (q.service_code or "").split(",") if c.strip()]
    bounds = {}
    for name in ("start_date", "end_date"):
        given = getattr(q, name)
        if given:
            ms = _parse_iso(given)
            if ms is None or not 0 <= ms <= MAX_MS:
                return errors(fmt, 400, [f"{name} must be an ISO 8601 date and time, e.g. 2026-11-23T00:00:00-07:00"])
            bounds[name] = ms
    statuses = {s.strip() for s in (q.status or "").split(",") if s.strip()}
    if statuses - {"open", "closed"}:
        return errors(fmt, 400, ["status must be open, closed or both (comma-separated)"])
    if ids:  # the standard: service_request_id overrides every other filter
        rows = await store.service_requests(ids=ids)
        statuses = set()
    else:  # the standard's default window: the last 90 days
        end = bounds.get("end_date", int(time.time() * 1000) + 1)
        start = bounds.get("start_date", end - 90 * 86_400_000)
        rows = await store.service_requests(codes=codes, since=start, until=end)
    views = await _views(request, who, rows, q.api_key)
    if statuses:
        views = [v for v in views if v.status in statuses]
    return _out(fmt, "service_requests", views)


async def one_request(request: Request, who: Principal | None) -> Response:
    fmt, rid = _fmt(request), request.path_params["service_request_id"]
    doors, store = _ctx(request)
    try:
        key = read_query(request, KeyQuery).api_key
    except InputError as exc:
        return errors(fmt, 400, [exc.message])
    views = await _views(request, who, await store.service_requests(ids=[rid]), key)
    if not views:
        receipt = await doors.door.receipt(REFERRALS, rid)
        if receipt is None:
            return errors(fmt, 404, [f"service_request_id {rid!r} not found"])
        # Queued, not yet filed (a moment, or longer if the workers are down): say so.
        known = msgspec.json.decode(receipt)
        service = doors.policy.open311.services.get(known["service_code"])
        when = _iso(known["at"], doors.policy.complaints.timezone)
        views = [
            ServiceRequestView(
                service_request_id=rid,
                status="open",
                status_notes="Received; being routed.",
                service_name=service.name if service else known["service_code"],
                service_code=known["service_code"],
                agency_responsible=service.agency if service else None,
                requested_datetime=when,
                updated_datetime=when,
            )
        ]
    return _out(fmt, "service_requests", views)


async def token(request: Request, who: Principal | None) -> Response:
    fmt, tok = _fmt(request), request.path_params["token"]
    doors, store = _ctx(request)
    ref = await store.request_of_token(tok)
    if ref is None and re.fullmatch(r"[0-9a-f]{32}", tok):
        raw = await doors.door.redis.get(doors.door.lane(REFERRALS).door(tok))
        if raw is not None:
            ref = (raw.decode() if isinstance(raw, bytes) else str(raw)).split("|", 1)[0]
    if ref is None:
        return errors(fmt, 404, [f"token {tok!r} not found"])
    return _out(fmt, "service_requests", [TokenView(ref, tok)])


path_type("fmt", "json|xml", {"type": "string", "enum": ["json", "xml"]})  # how the answer is written


def not_found(request: Request) -> Response:
    """A path under /open311/ that no endpoint takes: the standard's error shape, as a 311 system expects."""
    wants = "xml" if request.url.path.endswith(".xml") else "json"
    return errors(wants, 404, ["not found: discovery, services, requests or tokens, ending in .json or .xml"])


def endpoints() -> list[Endpoint]:
    base, tag = "/open311/v2", "open311"
    errs = {s: list[Open311Error] for s in (400, 403, 404, 413, 429)}

    def ep(method: str, path: str, handler: Handler, summary: str, ok: Any, **kw: Any) -> Endpoint:
        answers = {200: ok, **errs, **kw.pop("answers", {})}
        return Endpoint(method, f"{base}/{path}", handler, summary, tag, answers, also=("text/xml",), **kw)

    return [
        ep("GET", "discovery.{fmt:fmt}", discovery, "Discover the Open311 endpoint", Discovery),
        ep("GET", "services.{fmt:fmt}", services, "List the services", list[ServiceSummary]),
        ep(
            "GET",
            "services/{service_code}.{fmt:fmt}",
            service_definition,
            "Define a service",
            ServiceDefinition,
            examples={"service_code": "NOISE"},
        ),
        ep(
            "GET",
            "requests.{fmt:fmt}",
            list_requests,
            "List service requests",
            list[ServiceRequestView],
            query=RequestsQuery,
        ),
        ep(
            "POST",
            "requests.{fmt:fmt}",
            post_request,
            "Post a service request",
            list[Posted],
            answers={201: list[Posted]},
            body={"application/x-www-form-urlencoded": RequestForm},
            max_body=_FORM_MAX,
        ),
        ep(
            "GET",
            "requests/{service_request_id}.{fmt:fmt}",
            one_request,
            "Read a service request",
            list[ServiceRequestView],
            query=KeyQuery,
            examples={"service_request_id": "1"},
        ),
        ep("GET", "tokens/{token}.{fmt:fmt}", token, "Find a request by its token", list[TokenView]),
    ]

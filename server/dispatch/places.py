"""Places: a caller says "the Churchill LRT" or "Hawrelak Park", not an address.

The gazetteer (``server/agency/gazetteer.py``) is a file in the policy (``[places]
file``; the default ships approximate Edmonton places): parks, LRT stations,
facilities and river-valley access points, each with its aliases. When the gazetteer has no match, an optional
external geocoder (Nominatim- or Pelias-style HTTP, ``DISPATCH_GEOCODER_URL``)
is asked, bounded in time, concurrency and cache. Every answer says whether
the place is inside the service area and in which district.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Annotated, Any, Literal
from urllib.parse import quote

import httpx
import msgspec
from msgspec import Meta
from starlette.requests import Request
from starlette.responses import Response

from server.access.roles import Principal
from server.agency.gazetteer import match_places, parse_geocoder_answer, words_of
from server.agency.geography import ServiceArea
from server.context import context
from server.http.endpoints import Endpoint, answer
from server.http.inputs import read_query

__all__ = ["Geocoder", "LocateQuery", "Located", "PlaceMatch", "Places", "PlacesQuery", "endpoints", "locate", "search"]

log = logging.getLogger("dispatch.places")


class PlaceMatch(msgspec.Struct):
    """A suggestion: what to show, where it is, and whether it is ours."""

    name: str
    kind: str
    address: str
    lat: float
    lon: float
    district: str | None
    inside: bool
    source: Literal["gazetteer", "geocoder"]


class Geocoder:
    """An external geocoder, by URL template with ``{q}`` (the typed text, URL-encoded). Slow or
    down, it answers nothing rather than hold a call-taker up: a short timeout, a few requests at
    a time, and the last answers kept."""

    def __init__(self, url: str, *, timeout_s: float = 2.0, concurrency: int = 4, cache: int = 512) -> None:
        if "{q}" not in url:
            raise ValueError("DISPATCH_GEOCODER_URL needs {q} where the searched text goes")
        self.url = url
        self.client = httpx.AsyncClient(timeout=timeout_s, headers={"User-Agent": "dispatch-hub geocoder"})
        self.gate = asyncio.Semaphore(concurrency)
        self.cache: OrderedDict[str, list[tuple[str, float, float]]] = OrderedDict()
        self.cache_size = cache

    async def search(self, text: str) -> list[tuple[str, float, float]]:
        key = " ".join(words_of(text))
        if key in self.cache:
            self.cache.move_to_end(key)
            return self.cache[key]
        if self.gate.locked():
            return []  # busy: the gazetteer's answer (none) stands
        async with self.gate:
            try:
                resp = await self.client.get(self.url.replace("{q}", quote(text)))
                found = parse_geocoder_answer(resp.json()) if resp.status_code == 200 else []
            except (httpx.HTTPError, ValueError) as exc:
                log.warning("geocoder failed for a search: %s", type(exc).__name__)
                return []
        self.cache[key] = found
        if len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)
        return found

    async def close(self) -> None:
        await self.client.aclose()


class PlacesQuery(msgspec.Struct):
    """``GET /api/places``: what was typed, and how many suggestions."""

    q: Annotated[str, Meta(min_length=1, max_length=200)]
    limit: Annotated[int, Meta(ge=1, le=20)] = 8


class LocateQuery(msgspec.Struct):
    """``GET /api/places/locate``: a point."""

    lat: Annotated[float, Meta(ge=-90, le=90)]
    lon: Annotated[float, Meta(ge=-180, le=180)]


class Places(msgspec.Struct):
    places: list[PlaceMatch]


class Located(msgspec.Struct):
    inside: bool
    district: str | None


def _matched(
    area: ServiceArea | None, name: str, kind: str, address: str, lat: float, lon: float, source: Any
) -> PlaceMatch:
    where = area.locate(lat, lon) if area is not None else None
    return PlaceMatch(
        name=name,
        kind=kind,
        address=address,
        lat=lat,
        lon=lon,
        district=where.district if where else None,
        inside=where.inside if where else True,
        source=source,
    )


async def search(request: Request, who: Principal | None) -> Response:
    ctx = context(request)
    ask = read_query(request, PlacesQuery)
    area = ctx.policy.area
    found = [
        _matched(area, p.name, p.kind, p.address, p.lat, p.lon, "gazetteer")
        for p in match_places(ctx.policy.gazetteer, ask.q, ask.limit)
    ]
    geocoder = ctx.find(Geocoder)
    if not found and geocoder is not None and len(ask.q.strip()) >= 3:
        hits = await geocoder.search(ask.q)
        found = [_matched(area, label, "address", label, lat, lon, "geocoder") for label, lat, lon in hits]
        found.sort(key=lambda m: not m.inside)  # ours first
        found = found[: ask.limit]
    return answer(Places(found))


async def locate(request: Request, who: Principal | None) -> Response:
    ask = read_query(request, LocateQuery)
    area = context(request).policy.area
    where = area.locate(ask.lat, ask.lon) if area is not None else None
    return answer(Located(inside=where.inside if where else True, district=where.district if where else None))


def endpoints() -> list[Endpoint]:
    return [
        Endpoint(
            "GET",
            "/api/places",
            search,
            "Suggest places for typed text",
            "places",
            {200: Places},
            query=PlacesQuery,
        ),
        Endpoint(
            "GET",
            "/api/places/locate",
            locate,
            "Say whether a point is in the service area, and its district",
            "places",
            {200: Located},
            query=LocateQuery,
        ),
    ]

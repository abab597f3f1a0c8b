"""The gazetteer: common places a caller names instead of an address, and how typed text finds them.

Pure: the file's shape, its loading, the matching, and reading an external
geocoder's answer. ``server/dispatch/places.py`` serves it.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

__all__ = ["Place", "load_places", "match_places", "parse_geocoder_answer", "words_of"]

Kind = Literal["park", "lrt", "facility", "river_valley", "area"]


class Place(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=1, max_length=120)]
    kind: Kind
    lat: Annotated[float, Meta(ge=-90, le=90)]
    lon: Annotated[float, Meta(ge=-180, le=180)]
    aliases: list[str] = []
    address: str = ""


class _PlacesFile(msgspec.Struct, forbid_unknown_fields=True):
    place: list[Place] = []


def load_places(path: Path) -> list[Place]:
    """The gazetteer file (TOML, ``[[place]]`` tables); a clear error naming the file if it is wrong."""
    try:
        return msgspec.convert(tomllib.loads(path.read_text()), _PlacesFile).place
    except (msgspec.ValidationError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"places file {path}: {exc}") from None


def words_of(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.findall(r"[a-z0-9]+", folded.replace("&", " and "))


def _score(query: list[str], name: str) -> int | None:
    """How well the typed words fit a name (lower is better); None: they do not."""
    words = words_of(name)
    if not words:
        return None
    if query == words:
        return 0
    if (
        words[: len(query) - 1] == query[:-1]
        and len(words) >= len(query)
        and words[len(query) - 1].startswith(query[-1])
    ):
        return 1  # the name begins with what was typed
    if all(any(w.startswith(q) for w in words) for q in query):
        return 2  # every typed word begins a word of the name
    joined = " ".join(words)
    if " ".join(query) in joined:
        return 3
    return None


def match_places(places: Sequence[Place], text: str, limit: int = 8) -> list[Place]:
    """The places that fit what was typed, best first: the name before an alias, a name that begins
    with the text before one that only contains its words, then the shorter name."""
    query = words_of(text)
    if not query:
        return []
    found: list[tuple[tuple[int, int, str], Place]] = []
    for place in places:
        scores = [s for s in [_score(query, place.name)] if s is not None]
        scores += [s + 1 for s in (_score(query, a) for a in place.aliases) if s is not None]
        if scores:
            found.append(((min(scores), len(place.name), place.name), place))
    found.sort(key=lambda pair: pair[0])
    return [place for _, place in found[:limit]]


def parse_geocoder_answer(doc: Any) -> list[tuple[str, float, float]]:
    """(label, lat, lon) from a Nominatim search (a list of {display_name, lat, lon}) or a Pelias
    search (a GeoJSON FeatureCollection with properties.label). Anything else: nothing."""
    out: list[tuple[str, float, float]] = []
    try:
        if isinstance(doc, list):
            for item in doc:
                out.append(
                    (str(item.get("display_name") or item.get("name") or ""), float(item["lat"]), float(item["lon"]))
                )
        elif isinstance(doc, dict) and isinstance(doc.get("features"), list):
            for feature in doc["features"]:
                lon, lat = feature["geometry"]["coordinates"][:2]
                props = feature.get("properties") or {}
                out.append((str(props.get("label") or props.get("name") or ""), float(lat), float(lon)))
    except (KeyError, TypeError, ValueError, IndexError):
        return []
    return [(label[:200], lat, lon) for label, lat, lon in out if label and -90 <= lat <= 90 and -180 <= lon <= 180]

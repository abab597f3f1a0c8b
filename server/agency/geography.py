"""Where things are: the service area, districts, distances. Pure functions."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from shapely.prepared import PreparedGeometry, prep

__all__ = ["Located", "ServiceArea", "distance_m"]

_EARTH_M = 6_371_008.8


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine), metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_M * math.asin(math.sqrt(a))


@dataclass(frozen=True, slots=True)
class Located:
    inside: bool
    district: str | None


@dataclass
class ServiceArea:
    boundary: BaseGeometry
    districts: list[tuple[str, PreparedGeometry]] = field(default_factory=list)
    geojson: str = ""

    def __post_init__(self) -> None:
        self._boundary = prep(self.boundary)

    @classmethod
    def from_geojson(cls, text: str) -> ServiceArea:
        doc = json.loads(text)
        features = doc.get("features", []) if doc.get("type") == "FeatureCollection" else [doc]
        boundary = None
        districts = []
        for feature in features:
            props = feature.get("properties") or {}
            geom = shape(feature["geometry"])
            if props.get("role") == "service_area":
                boundary = geom
            elif props.get("district"):
                districts.append((str(props["district"]), prep(geom)))
        if boundary is None:
            raise ValueError('service area GeoJSON has no feature with "role": "service_area"')
        return cls(boundary, districts, text)

    def locate(self, lat: float, lon: float) -> Located:
        """Whether the point is inside the service area, and its district."""
        point = Point(lon, lat)
        district = next((name for name, geom in self.districts if geom.contains(point)), None)
        return Located(self._boundary.contains(point), district)

    def outline(self) -> list[list[float]]:
        """The boundary's exterior ring as [lat, lon] pairs (for maps)."""
        ring = getattr(self.boundary, "exterior", None)
        return [[y, x] for x, y in ring.coords] if ring is not None else []

"""Small geometry for the simulator: points in a polygon, moving towards a point. Pure."""

from __future__ import annotations

import math
import random

__all__ = ["contains", "random_point", "step_towards", "metres_between"]

_M_PER_DEG_LAT = 111_320.0


def contains(ring: list[list[float]], lat: float, lon: float) -> bool:
    """Ray casting over a ring of [lat, lon] pairs."""
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        (yi, xi), (yj, xj) = ring[i], ring[j]
        if (yi > lat) != (yj > lat) and lon < (xj - xi) * (lat - yi) / ((yj - yi) or 1e-12) + xi:
            inside = not inside
        j = i
    return inside


def random_point(ring: list[list[float]], rng: random.Random) -> tuple[float, float]:
    lats = [p[0] for p in ring]
    lons = [p[1] for p in ring]
    for _ in range(1000):
        lat, lon = rng.uniform(min(lats), max(lats)), rng.uniform(min(lons), max(lons))
        if contains(ring, lat, lon):
            return lat, lon
    return sum(lats) / len(lats), sum(lons) / len(lons)


def metres_between(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    dy = (lat2 - lat1) * _M_PER_DEG_LAT
    dx = (lon2 - lon1) * _M_PER_DEG_LAT * math.cos(math.radians((lat1 + lat2) / 2))
    return math.hypot(dx, dy)


def step_towards(lat: float, lon: float, to_lat: float, to_lon: float, metres: float) -> tuple[float, float, float]:
    """Move up to ``metres`` towards the target. -> (lat, lon, heading in degrees)."""
    dist = metres_between(lat, lon, to_lat, to_lon)
    dy = (to_lat - lat) * _M_PER_DEG_LAT
    dx = (to_lon - lon) * _M_PER_DEG_LAT * math.cos(math.radians(lat))
    heading = (math.degrees(math.atan2(dx, dy)) + 360) % 360
    if dist <= metres or dist == 0:
        return to_lat, to_lon, heading
    f = metres / dist
    return lat + (to_lat - lat) * f, lon + (to_lon - lon) * f, heading

"""Flat-earth geometry for moving things around a ~30 km city.

An equirectangular projection around the city's latitude is within 0.1 % of the
great-circle distance at this size, and is several times cheaper, which matters when
thousands of units move every few seconds. Anything the contract judges (radii, speeds)
is checked with `topics.geo.haversine_km` and a margin.
"""

from __future__ import annotations

import math
import random

__all__ = [
    "Point",
    "distance_km",
    "offset",
    "toward",
    "bearing_deg",
    "segment_distance_km",
    "random_in_disk",
    "away_from",
]

Point = tuple[float, float]  # (lat, lon)

_LAT0 = 31.2
KM_PER_DEG_LAT = math.pi * 6371.0088 / 180
KM_PER_DEG_LON = KM_PER_DEG_LAT * math.cos(math.radians(_LAT0))


def _xy(origin: Point, p: Point) -> tuple[float, float]:
    return (p[1] - origin[1]) * KM_PER_DEG_LON, (p[0] - origin[0]) * KM_PER_DEG_LAT


def distance_km(a: Point, b: Point) -> float:
    return math.hypot((b[1] - a[1]) * KM_PER_DEG_LON, (b[0] - a[0]) * KM_PER_DEG_LAT)


def offset(p: Point, east_km: float, north_km: float) -> Point:
    return p[0] + north_km / KM_PER_DEG_LAT, p[1] + east_km / KM_PER_DEG_LON


def toward(p: Point, target: Point, step_km: float) -> tuple[Point, bool]:
    """Move from p toward target by step_km; (target, True) when it is reached."""
    remaining = distance_km(p, target)
    if remaining <= step_km or remaining == 0:
        return target, True
    f = step_km / remaining
    return (p[0] + (target[0] - p[0]) * f, p[1] + (target[1] - p[1]) * f), False


def bearing_deg(a: Point, b: Point) -> float:
    """Compass bearing from a to b in [0, 360)."""
    dx, dy = _xy(a, b)
    return math.degrees(math.atan2(dx, dy)) % 360.0


def segment_distance_km(p: Point, a: Point, b: Point) -> float:
    """Shortest distance from p to the segment a-b."""
    bx, by = _xy(a, b)
    px, py = _xy(a, p)
    length2 = bx * bx + by * by
    f = 0.0 if length2 == 0 else max(0.0, min(1.0, (px * bx + py * by) / length2))
    return math.hypot(px - f * bx, py - f * by)


def random_in_disk(rng: random.Random, centre: Point, radius_km: float) -> Point:
    r = radius_km * math.sqrt(rng.random())
    a = rng.uniform(0, 2 * math.pi)
    return offset(centre, r * math.cos(a), r * math.sin(a))


def away_from(p: Point, centre: Point, step_km: float) -> Point:
    """The point step_km further from centre, on the line through centre and p."""
    dx, dy = _xy(centre, p)
    norm = math.hypot(dx, dy)
    if norm == 0:
        dx, dy, norm = 1.0, 1.0, math.sqrt(2)
    return offset(p, dx / norm * step_km, dy / norm * step_km)

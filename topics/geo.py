"""Geography used by every model: geohash cells and great-circle distances.

The one geohash codec of the project: the pipeline encodes cells with `geohash`, the API
decodes them for the map with `geohash_bounds` (tests/test_interop_geohash.py checks both
against the independent `pygeohash`).
"""

from __future__ import annotations

import math

__all__ = ["geohash", "geohash_bounds", "haversine_km", "CELL_PRECISION", "EARTH_RADIUS_KM"]

CELL_PRECISION = 6  # docs/surface.md: a grid cell is a geohash of precision 6 (~1.2 x 0.6 km)
EARTH_RADIUS_KM = 6371.0088
_BASE32 = "0123456789bcdefghjkmnpqrstuvwxyz"


def geohash(lat: float, lon: float, precision: int = CELL_PRECISION) -> str:
    lat_lo, lat_hi, lon_lo, lon_hi = -90.0, 90.0, -180.0, 180.0
    chars, bits, bit_count, even = [], 0, 0, True
    while len(chars) < precision:
        if even:
            mid = (lon_lo + lon_hi) / 2
            if lon >= mid:
                bits, lon_lo = (bits << 1) | 1, mid
            else:
                bits, lon_hi = bits << 1, mid
        else:
            mid = (lat_lo + lat_hi) / 2
            if lat >= mid:
                bits, lat_lo = (bits << 1) | 1, mid
            else:
                bits, lat_hi = bits << 1, mid
        even = not even
        bit_count += 1
        if bit_count == 5:
            chars.append(_BASE32[bits])
            bits, bit_count = 0, 0
    return "".join(chars)


def geohash_bounds(cell: str) -> list[float] | None:
    """[min_lon, min_lat, max_lon, max_lat] of a geohash cell; None if it is not one.

    The box is half-open like `geohash`'s bisection: a point on a cell's west or south
    edge belongs to it, one on the east or north edge to the neighbour.
    """
    if not cell or any(c not in _BASE32 for c in cell):
        return None
    lat, lon = [-90.0, 90.0], [-180.0, 180.0]
    even = True
    for char in cell:
        bits = _BASE32.index(char)
        for shift in range(4, -1, -1):
            half = lon if even else lat
            mid = (half[0] + half[1]) / 2
            half[0 if (bits >> shift) & 1 else 1] = mid
            even = not even
    return [lon[0], lat[0], lon[1], lat[1]]


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))

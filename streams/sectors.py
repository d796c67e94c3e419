"""Sectors: the coarse spatial partitioning key of the fleet/alarm join.

A sector is a cell of a fixed degree grid (0.2° lat x 0.25° lon, about 22 x 24 km at 31°N).
An alarm goes to its own sector; a ping goes to every sector whose area lies within the
largest search radius (10 km) of it — at most four at these latitudes — so each sector's
partition holds every unit an alarm in it can need. More sectors (a bigger region) means
more partitions worth of parallelism, the way Kafka scales.
"""

from __future__ import annotations

import math

__all__ = ["SECTOR_DLAT", "SECTOR_DLON", "sector_of", "sectors_near"]

SECTOR_DLAT = 0.2
SECTOR_DLON = 0.25
_KM_PER_DEG_LAT = 111.2


def _index(lat: float, lon: float) -> tuple[int, int]:
    return math.floor(lat / SECTOR_DLAT), math.floor(lon / SECTOR_DLON)


def sector_of(lat: float, lon: float) -> str:
    row, col = _index(lat, lon)
    return f"{row}:{col}"


def sectors_near(lat: float, lon: float, radius_km: float) -> list[str]:
    """Every sector that has a point within radius_km of (lat, lon) (a safe superset)."""
    dlat = radius_km / _KM_PER_DEG_LAT
    cos = max(math.cos(math.radians(min(89.0, abs(lat) + dlat))), 1e-6)
    dlon = min(180.0, radius_km / (_KM_PER_DEG_LAT * cos))
    row_lo, col_lo = _index(max(-90.0, lat - dlat), lon - dlon)
    row_hi, col_hi = _index(min(90.0, lat + dlat), lon + dlon)
    return [f"{r}:{c}" for r in range(row_lo, row_hi + 1) for c in range(col_lo, col_hi + 1)]

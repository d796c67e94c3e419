"""Where police units are, by their latest ping: 1 km squares for radius questions."""

from __future__ import annotations

import math
from collections import defaultdict

from .geometry import KM_PER_DEG_LAT, KM_PER_DEG_LON, Point
from .units import Unit

__all__ = ["PoliceGrid"]


class PoliceGrid:
    """Police units bucketed by their latest ping (1 km squares) for radius questions;
    buckets are dicts, so iteration order (and with it the run) stays deterministic."""

    SIZE_KM = 1.0
    FULL_SCAN_KM = 5.0  # beyond this radius a plain scan is cheaper

    def __init__(self, units: list[Unit]):
        self.units = units
        self._buckets: dict[tuple[int, int], dict[str, Unit]] = defaultdict(dict)
        self._where: dict[str, tuple[int, int]] = {}

    def _key(self, p: Point) -> tuple[int, int]:
        return math.floor(p[1] * KM_PER_DEG_LON / self.SIZE_KM), math.floor(p[0] * KM_PER_DEG_LAT / self.SIZE_KM)

    def move(self, unit: Unit) -> None:
        if not unit.is_police:
            return
        key = self._key(unit.last_ping[1])
        old = self._where.get(unit.unit_id)
        if old != key:
            if old is not None:
                del self._buckets[old][unit.unit_id]
            self._buckets[key][unit.unit_id] = unit
            self._where[unit.unit_id] = key

    def near(self, site: Point, radius_km: float):
        if radius_km > self.FULL_SCAN_KM:
            return self.units
        x0, y0 = self._key(site)
        reach = math.ceil(radius_km / self.SIZE_KM)
        return [u for x in range(x0 - reach, x0 + reach + 1) for y in range(y0 - reach, y0 + reach + 1)
                for u in self._buckets.get((x, y), {}).values()]

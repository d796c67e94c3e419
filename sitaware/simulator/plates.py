"""Vehicles and their plates: fresh plates never seen in the run, and returning vehicles
only where they could have driven since their last pass.

Plates look like `沪A12345` (local), `苏E3K9L2` (other provinces), `沪AD12345` (green,
new energy) or, for systems that want ASCII, `HA12345`; always upper case, 7-8 chars.
A returning vehicle's new trip starts no sooner than 5 minutes after its last pass and
at an implied speed of at most 60 km/h from there, and trips move at 30-80 km/h along
roads, so no plate is ever in two places implausibly fast (`cloned_plate` is 200 km/h).
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass

from .engine import MINUTE
from .geometry import Point, distance_km

__all__ = ["Vehicle", "PlateBook"]

_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I or O, as on real plates
_PROVINCES = "苏浙皖赣鲁豫"
_TYPES = (("car", 0.82), ("truck", 0.07), ("bus", 0.04), ("motorcycle", 0.03), ("other", 0.04))
_COLOURS = {
    "car": (("blue", 0.75), ("green", 0.22), ("black", 0.03)),
    "truck": (("yellow", 1.0),),
    "bus": (("yellow", 0.7), ("green", 0.3)),
    "motorcycle": (("yellow", 1.0),),
    "other": (("white", 0.5), ("other", 0.5)),
}
RETURN_SHARE = 0.2
MAX_RETURN_KMH = 60.0
MIN_RETURN_GAP_MS = 5 * MINUTE


@dataclass(eq=False)
class Vehicle:
    plate: str
    plate_color: str
    vehicle_type: str
    last_t: int | None = None
    last_point: Point | None = None


def _pick(rng: random.Random, table) -> str:
    return rng.choices([name for name, _ in table], weights=[w for _, w in table])[0]


class PlateBook:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used: set[str] = set()
        self.recent: deque[Vehicle] = deque(maxlen=3000)

    def fresh(self, vehicle_type: str | None = None, plate_color: str | None = None) -> Vehicle:
        """A vehicle whose plate has not appeared in this run (and now never will by chance)."""
        vehicle_type = vehicle_type or _pick(self.rng, _TYPES)
        plate_color = plate_color or _pick(self.rng, _COLOURS[vehicle_type])
        while True:
            plate = self._plate(plate_color)
            if plate not in self.used:
                self.used.add(plate)
                return Vehicle(plate, plate_color, vehicle_type)

    def _plate(self, colour: str) -> str:
        rng, style = self.rng, self.rng.random()
        if style < 0.15:
            prefix = "H" + rng.choice(_LETTERS)
        elif style < 0.3:
            prefix = rng.choice(_PROVINCES) + rng.choice(_LETTERS)
        else:
            prefix = "沪" + rng.choice(_LETTERS)
        if colour == "green":
            return prefix + rng.choice("DF") + "".join(rng.choices("0123456789", k=5))
        serial = rng.choices("0123456789", k=5)
        for i in rng.sample(range(1, 5), rng.choice((0, 0, 1, 2))):
            serial[i] = rng.choice(_LETTERS)
        return prefix + "".join(serial)

    def for_trip(self, first_point: Point, first_t: int) -> Vehicle:
        """Now and then a vehicle seen before, if it could be here by then; else a fresh one."""
        if self.recent and self.rng.random() < RETURN_SHARE:
            for _ in range(5):
                v = self.recent[self.rng.randrange(len(self.recent))]
                gap_ms = first_t - v.last_t
                if gap_ms >= MIN_RETURN_GAP_MS and (
                    distance_km(v.last_point, first_point) / (gap_ms / 3_600_000) <= MAX_RETURN_KMH
                ):
                    return v
        return self.fresh()

    def finished(self, vehicle: Vehicle, last_point: Point, last_t: int) -> None:
        vehicle.last_point, vehicle.last_t = last_point, last_t
        self.recent.append(vehicle)

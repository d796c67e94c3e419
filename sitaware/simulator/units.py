"""The patrol fleet's units: their types, how they move, and where their beats or posts are."""

from __future__ import annotations

import random
from dataclasses import dataclass

from .city import City
from .geometry import Point, distance_km, offset, random_in_disk

__all__ = ["Profile", "PROFILES", "UNIT_MIX", "Unit", "build_units", "RESPONDER_TYPES"]

# Police units answer alarms (docs/surface.md). Of those, the simulated dispatchers send cars
# and motorcycles; foot patrols keep their beats around the hot areas.
POLICE_TYPES = frozenset({"police_car", "foot_patrol", "motorcycle"})
RESPONDER_TYPES = frozenset({"police_car", "motorcycle"})


@dataclass(frozen=True)
class Profile:
    prefix: str
    patrol_kmh: tuple[float, float]
    response_kmh: float
    beat_km: float  # radius of the beat (police) or the post's area (auxiliary)
    pause_chance: float  # on reaching a waypoint, the chance to stop a while
    pause_s: tuple[float, float]


PROFILES = {
    "police_car": Profile("PC", (30, 50), 50, 3.0, 0.3, (60, 300)),
    "motorcycle": Profile("MC", (25, 35), 40, 2.0, 0.3, (60, 240)),
    "foot_patrol": Profile("FP", (4, 6), 5, 0.6, 0.4, (60, 600)),
    "security_guard": Profile("SG", (0.5, 1.5), 0, 0.03, 0.7, (120, 900)),
    "grid_worker": Profile("GW", (2, 4), 0, 0.3, 0.5, (120, 600)),
}
UNIT_MIX = (("police_car", 0.35), ("motorcycle", 0.15), ("foot_patrol", 0.20),
            ("security_guard", 0.15), ("grid_worker", 0.15))


@dataclass(eq=False)
class Unit:
    unit_id: str
    unit_type: str
    profile: Profile
    home: Point  # beat centre or post
    pos: Point
    status: str = "available"
    case: object | None = None  # the alarm case it is assigned to
    target: Point | None = None
    speed: float = 0.0
    heading: float = 0.0
    pause_until: int = 0
    moved_at: int = 0
    last_ping: tuple[int, Point, str] | None = None  # (t_ms, position, status)
    reserved: bool = False  # chosen to answer an alarm, dispatch not sent yet
    hold: tuple[Point, float, int] | None = None  # (point, radius_km, until_ms): stay near
    silent_until: int | None = None  # pings suppressed until then (unit_offline)
    on_resume: object | None = None  # called with the unit when its silence ends
    retire_at: int | None = None  # goes off duty at the first free moment after this
    retired: bool = False

    @property
    def is_police(self) -> bool:
        return self.unit_type in POLICE_TYPES

    @property
    def is_responder(self) -> bool:
        return self.unit_type in RESPONDER_TYPES


def _counts(total: int) -> list[tuple[str, int]]:
    exact = [(t, total * share) for t, share in UNIT_MIX]
    counts = [[t, int(x)] for t, x in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: (counts[i][1] - exact[i][1], i))
    for i in by_remainder[: total - sum(c for _, c in counts)]:
        counts[i][1] += 1
    return [(t, c) for t, c in counts]


def _home(rng: random.Random, city: City, unit_type: str) -> Point:
    zone = city.quiet_zone
    for _ in range(100):
        if unit_type == "grid_worker" or (unit_type != "foot_patrol" and rng.random() < 0.3):
            p = city.random_point(rng)
        else:
            p = city.hot_point(rng, 0.8 if unit_type == "foot_patrol" else 1.5)
        clear = distance_km(p, zone.centre) >= zone.police_free_km + 0.5
        if city.contains(p) and (clear or unit_type not in POLICE_TYPES):
            return p
    raise RuntimeError("no place for a unit's beat")  # unreachable with the shipped city


def build_units(rng: random.Random, city: City, total: int) -> list[Unit]:
    units: list[Unit] = []
    for unit_type, count in _counts(total):
        profile = PROFILES[unit_type]
        for n in range(1, count + 1):
            home = _home(rng, city, unit_type)
            if unit_type == "security_guard" and n == 1:
                # The wetland park's gate guard: the auxiliary unit a coverage gap lists.
                home = offset(city.quiet_zone.centre, 0.4, 0.3)
            pos = home
            for _ in range(20):
                p = random_in_disk(rng, home, profile.beat_km)
                if city.contains(p) and (
                    unit_type not in POLICE_TYPES
                    or distance_km(p, city.quiet_zone.centre) >= city.quiet_zone.police_free_km
                ):
                    pos = p
                    break
            units.append(Unit(f"{profile.prefix}-{n:04d}", unit_type, profile, home, pos))
    return units

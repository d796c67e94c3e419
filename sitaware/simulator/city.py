"""The fictional city: districts (shipped GeoJSON), hot areas, main roads, a quiet zone and
the checkpoint network on the main roads.

About 29 km x 24 km around lon 121.4, lat 31.2, six districts. Hot areas are where alarms
and patrols concentrate. The quiet zone (a wetland in the south-west) is where no police
patrols, so a `coverage_gap` can be staged there without ever happening by accident.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from topics.districts import Districts

from .geometry import Point, bearing_deg, distance_km, offset

__all__ = [
    "DISTRICTS_PATH",
    "BOUNDS",
    "HotArea",
    "HOT_AREAS",
    "Road",
    "ROADS",
    "QuietZone",
    "QUIET_ZONE",
    "CheckpointSite",
    "City",
    "place_checkpoints",
]

DISTRICTS_PATH = Path(__file__).resolve().parent / "data" / "districts.geojson"
BOUNDS = (31.09, 121.25, 31.31, 121.55)  # min_lat, min_lon, max_lat, max_lon of the city


@dataclass(frozen=True)
class HotArea:
    name: str
    centre: Point
    weight: float  # share of alarms and patrol beats, relative
    spread_km: float  # standard deviation of incident positions around the centre


HOT_AREAS = (
    HotArea("Central Station", (31.245, 121.400), 3.0, 0.8),
    HotArea("Old Town", (31.215, 121.470), 3.0, 0.7),
    HotArea("CBD", (31.235, 121.505), 2.5, 0.8),
    HotArea("Night Market", (31.190, 121.420), 2.0, 0.5),
    HotArea("University Town", (31.270, 121.300), 1.5, 1.0),
    HotArea("Stadium", (31.160, 121.400), 1.5, 0.6),
    HotArea("Riverside Mall", (31.140, 121.500), 1.5, 0.7),
    HotArea("Xicheng Estates", (31.230, 121.280), 1.5, 1.2),
    HotArea("Industrial Park", (31.175, 121.335), 1.0, 1.2),
    HotArea("Beiyuan New Town", (31.290, 121.420), 1.0, 1.2),
    HotArea("Dongcheng Port", (31.290, 121.520), 1.0, 1.0),
)


@dataclass(frozen=True)
class Road:
    name: str
    points: tuple[Point, ...]

    @cached_property
    def milestones(self) -> tuple[float, ...]:
        """Distance along the road (km) at each vertex."""
        out = [0.0]
        for a, b in zip(self.points, self.points[1:]):
            out.append(out[-1] + distance_km(a, b))
        return tuple(out)

    @property
    def length_km(self) -> float:
        return self.milestones[-1]

    def at(self, s_km: float) -> tuple[Point, float]:
        """The point s_km along the road and the road's bearing there."""
        i = min(max(bisect_right(self.milestones, s_km) - 1, 0), len(self.points) - 2)
        a, b = self.points[i], self.points[i + 1]
        f = (s_km - self.milestones[i]) / (self.milestones[i + 1] - self.milestones[i])
        return (a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f), bearing_deg(a, b)


ROADS = (
    Road("Changjiang Rd", ((31.222, 121.255), (31.218, 121.32), (31.224, 121.38),
                           (31.219, 121.44), (31.226, 121.545))),
    Road("Huanghe Rd", ((31.285, 121.26), (31.29, 121.36), (31.283, 121.46), (31.288, 121.54))),
    Road("Zhongshan Rd", ((31.165, 121.33), (31.17, 121.40), (31.162, 121.47), (31.168, 121.545))),
    Road("Renmin Ave", ((31.095, 121.402), (31.16, 121.398), (31.23, 121.405), (31.305, 121.40))),
    Road("Jiefang Rd", ((31.18, 121.31), (31.24, 121.305), (31.305, 121.312))),
    Road("Xinhua Rd", ((31.095, 121.49), (31.17, 121.485), (31.24, 121.492), (31.305, 121.488))),
)


@dataclass(frozen=True)
class QuietZone:
    """A sparsely populated area: no police patrols within `police_free_km` of its centre
    and no background alarm within `alarm_free_km`."""

    name: str
    centre: Point
    police_free_km: float = 5.0
    alarm_free_km: float = 4.0


QUIET_ZONE = QuietZone("Nanhu Wetland", (31.105, 121.27))


@dataclass(frozen=True)
class CheckpointSite:
    checkpoint_id: str
    name: str
    point: Point
    district: str
    road: str
    road_index: int
    s_km: float  # position along the road
    bearing: float  # the road's bearing here, in its drawing direction

    def record(self) -> dict:
        lat, lon = self.point
        return {"checkpoint_id": self.checkpoint_id, "name": self.name, "lat": round(lat, 6),
                "lon": round(lon, 6), "district": self.district, "road": self.road}


def place_checkpoints(n: int, districts: Districts, roads=ROADS) -> tuple[CheckpointSite, ...]:
    """n checkpoints spread evenly over the roads, in proportion to their length."""
    total = sum(r.length_km for r in roads)
    exact = [n * r.length_km / total for r in roads]
    counts = [math.floor(x) for x in exact]
    by_remainder = sorted(range(len(roads)), key=lambda i: (counts[i] - exact[i], i))
    for i in by_remainder[: n - sum(counts)]:
        counts[i] += 1
    sites: list[CheckpointSite] = []
    for road_index, (road, count) in enumerate(zip(roads, counts)):
        for k in range(count):
            s = (k + 0.5) * road.length_km / count
            point, bearing = road.at(s)
            sites.append(CheckpointSite(
                f"CP-{len(sites) + 1:03d}", f"{road.name} K{s:.1f}", point,
                districts.district_of(*point) or "", road.name, road_index, s, bearing,
            ))
    return tuple(sites)


@dataclass(frozen=True)
class City:
    districts: Districts
    checkpoints: tuple[CheckpointSite, ...]
    hot_areas: tuple[HotArea, ...] = HOT_AREAS
    roads: tuple[Road, ...] = ROADS
    quiet_zone: QuietZone = QUIET_ZONE

    @classmethod
    def build(cls, n_checkpoints: int, districts_path: Path = DISTRICTS_PATH) -> "City":
        districts = Districts.from_geojson(districts_path)
        return cls(districts, place_checkpoints(n_checkpoints, districts))

    @staticmethod
    def contains(p: Point) -> bool:
        return BOUNDS[0] < p[0] < BOUNDS[2] and BOUNDS[1] < p[1] < BOUNDS[3]

    def district_of(self, p: Point) -> str | None:
        return self.districts.district_of(p[0], p[1])

    @staticmethod
    def random_point(rng: random.Random) -> Point:
        return rng.uniform(BOUNDS[0], BOUNDS[2]), rng.uniform(BOUNDS[1], BOUNDS[3])

    def hot_point(self, rng: random.Random, spread_km: float | None = None) -> Point:
        """Around a hot area picked by weight, spread by the area's own or the given spread."""
        area = rng.choices(self.hot_areas, weights=[a.weight for a in self.hot_areas])[0]
        spread = area.spread_km if spread_km is None else spread_km
        return offset(area.centre, rng.gauss(0, spread), rng.gauss(0, spread))

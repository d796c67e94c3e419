"""Districts of the city from GeoJSON polygons: which district a point lies in
(docs/surface.md, Conventions).

The file is a FeatureCollection of Polygon or MultiPolygon features whose
`properties.district` names the district. A point is inside a polygon by the crossing-number
rule with half-open edges, so that neighbouring districts sharing an edge never both claim a
point on it; polygon holes are honoured.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Districts", "DistrictPolygon"]

Ring = tuple[tuple[float, float], ...]  # (lon, lat) vertices, as GeoJSON orders them


def _ring_contains(ring: Ring, lon: float, lat: float) -> bool:
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        xi, yi = ring[i]
        xj, yj = ring[j]
        if (yi > lat) != (yj > lat) and lon < (xj - xi) * (lat - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


@dataclass(frozen=True)
class DistrictPolygon:
    """One polygon of a district: an outer ring and its holes, with a bounding box."""

    district: str
    outer: Ring
    holes: tuple[Ring, ...] = ()

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        lons = [p[0] for p in self.outer]
        lats = [p[1] for p in self.outer]
        return min(lons), min(lats), max(lons), max(lats)

    def contains(self, lat: float, lon: float) -> bool:
        min_lon, min_lat, max_lon, max_lat = self.bbox
        if not (min_lon <= lon <= max_lon and min_lat <= lat <= max_lat):
            return False
        if not _ring_contains(self.outer, lon, lat):
            return False
        return not any(_ring_contains(hole, lon, lat) for hole in self.holes)


class Districts:
    """The districts of one city; `district_of(lat, lon)` is None outside all of them."""

    def __init__(self, polygons: Iterable[DistrictPolygon]):
        self.polygons: tuple[DistrictPolygon, ...] = tuple(polygons)

    @classmethod
    def from_geojson(cls, path: str | Path, name_property: str = "district") -> "Districts":
        return cls.from_mapping(json.loads(Path(path).read_text(encoding="utf-8")), name_property)

    @classmethod
    def from_mapping(cls, collection: Mapping, name_property: str = "district") -> "Districts":
        if collection.get("type") != "FeatureCollection":
            raise ValueError("district GeoJSON must be a FeatureCollection")
        polygons: list[DistrictPolygon] = []
        for number, feature in enumerate(collection.get("features", [])):
            name = (feature.get("properties") or {}).get(name_property)
            if not isinstance(name, str) or not name:
                raise ValueError(f"feature {number} has no properties.{name_property}")
            geometry = feature.get("geometry") or {}
            if geometry.get("type") == "Polygon":
                parts = [geometry["coordinates"]]
            elif geometry.get("type") == "MultiPolygon":
                parts = geometry["coordinates"]
            else:
                raise ValueError(f"feature {number} ({name}) is not a Polygon or MultiPolygon")
            polygons.extend(_polygon(name, rings) for rings in parts)
        return cls(polygons)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.district for p in self.polygons))

    def district_of(self, lat: float, lon: float) -> str | None:
        for polygon in self.polygons:
            if polygon.contains(lat, lon):
                return polygon.district
        return None


def _polygon(name: str, rings: Sequence[Sequence[Sequence[float]]]) -> DistrictPolygon:
    closed = [tuple((float(p[0]), float(p[1])) for p in ring) for ring in rings]
    if not closed or len(closed[0]) < 4:
        raise ValueError(f"district {name}: a polygon needs a closed ring of at least 4 points")
    return DistrictPolygon(name, closed[0], tuple(closed[1:]))

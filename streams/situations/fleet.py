"""Unit positions as the alarm-time models see them, and which of them are usable.

Freshness (docs/surface.md, Output topic "situations": "latest ping ts within 2 min of A.ts"): for each unit, take its
latest position with ts <= the alarm's ts; the unit is usable only if that position's ts
is >= A.ts - max_age (both bounds inclusive: exactly 2 min old is fresh, 2 min + 1 ms is
stale). A position after A.ts is never used, so a replay gives the answer the live run
gave; and a stale latest position is not replaced by an older one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from topics.geo import haversine_km
from topics.records import (
    POLICE_UNIT_TYPES,
    Identifier,
    Instant,
    Latitude,
    Longitude,
    PatrolPing,
    UnitStatus,
    UnitType,
)

__all__ = ["UnitPosition", "fresh_positions", "nearest", "usable_police", "usable_auxiliary"]


class UnitPosition(BaseModel):
    """Where a unit was, as reported by one ping."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    unit_id: Identifier
    unit_type: UnitType
    status: UnitStatus
    lat: Latitude
    lon: Longitude
    ts: Instant

    @classmethod
    def from_ping(cls, ping: PatrolPing) -> "UnitPosition":
        return cls(
            unit_id=ping.unit_id, unit_type=ping.unit_type, status=ping.status,
            lat=ping.lat, lon=ping.lon, ts=ping.ts,
        )

    @property
    def is_police(self) -> bool:
        return self.unit_type in POLICE_UNIT_TYPES


def fresh_positions(
    positions: Iterable[UnitPosition], at: datetime, max_age: timedelta
) -> list[UnitPosition]:
    """Each unit's latest position at or before `at`, if no older than `max_age`."""
    latest: dict[str, UnitPosition] = {}
    for p in positions:
        if p.ts > at:
            continue
        held = latest.get(p.unit_id)
        # Equal timestamps: keep a deterministic one whatever the iteration order.
        tie = held is not None and p.ts == held.ts and p.model_dump_json() > held.model_dump_json()
        if held is None or p.ts > held.ts or tie:
            latest[p.unit_id] = p
    return [p for _, p in sorted(latest.items()) if p.ts >= at - max_age]


def nearest(
    positions: Iterable[UnitPosition], lat: float, lon: float, radius_km: float
) -> list[tuple[float, UnitPosition]]:
    """(distance_km, position) within radius_km inclusive, nearest first, ties by unit_id."""
    found = ((haversine_km(lat, lon, p.lat, p.lon), p) for p in positions)
    return sorted(((d, p) for d, p in found if d <= radius_km), key=lambda x: (x[0], x[1].unit_id))


def usable_police(
    positions: Iterable[UnitPosition], at: datetime, max_age: timedelta
) -> list[UnitPosition]:
    """Police units whose fresh position says they are available."""
    fresh = fresh_positions(positions, at, max_age)
    return [p for p in fresh if p.is_police and p.status == "available"]


def usable_auxiliary(
    positions: Iterable[UnitPosition], at: datetime, max_age: timedelta
) -> list[UnitPosition]:
    """Auxiliary units (security guards, grid workers) that are fresh and on duty."""
    return [
        p for p in fresh_positions(positions, at, max_age)
        if not p.is_police and p.status != "off_duty"
    ]

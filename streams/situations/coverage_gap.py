"""`coverage_gap`: a new alarm with no available police unit close enough.

Rule (docs/surface.md, Output topic "situations"): a `received` alarm A such that no police unit that is fresh and
available at A.ts (latest position at or before A.ts with ts >= A.ts - `max_ping_age`
[2 min], see `fleet`) is within `police_radius_km` [3 km] of A. A unit at exactly 3 km
counts as covering (distance <= radius), so the gap needs every such unit > 3 km away.

Output: event_time = A.ts, event_id = ("coverage_gap", alarm_id), one per alarm. It lists
the auxiliary units (security_guard, grid_worker; any status but off_duty; fresh) within
`auxiliary_radius_km` [1 km], nearest first: metrics `auxiliary_units` and
`auxiliary_{i}_distance_km`, evidence = alarm_id then their unit ids. When a fresh
available police unit exists farther away, `nearest_police_km` gives its distance.
Severity by alarm priority: P1 `high` (contract), P2 `medium`, P3/P4 `low`.

Stateless, like `dispatch_recommendation`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from topics.records import Alarm, Situation

from ._common import VersionedParams, make_situation
from .fleet import UnitPosition, nearest, usable_auxiliary, usable_police
from .summaries import summarize

__all__ = ["CoverageGapParams", "MODEL_VERSION", "SEVERITY_BY_PRIORITY", "detect_coverage_gap"]

TYPE = "coverage_gap"
SEVERITY_BY_PRIORITY = {1: "high", 2: "medium", 3: "low", 4: "low"}


@dataclass(frozen=True)
class CoverageGapParams(VersionedParams):
    RULE: ClassVar[str] = "coverage_gap/1"
    max_ping_age: timedelta = timedelta(minutes=2)
    police_radius_km: float = 3.0
    auxiliary_radius_km: float = 1.0


MODEL_VERSION = CoverageGapParams().model_version


def detect_coverage_gap(
    alarm: Alarm,
    positions: Iterable[UnitPosition],
    params: CoverageGapParams,
    detected_at: datetime,
    *,
    locale: str = "zh-CN",
) -> list[Situation]:
    if alarm.status != "received":
        return []
    positions = list(positions)  # read twice: police, then auxiliary
    police = nearest(
        usable_police(positions, alarm.ts, params.max_ping_age), alarm.lat, alarm.lon, math.inf
    )
    if police and police[0][0] <= params.police_radius_km:
        return []
    auxiliary = nearest(
        usable_auxiliary(positions, alarm.ts, params.max_ping_age),
        alarm.lat, alarm.lon, params.auxiliary_radius_km,
    )
    metrics: dict[str, float] = {"auxiliary_units": len(auxiliary)}
    if police:
        metrics["nearest_police_km"] = round(police[0][0], 3)
    for rank, (distance_km, _) in enumerate(auxiliary, start=1):
        metrics[f"auxiliary_{rank}_distance_km"] = round(distance_km, 3)
    return [
        make_situation(
            TYPE,
            id_parts=(alarm.alarm_id,),
            severity=SEVERITY_BY_PRIORITY[alarm.priority],
            event_time=alarm.ts,
            detected_at=detected_at,
            model_version=params.model_version,
            summary=summarize(
                TYPE, locale, alarm_id=alarm.alarm_id,
                radius_km=params.police_radius_km, auxiliary=len(auxiliary),
            ),
            where=alarm,
            subject=alarm.alarm_id,
            metrics=metrics,
            evidence=[alarm.alarm_id, *(p.unit_id for _, p in auxiliary)],
        )
    ]

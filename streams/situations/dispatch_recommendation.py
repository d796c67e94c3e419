"""`dispatch_recommendation`: the nearest available police units for a new alarm.

Rule (docs/surface.md, Output topic "situations"): for every `received` alarm A, take the police units (police_car,
foot_patrol, motorcycle) whose latest position at or before A.ts is fresh (ts in
[A.ts - `max_ping_age` [2 min], A.ts], see `fleet`) and says `available`, at a great-circle
distance <= `radius_km` [10 km] from A (inclusive). If there is at least one, emit one
situation listing the up to `max_units` [3] nearest (ties by unit_id) with distance and
ETA at `speed_kmh` [30 km/h]. Other alarm statuses give nothing.

Output: event_time = A.ts, event_id = ("dispatch_recommendation", alarm_id): one per alarm,
so re-delivery re-sends the same id. metrics: `candidates` (units listed) and, for the
i-th nearest (1-based), `unit_{i}_distance_km` and `unit_{i}_eta_min`. evidence: the
alarm_id, then the unit ids nearest first. Severity `info`: advice to the dispatcher.

Stateless: the caller passes the candidate positions (e.g. from the per-unit tracks).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from topics.records import Alarm, Situation

from ._common import VersionedParams, make_situation
from .fleet import UnitPosition, nearest, usable_police
from .summaries import summarize

__all__ = ["DispatchRecommendationParams", "MODEL_VERSION", "recommend_dispatch"]

TYPE = "dispatch_recommendation"


@dataclass(frozen=True)
class DispatchRecommendationParams(VersionedParams):
    RULE: ClassVar[str] = "dispatch_recommendation/1"
    max_ping_age: timedelta = timedelta(minutes=2)
    radius_km: float = 10.0
    max_units: int = 3
    speed_kmh: float = 30.0


MODEL_VERSION = DispatchRecommendationParams().model_version


def recommend_dispatch(
    alarm: Alarm,
    positions: Iterable[UnitPosition],
    params: DispatchRecommendationParams,
    detected_at: datetime,
    *,
    locale: str = "zh-CN",
) -> list[Situation]:
    if alarm.status != "received":
        return []
    police = usable_police(positions, alarm.ts, params.max_ping_age)
    chosen = nearest(police, alarm.lat, alarm.lon, params.radius_km)[: params.max_units]
    if not chosen:
        return []
    metrics: dict[str, float] = {"candidates": len(chosen)}
    for rank, (distance_km, _) in enumerate(chosen, start=1):
        metrics[f"unit_{rank}_distance_km"] = round(distance_km, 3)
        metrics[f"unit_{rank}_eta_min"] = round(distance_km / params.speed_kmh * 60, 1)
    unit_ids = [p.unit_id for _, p in chosen]
    return [
        make_situation(
            TYPE,
            id_parts=(alarm.alarm_id,),
            severity="info",
            event_time=alarm.ts,
            detected_at=detected_at,
            model_version=params.model_version,
            summary=summarize(
                TYPE, locale, alarm_id=alarm.alarm_id, units=unit_ids,
                distance_km=metrics["unit_1_distance_km"], eta_min=metrics["unit_1_eta_min"],
            ),
            where=alarm,
            subject=alarm.alarm_id,
            metrics=metrics,
            evidence=[alarm.alarm_id, *unit_ids],
        )
    ]

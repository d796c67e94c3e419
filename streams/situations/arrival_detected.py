"""`arrival_detected`: an assigned unit's position reaches the alarm's site.

Rule (docs/surface.md, Output topic "situations"): a unit assigned to alarm A -- by a `dispatched` record, a ping naming
A in `alarm_id`, or its own `arrived` report -- sends a ping with ts >= the start of the
assignment (`Assignment.since`) whose great-circle distance to A is <= `radius_km`
[150 m] (inclusive). The earliest such ping among those held is the arrival.
Once per (alarm, unit): event_id = ("arrival_detected", alarm_id, unit_id).
event_time = the ping's ts; metrics.response_s = ping.ts - A.ts (received ts) and
distance_km; evidence = alarm_id, unit_id. Severity `info`.

Needs A's site: until it is known (`AlarmSite`, forwarded by the alarm side) nothing is
decided; when it arrives, the pings still held (see `unit_track` retention) are searched.
The agent should also feed the detection back to the alarm's lifecycle
(`response_overdue.note_arrival`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from topics.geo import haversine_km
from topics.records import Situation

from ._common import VersionedParams, make_situation, replay
from .summaries import summarize
from .unit_track import Assignment, TrackedPing, UnitTrack, remember

__all__ = ["ArrivalDetectedParams", "MODEL_VERSION", "detect_arrivals"]

TYPE = "arrival_detected"


@dataclass(frozen=True)
class ArrivalDetectedParams(VersionedParams):
    RULE: ClassVar[str] = "arrival_detected/1"
    radius_km: float = 0.15


MODEL_VERSION = ArrivalDetectedParams().model_version


def detect_arrivals(
    track: UnitTrack,
    cause: str,
    params: ArrivalDetectedParams,
    detected_at: datetime,
    *,
    locale: str = "zh-CN",
) -> tuple[UnitTrack, list[Situation]]:
    """Judge every open assignment against the held pings; `cause` names the input applied."""
    again, new = replay(track.emitted, cause, TYPE), []
    for held in track.assignments:
        if held.arrival_detected or held.site is None:
            continue
        hit = next(
            (p for p in track.pings
             if p.ts >= held.since and _distance_km(p, held) <= params.radius_km),
            None,
        )
        if hit is None:
            continue
        track = track.with_assignment(held.model_copy(update={"arrival_detected": True}))
        new.append(_situation(track.unit_id, held, hit, params, detected_at, locale))
    return remember(track, cause, new), again + new


def _distance_km(ping: TrackedPing, held: Assignment) -> float:
    return haversine_km(ping.lat, ping.lon, held.site.lat, held.site.lon)


def _situation(unit_id, held: Assignment, ping: TrackedPing, params, detected_at, locale):
    response_s = (ping.ts - held.site.ts).total_seconds()
    return make_situation(
        TYPE,
        id_parts=(held.alarm_id, unit_id),
        severity="info",
        event_time=ping.ts,
        detected_at=detected_at,
        model_version=params.model_version,
        summary=summarize(
            TYPE, locale, unit_id=unit_id, alarm_id=held.alarm_id, response_min=response_s / 60
        ),
        where=held.site,
        subject=held.alarm_id,
        metrics={"response_s": response_s, "distance_km": round(_distance_km(ping, held), 4)},
        evidence=[held.alarm_id, unit_id],
        window_start=held.site.ts,
        window_end=ping.ts,
    )

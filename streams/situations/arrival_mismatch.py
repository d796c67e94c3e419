"""`arrival_mismatch`: a unit reports `arrived` while its position says it is elsewhere.

Rule (docs/surface.md, Output topic "situations"): an `arrived` record for unit U and alarm A at report time R, while
U's latest ping with ts in [R - `max_ping_age` [2 min], R] (both inclusive; a ping after
R is never that ping) is more than `radius_km` [500 m] from A (strictly: exactly 500 m
is no mismatch). No ping in that interval means no evidence: no mismatch (a silent unit
is `unit_offline`'s concern). Once per (alarm, unit): event_id = ("arrival_mismatch",
alarm_id, unit_id); only the earliest report still unjudged counts. event_time = R.
Severity `medium`: a false report or a broken tracker, both worth a call.

When it is judged: pings may arrive after the report, so the judging ping is fixed
("settled") only once the track holds a ping with ts >= R (one unit's pings arrive in
order, so nothing earlier is still coming) or stream time has passed R (> R); an unknown
stream time (None) settles nothing by time. The
distance is then judged as soon as A's site is known. Both steps are recorded on the
unit's `Assignment`, so the pair is judged once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from topics.geo import haversine_km
from topics.records import Situation

from ._common import VersionedParams, make_situation, replay
from .summaries import summarize
from .unit_track import Assignment, UnitTrack, remember

__all__ = ["ArrivalMismatchParams", "MODEL_VERSION", "judge_reports"]

TYPE = "arrival_mismatch"


@dataclass(frozen=True)
class ArrivalMismatchParams(VersionedParams):
    RULE: ClassVar[str] = "arrival_mismatch/1"
    radius_km: float = 0.5
    max_ping_age: timedelta = timedelta(minutes=2)


MODEL_VERSION = ArrivalMismatchParams().model_version


def judge_reports(
    track: UnitTrack,
    stream_time: datetime | None,
    cause: str,
    params: ArrivalMismatchParams,
    detected_at: datetime,
    *,
    locale: str = "zh-CN",
) -> tuple[UnitTrack, list[Situation]]:
    """Settle and judge every pending `arrived` report; `cause` names the input applied."""
    again, new = replay(track.emitted, cause, TYPE), []
    for held in track.assignments:
        if held.reported_at is None or held.mismatch_decided:
            continue
        judged = _settle(track, held, stream_time, params)
        if judged.report_settled and judged.site is not None:
            judged = judged.model_copy(update={"mismatch_decided": True})
            distance_km = _report_distance_km(judged)
            if distance_km is not None and distance_km > params.radius_km:
                new.append(_situation(track.unit_id, judged, params, detected_at, locale))
        if judged != held:
            track = track.with_assignment(judged)
    return remember(track, cause, new), again + new


def _settle(track: UnitTrack, held: Assignment, stream_time: datetime, params) -> Assignment:
    reported = held.reported_at
    last = track.last_ping
    passed = stream_time is not None and stream_time > reported
    if held.report_settled or not ((last and last.ts >= reported) or passed):
        return held
    before = [p for p in track.pings if reported - params.max_ping_age <= p.ts <= reported]
    return held.model_copy(
        update={"report_settled": True, "report_ping": before[-1] if before else None}
    )


def _report_distance_km(held: Assignment) -> float | None:
    ping, site = held.report_ping, held.site
    return haversine_km(ping.lat, ping.lon, site.lat, site.lon) if ping and site else None


def _situation(unit_id, held: Assignment, params, detected_at, locale) -> Situation:
    distance_km = _report_distance_km(held)
    return make_situation(
        TYPE,
        id_parts=(held.alarm_id, unit_id),
        severity="medium",
        event_time=held.reported_at,
        detected_at=detected_at,
        model_version=params.model_version,
        summary=summarize(
            TYPE, locale, unit_id=unit_id, alarm_id=held.alarm_id, distance_km=distance_km
        ),
        where=held.site,
        subject=held.alarm_id,
        metrics={
            "distance_km": round(distance_km, 4),
            "ping_age_s": (held.reported_at - held.report_ping.ts).total_seconds(),
        },
        evidence=[held.alarm_id, unit_id],
    )

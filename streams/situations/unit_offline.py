"""`unit_offline`: an on-duty unit stops sending positions.

Rule (docs/surface.md, Output topic "situations"): a unit whose latest ping (by ts) has a status other than `off_duty`
fires when stream time >= that ping's ts + `silence` [3 min]: exactly 3 min of silence is
offline, 3 min - 1 ms is not. Once per silence: the silence is named by the last ping's
ts, event_id = ("unit_offline", unit_id, last ping ts); a newer ping ends it and the next
silence is a new occurrence with a new id. A unit that never pinged has no silence.
event_time = last ping ts + silence; lat/lon = the last position. Severity `medium` for
police units, `low` for auxiliary ones.

State: the per-unit `UnitTrack` (`silence_reported_for` holds the reported silence; the
track always keeps its latest ping, whatever else `unit_track.advance` prunes). Late pings
(more than the lateness behind stream time) are not recorded, so they cannot end a silence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from topics.records import POLICE_UNIT_TYPES, Situation

from ._common import VersionedParams, make_situation, replay, tick_cause
from .summaries import summarize
from .unit_track import UnitTrack, remember

__all__ = ["UnitOfflineParams", "MODEL_VERSION", "check_offline"]

TYPE = "unit_offline"


@dataclass(frozen=True)
class UnitOfflineParams(VersionedParams):
    RULE: ClassVar[str] = "unit_offline/1"
    silence: timedelta = timedelta(minutes=3)


MODEL_VERSION = UnitOfflineParams().model_version


def check_offline(
    track: UnitTrack | None,
    stream_time: datetime,
    params: UnitOfflineParams,
    detected_at: datetime,
    *,
    locale: str = "zh-CN",
    cause: str | None = None,
) -> tuple[UnitTrack | None, list[Situation]]:
    """Timer check; calling it again with the same cause (default: the stream time)
    re-sends what it sent."""
    if track is None:
        return None, []
    cause = cause or tick_cause(stream_time)
    again = replay(track.emitted, cause, TYPE)
    last = track.last_ping
    if (
        last is None
        or last.status == "off_duty"
        or track.silence_reported_for == last.ts
        or stream_time < last.ts + params.silence
    ):
        return track, again
    silence_min = params.silence.total_seconds() / 60
    auxiliary = track.unit_type is not None and track.unit_type not in POLICE_UNIT_TYPES
    situation = make_situation(
        TYPE,
        id_parts=(track.unit_id, last.ts),
        severity="low" if auxiliary else "medium",
        event_time=last.ts + params.silence,
        detected_at=detected_at,
        model_version=params.model_version,
        summary=summarize(TYPE, locale, unit_id=track.unit_id, silence_min=silence_min),
        where=last,
        subject=track.unit_id,
        metrics={"silence_min": silence_min},
        evidence=[track.unit_id],
        window_start=last.ts,
        window_end=last.ts + params.silence,
    )
    track = track.model_copy(update={"silence_reported_for": last.ts})
    return remember(track, cause, [situation]), again + [situation]

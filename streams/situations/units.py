"""What the per-unit agent calls: one function per input, running every per-unit rule.

The agent keeps one `UnitTrack` per unit_id and feeds it, in arrival order:
  - `on_ping`   a `patrol-gps` ping (with the site of ping.alarm_id when it knows it);
  - `on_alarm`  a `dispatched` / `arrived` alarm record of this unit, forwarded with the
                alarm's `AlarmSite` when the alarm side knows it (else None);
  - `on_site`   an alarm's site that became known after the unit was assigned;
  - `on_tick`   a stream-time tick (timers: offline, reports whose ping never came).
Each takes the current stream time — or None while the caller cannot vouch for one yet
(then nothing is dropped and no timer fires) — and returns (new track, situations to send). Every
input is recorded idempotently; applying one again re-sends what it sent the first time
(same event_ids), and nothing new. For ticks "again" means the same tick record: the
agent names it by its coordinates (`cause`), since ticks at one stream time are not one tick.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from topics.records import Alarm, PatrolPing, Situation

from ._common import replay, stamp, tick_cause
from .arrival_detected import ArrivalDetectedParams, detect_arrivals
from .arrival_mismatch import ArrivalMismatchParams, judge_reports
from .unit_offline import UnitOfflineParams, check_offline
from .unit_track import (
    AlarmSite,
    TrackRetention,
    UnitTrack,
    advance,
    record_alarm,
    record_ping,
    record_site,
)

__all__ = ["UnitRules", "on_alarm", "on_ping", "on_site", "on_tick"]

Result = tuple[UnitTrack | None, list[Situation]]


@dataclass(frozen=True)
class UnitRules:
    """The parameters of the three per-unit rules and of the track's retention."""

    retention: TrackRetention = field(default_factory=TrackRetention)
    arrival: ArrivalDetectedParams = field(default_factory=ArrivalDetectedParams)
    mismatch: ArrivalMismatchParams = field(default_factory=ArrivalMismatchParams)
    offline: UnitOfflineParams = field(default_factory=UnitOfflineParams)

    def __post_init__(self) -> None:
        # An on-time `arrived` report must still find the pings it is judged by.
        if self.retention.pings < self.retention.lateness + self.mismatch.max_ping_age:
            raise ValueError("ping retention must cover lateness + the mismatch ping age")


def on_ping(
    track: UnitTrack | None, ping: PatrolPing, stream_time: datetime | None, rules: UnitRules,
    detected_at: datetime, *, site: AlarmSite | None = None, locale: str = "zh-CN",
) -> Result:
    track = advance(track or UnitTrack(unit_id=ping.unit_id), stream_time, rules.retention)
    # A ping that ends a silence of >= [3 min] proves the silence in event time, even if no
    # tick ran inside it (ticks are coarse when a backlog is replayed fast).
    track, silence = check_offline(track, ping.ts, rules.offline, detected_at, locale=locale)
    track = record_ping(track, ping, rules.retention, site)
    track, judged = _judge(track, f"ping:{stamp(ping.ts)}", stream_time, rules, detected_at, locale)
    return track, silence + judged


def on_alarm(
    track: UnitTrack | None, alarm: Alarm, site: AlarmSite | None, stream_time: datetime | None,
    rules: UnitRules, detected_at: datetime, *, locale: str = "zh-CN",
) -> Result:
    if alarm.status not in ("dispatched", "arrived"):
        return track, []
    track = advance(track or UnitTrack(unit_id=alarm.unit_id), stream_time, rules.retention)
    track = record_alarm(track, alarm, site, rules.retention)
    cause = f"alarm:{alarm.alarm_id}:{alarm.status}:{stamp(alarm.ts)}"
    return _judge(track, cause, stream_time, rules, detected_at, locale)


def on_site(
    track: UnitTrack | None, site: AlarmSite, stream_time: datetime | None, rules: UnitRules,
    detected_at: datetime, *, locale: str = "zh-CN",
) -> Result:
    if track is None:
        return None, []
    track = record_site(advance(track, stream_time, rules.retention), site)
    return _judge(track, f"site:{site.alarm_id}", stream_time, rules, detected_at, locale)


def on_tick(
    track: UnitTrack | None, stream_time: datetime | None, rules: UnitRules, detected_at: datetime,
    *, locale: str = "zh-CN", cause: str | None = None,
) -> Result:
    """`cause` names the tick record (default: the stream time): a re-delivered tick
    re-sends what it sent, even when its stream time can no longer be vouched for (None)."""
    if track is None:
        return track, []
    if stream_time is None:
        return track, replay(track.emitted, cause) if cause else []
    cause = cause or tick_cause(stream_time)
    track = advance(track, stream_time, rules.retention)
    track, reports = judge_reports(track, stream_time, cause, rules.mismatch, detected_at, locale=locale)
    track, offline = check_offline(track, stream_time, rules.offline, detected_at, locale=locale, cause=cause)
    return track, reports + offline


def _judge(track, cause, stream_time, rules, detected_at, locale) -> Result:
    track, arrivals = detect_arrivals(track, cause, rules.arrival, detected_at, locale=locale)
    track, reports = judge_reports(
        track, stream_time, cause, rules.mismatch, detected_at, locale=locale
    )
    return track, arrivals + reports

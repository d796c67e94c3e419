"""The per-unit state (`UnitTrack`) shared by arrival_detected, arrival_mismatch, unit_offline.

Key: unit_id. It holds the unit's recent pings, its assignments (alarm_id -> where and when
the alarm was received, plus what each rule has already concluded for that pair), the
silence already reported, and the short re-emission cache. The functions here only record
inputs; the rules live in their own modules and `units` runs them together.

Time: `watermark` is the largest stream time the caller has passed in. An input whose ts
is more than `lateness` behind it is late and not recorded. Retention, relative to it:
pings with ts >= watermark - `pings` [lateness 10 min + 2 min: what an on-time `arrived`
report needs to find its latest ping] and always the latest ping (silence is measured
from it); assignments with `since` >= watermark - `assignments` [12 h]; cached situations
for `RESEND_RETENTION` [2 h] (_common). So the state is bounded by the unit's ping rate, whatever the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from topics.records import Alarm, Instant, PatrolPing, UnitStatus, UnitType

from ._common import LATENESS, Emitted, StateModel, received_site

__all__ = [
    "AlarmSite",
    "Assignment",
    "TrackRetention",
    "TrackedPing",
    "UnitTrack",
    "advance",
    "record_alarm",
    "record_ping",
    "record_site",
    "remember",
]


class AlarmSite(StateModel):
    """Where and when an alarm was received, as the alarm agent forwards it."""

    alarm_id: str
    ts: Instant
    lat: float
    lon: float
    district: str | None = None

    @classmethod
    def from_alarm(cls, alarm: Alarm) -> "AlarmSite":
        return cls(**received_site(alarm), district=alarm.district)


class TrackedPing(StateModel):
    ts: Instant
    lat: float
    lon: float
    status: UnitStatus
    alarm_id: str | None = None


class Assignment(StateModel):
    """A unit's link to one alarm, and what the rules concluded for this (alarm, unit)."""

    alarm_id: str
    since: Instant  # earliest dispatched record, ping naming the alarm, or arrived report
    site: AlarmSite | None = None
    arrival_detected: bool = False
    reported_at: Instant | None = None  # the `arrived` report being judged (earliest one)
    report_settled: bool = False  # the ping that judges the report is fixed (maybe none)
    report_ping: TrackedPing | None = None
    mismatch_decided: bool = False


class UnitTrack(StateModel):
    unit_id: str
    unit_type: UnitType | None = None
    watermark: Instant | None = None
    pings: tuple[TrackedPing, ...] = ()  # sorted by ts
    assignments: tuple[Assignment, ...] = ()  # sorted by alarm_id
    silence_reported_for: Instant | None = None  # ts of the last ping before a reported silence
    emitted: tuple[Emitted, ...] = ()

    @property
    def last_ping(self) -> TrackedPing | None:
        return self.pings[-1] if self.pings else None

    def assignment(self, alarm_id: str) -> Assignment | None:
        return next((a for a in self.assignments if a.alarm_id == alarm_id), None)

    def with_assignment(self, assignment: Assignment) -> "UnitTrack":
        others = [a for a in self.assignments if a.alarm_id != assignment.alarm_id]
        ordered = tuple(sorted((*others, assignment), key=lambda a: a.alarm_id))
        return self.model_copy(update={"assignments": ordered})


@dataclass(frozen=True)
class TrackRetention:
    lateness: timedelta = LATENESS
    # Alarm records reach the unit agent through an internal topic and can trail its pings
    # (by minutes when a backlog is replayed); keep pings long enough to judge them.
    pings: timedelta = LATENESS + timedelta(minutes=10)
    # Forwarded alarm records were judged on time at intake: accept them while the pings
    # they are judged by are still held.
    forwarded_alarms: timedelta = LATENESS + timedelta(minutes=8)
    assignments: timedelta = timedelta(hours=12)


def advance(track: UnitTrack, stream_time: datetime | None, retention: TrackRetention) -> UnitTrack:
    """Move the watermark to stream time (never back) and drop what is out of retention.

    `stream_time` None means the caller cannot vouch for any time yet (an upstream feed
    has not reported its watermark): nothing moves and nothing is dropped.
    """
    if stream_time is None:
        return track
    wm = stream_time if track.watermark is None else max(track.watermark, stream_time)
    keep = [p for p in track.pings[:-1] if p.ts >= wm - retention.pings] + list(track.pings[-1:])
    return track.model_copy(update={
        "watermark": wm,
        "pings": tuple(keep),
        "assignments": tuple(a for a in track.assignments if a.since >= wm - retention.assignments),
        "emitted": tuple(e for e in track.emitted if e.kept_at(wm)),
    })


def _is_late(track: UnitTrack, ts: datetime, retention: TrackRetention) -> bool:
    return track.watermark is not None and ts < track.watermark - retention.lateness


def _assign(track: UnitTrack, alarm_id: str, since: datetime, site: AlarmSite | None) -> UnitTrack:
    held = track.assignment(alarm_id) or Assignment(alarm_id=alarm_id, since=since)
    return track.with_assignment(held.model_copy(update={
        "since": min(held.since, since),
        "site": held.site or site,
    }))


def record_ping(
    track: UnitTrack | None,
    ping: PatrolPing,
    retention: TrackRetention,
    site: AlarmSite | None = None,
) -> UnitTrack:
    """Add a ping (a duplicate ts or a late ping changes nothing); `site` is ping.alarm_id's."""
    track = track or UnitTrack(unit_id=ping.unit_id)
    if ping.unit_id != track.unit_id:
        raise ValueError(f"ping of {ping.unit_id} applied to the track of {track.unit_id}")
    if _is_late(track, ping.ts, retention) or any(p.ts == ping.ts for p in track.pings):
        return track
    new = TrackedPing(
        ts=ping.ts, lat=ping.lat, lon=ping.lon, status=ping.status, alarm_id=ping.alarm_id
    )
    pings = tuple(sorted((*track.pings, new), key=lambda p: p.ts))
    update: dict = {"pings": pings}
    if pings[-1] is new:
        update["unit_type"] = ping.unit_type
    track = track.model_copy(update=update)
    return _assign(track, ping.alarm_id, ping.ts, site) if ping.alarm_id else track


def record_alarm(
    track: UnitTrack | None, alarm: Alarm, site: AlarmSite | None, retention: TrackRetention
) -> UnitTrack | None:
    """Record a `dispatched` or `arrived` record of this unit; other statuses are ignored."""
    if alarm.status not in ("dispatched", "arrived"):
        return track
    track = track or UnitTrack(unit_id=alarm.unit_id)
    if alarm.unit_id != track.unit_id:
        raise ValueError(f"record of unit {alarm.unit_id} applied to the track of {track.unit_id}")
    if track.watermark is not None and alarm.ts < track.watermark - retention.forwarded_alarms:
        return track
    track = _assign(track, alarm.alarm_id, alarm.ts, site)
    held = track.assignment(alarm.alarm_id)
    if alarm.status == "arrived" and not held.report_settled:
        reported = alarm.ts if held.reported_at is None else min(held.reported_at, alarm.ts)
        track = track.with_assignment(held.model_copy(update={"reported_at": reported}))
    return track


def record_site(track: UnitTrack | None, site: AlarmSite) -> UnitTrack | None:
    """The alarm's site became known: fill it in if the unit is assigned to that alarm."""
    held = track.assignment(site.alarm_id) if track else None
    if held is None or held.site is not None:
        return track
    return track.with_assignment(held.model_copy(update={"site": site}))


def remember(track: UnitTrack, cause: str, situations: list) -> UnitTrack:
    """Cache what `cause` emitted, so that a re-delivered cause re-sends it."""
    if not situations:
        return track
    at = track.watermark or min(s.event_time for s in situations)
    cached = tuple(Emitted(cause=cause, at=at, situation=s) for s in situations)
    return track.model_copy(update={"emitted": track.emitted + cached})

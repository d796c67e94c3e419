"""`suspect_near_incident`: a watch-listed vehicle passes a checkpoint close to a fresh incident.

Rule (docs/surface.md, Output topic "situations"): a pass P of a plate whose watchlist entry applies at P.ts (see
`watchlist_hit.entry_applies`) and a `received` alarm A of a category in `categories`
[violent, theft, fraud, gathering] pair when the checkpoint is within `radius_km` [2 km]
of A (great-circle distance <= 2 km, inclusive) and |P.ts - A.ts| <= `window` [30 min]
(the pass may come before or after the alarm; both bounds inclusive). Once per
(alarm, pass): event_id = ("suspect_near_incident", alarm_id, pass_id), event_time = P.ts,
placed at the checkpoint (lat, lon, its cell, district), subject = the upper-cased plate,
metrics distance_km (3 decimals), gap_min = (P.ts - A.ts) in minutes (signed: negative
when the pass came first; 2 decimals) and level, evidence [alarm_id, pass_id,
checkpoint_id]. Severity `critical` for a level-3 entry, else `high`.

State: one `SuspectSector` per sector (the agent routes each alarm and watched pass to every
sector that can pair it). Whichever side arrives first is held; the other side pairs with
it on arrival, so each pair is emitted exactly once, whatever the arrival order. An input
already held (same alarm_id / pass_id) changes nothing and re-sends what its first
application emitted (cause "alarm:<id>" / "pass:<id>"); the first record of an id wins.

Time: `watermark` is the largest stream time passed in (None: unknown, nothing moves and
nothing is dropped); input ts never moves it, so a feed read fast cannot make the other
late. With horizon = watermark - window - `lateness` [10 min]: held alarms and passes with
ts < horizon are dropped, and an input with ts < horizon is ignored — it could only pair
with records already dropped, and accepting it could re-pair a dropped re-delivery. Any
input within the lateness finds every partner it has, since partners are at most one window
older. Cached situations are kept while `at` >= watermark - lateness.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from topics.geo import haversine_km
from topics.records import Alarm, Checkpoint, CheckpointPass, Instant, Situation, WatchlistEntry

from ._common import LATENESS, Emitted, StateModel, VersionedParams, make_situation, received_site, replay
from .cloned_plate import PlatePass
from .summaries import summarize
from .watchlist_hit import entry_applies

__all__ = [
    "MODEL_VERSION",
    "SuspectAlarm",
    "SuspectNearIncidentParams",
    "SuspectSector",
    "WatchedPass",
    "on_alarm",
    "on_pass",
    "prune",
]

TYPE = "suspect_near_incident"


@dataclass(frozen=True)
class SuspectNearIncidentParams(VersionedParams):
    RULE: ClassVar[str] = "suspect_near_incident/1"
    radius_km: float = 2.0
    window: timedelta = timedelta(minutes=30)
    categories: frozenset[str] = frozenset({"violent", "theft", "fraud", "gathering"})
    lateness: timedelta = LATENESS


MODEL_VERSION = SuspectNearIncidentParams().model_version


class WatchedPass(PlatePass):
    """A pass of a watch-listed vehicle, placed at its checkpoint, with the entry's level."""

    plate: str  # upper-cased
    level: int

    @classmethod
    def of(  # type: ignore[override]
        cls, passage: CheckpointPass, checkpoint: Checkpoint, entry: WatchlistEntry
    ) -> "WatchedPass":
        # Build it only for a listed pass: the join must not see an expired or other-colour plate.
        if checkpoint.checkpoint_id != passage.checkpoint_id:
            raise ValueError(
                f"pass {passage.pass_id} is not at checkpoint {checkpoint.checkpoint_id}"
            )
        if not entry_applies(entry, passage):
            raise ValueError(f"the watchlist entry does not apply to pass {passage.pass_id}")
        placed = PlatePass.of(passage, checkpoint).model_dump()
        return cls(**placed, plate=passage.plate_key, level=entry.level)


class SuspectAlarm(StateModel):
    alarm_id: str
    ts: Instant
    lat: float
    lon: float
    category: str

    @classmethod
    def from_alarm(cls, alarm: Alarm) -> "SuspectAlarm":
        return cls(**received_site(alarm), category=alarm.category)


class SuspectSector(StateModel):
    """State of one sector. Key: the sector id (the agent's)."""

    sector: str
    watermark: Instant | None = None
    alarms: tuple[SuspectAlarm, ...] = ()  # sorted by (ts, alarm_id)
    passes: tuple[WatchedPass, ...] = ()  # sorted by (ts, pass_id)
    emitted: tuple[Emitted, ...] = ()


Result = tuple[SuspectSector | None, list[Situation]]


def on_alarm(
    state: SuspectSector | None, sector: str, alarm: Alarm, stream_time: datetime | None,
    params: SuspectNearIncidentParams, detected_at: datetime, *, locale: str = "zh-CN",
) -> Result:
    """Apply an alarm record: a received suspect-category alarm pairs with the held passes."""
    if alarm.status != "received" or alarm.category not in params.categories:
        return state, []
    state = _advance(_open(state, sector), stream_time, params)
    cause = f"alarm:{alarm.alarm_id}"
    held = any(a.alarm_id == alarm.alarm_id for a in state.alarms)
    if held or _too_late(state, alarm.ts, params):
        return state, replay(state.emitted, cause)
    new = SuspectAlarm.from_alarm(alarm)
    alarms = tuple(sorted((*state.alarms, new), key=lambda a: (a.ts, a.alarm_id)))
    found = [s for p in state.passes if (s := _pair(new, p, params, detected_at, locale))]
    return _remember(state.model_copy(update={"alarms": alarms}), cause, found), found


def on_pass(
    state: SuspectSector | None, sector: str, watched: WatchedPass, stream_time: datetime | None,
    params: SuspectNearIncidentParams, detected_at: datetime, *, locale: str = "zh-CN",
) -> Result:
    """Apply a watched pass: it pairs with the held alarms."""
    state = _advance(_open(state, sector), stream_time, params)
    cause = f"pass:{watched.pass_id}"
    held = any(p.pass_id == watched.pass_id for p in state.passes)
    if held or _too_late(state, watched.ts, params):
        return state, replay(state.emitted, cause)
    passes = tuple(sorted((*state.passes, watched), key=lambda p: (p.ts, p.pass_id)))
    found = [s for a in state.alarms if (s := _pair(a, watched, params, detected_at, locale))]
    return _remember(state.model_copy(update={"passes": passes}), cause, found), found


def prune(
    state: SuspectSector | None, stream_time: datetime | None, params: SuspectNearIncidentParams
) -> SuspectSector | None:
    """Advance to stream time with no input (a tick); None when nothing is left to keep."""
    if state is None:
        return None
    state = _advance(state, stream_time, params)
    return state if state.alarms or state.passes or state.emitted else None


def _open(state: SuspectSector | None, sector: str) -> SuspectSector:
    if state is None:
        return SuspectSector(sector=sector)
    if state.sector != sector:
        raise ValueError(f"input for sector {sector} applied to the state of {state.sector}")
    return state


def _advance(
    state: SuspectSector, stream_time: datetime | None, params: SuspectNearIncidentParams
) -> SuspectSector:
    if stream_time is None:
        return state  # the caller cannot vouch for a time yet: keep everything
    wm = stream_time if state.watermark is None else max(state.watermark, stream_time)
    horizon = wm - params.window - params.lateness
    return state.model_copy(update={
        "watermark": wm,
        "alarms": tuple(a for a in state.alarms if a.ts >= horizon),
        "passes": tuple(p for p in state.passes if p.ts >= horizon),
        "emitted": tuple(e for e in state.emitted if e.kept_at(wm)),
    })


def _too_late(state: SuspectSector, ts: datetime, params: SuspectNearIncidentParams) -> bool:
    # The same bound as the pruning: a dropped input re-delivered is ignored, not re-paired.
    return state.watermark is not None and ts < state.watermark - params.window - params.lateness


def _remember(state: SuspectSector, cause: str, found: list[Situation]) -> SuspectSector:
    if not found:
        return state
    at = state.watermark or min(s.event_time for s in found)  # unknown time: age by the pass
    cached = tuple(Emitted(cause=cause, at=at, situation=s) for s in found)
    return state.model_copy(update={"emitted": state.emitted + cached})


def _pair(
    alarm: SuspectAlarm, watched: WatchedPass, params: SuspectNearIncidentParams,
    detected_at: datetime, locale: str,
) -> Situation | None:
    gap = watched.ts - alarm.ts
    if abs(gap) > params.window:
        return None
    distance_km = haversine_km(alarm.lat, alarm.lon, watched.lat, watched.lon)
    if distance_km > params.radius_km:
        return None
    distance = round(distance_km, 3)
    gap_min = round(gap.total_seconds() / 60, 2)
    return make_situation(
        TYPE,
        id_parts=(alarm.alarm_id, watched.pass_id),
        severity="critical" if watched.level == 3 else "high",
        event_time=watched.ts,
        detected_at=detected_at,
        model_version=params.model_version,
        summary=summarize(
            TYPE, locale, plate=watched.plate, checkpoint_id=watched.checkpoint_id,
            alarm_id=alarm.alarm_id, distance_km=distance, gap_min=abs(gap_min),
        ),
        lat=watched.lat,
        lon=watched.lon,
        district=watched.district,
        subject=watched.plate,
        metrics={"distance_km": distance, "gap_min": gap_min, "level": watched.level},
        evidence=[alarm.alarm_id, watched.pass_id, watched.checkpoint_id],
    )

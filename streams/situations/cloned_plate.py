"""`cloned_plate`: one plate in two places faster than any car could drive between them.

Rule (docs/surface.md, Output topic "situations"): two passes of the same plate (upper-cased) and plate colour at
checkpoints more than `min_distance_km` [1 km] apart (strictly) whose implied speed
exceeds `max_speed_kmh` [200 km/h] (strictly), at most `max_gap` [2 h] apart (inclusive).
Simultaneous passes (gap 0) more than 1 km apart are a clone. Once per pair of passes:
event_id = ("cloned_plate", the two pass_ids sorted). Of the pair, the later pass is the
one with the larger (ts, pass_id): event_time = its ts; lat/lon/district = its checkpoint.
subject = the plate; evidence = [earlier pass_id, later pass_id, earlier checkpoint_id,
later checkpoint_id]; metrics distance_km, gap_s, speed_kmh (absent at gap 0). `high`.

State: one `PlateTrail` per (plate, colour), key "<PLATE>|<colour>" (`trail_key`).
Passes may arrive in any order: each new pass is paired with every pass held, so a pair
is emitted when its second pass (in arrival order) is applied, and only then.

Watermark, lateness, pruning: the trail's watermark is the stream time the agent passes
(never moves back; None = unknown, nothing moves). A pass with ts < watermark - lateness
is late (docs/surface.md, Conventions) and ignored. Passes with ts < watermark - lateness - max_gap are
dropped: no on-time pass can pair with them, so ignoring late passes (rather than only
those beyond the prune horizon) keeps every result independent of arrival timing.
Re-delivery: a pass_id already held changes nothing and re-sends what its first
application emitted (cause "pass:<pass_id>", kept for `RESEND_RETENTION` of stream time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from topics.geo import haversine_km
from topics.records import Checkpoint, CheckpointPass, Instant, Situation

from ._common import LATENESS, Emitted, StateModel, VersionedParams, make_situation, replay
from .summaries import summarize

__all__ = [
    "ClonedPlateParams", "MODEL_VERSION", "PlatePass", "PlateTrail", "newest", "on_pass",
    "trail_key",
]

TYPE = "cloned_plate"


@dataclass(frozen=True)
class ClonedPlateParams(VersionedParams):
    RULE: ClassVar[str] = "cloned_plate/1"
    min_distance_km: float = 1.0
    max_speed_kmh: float = 200.0
    max_gap: timedelta = timedelta(hours=2)
    lateness: timedelta = LATENESS


MODEL_VERSION = ClonedPlateParams().model_version


class PlatePass(StateModel):
    """One pass of the trail's plate, with the place of its checkpoint."""

    pass_id: str
    checkpoint_id: str
    ts: Instant
    lat: float
    lon: float
    district: str | None = None

    @classmethod
    def of(cls, passage: CheckpointPass, checkpoint: Checkpoint) -> "PlatePass":
        return cls(
            pass_id=passage.pass_id, checkpoint_id=passage.checkpoint_id, ts=passage.ts,
            lat=checkpoint.lat, lon=checkpoint.lon, district=checkpoint.district,
        )

    @property
    def order(self) -> tuple[datetime, str]:
        return self.ts, self.pass_id


class PlateTrail(StateModel):
    """State of one plate and colour. Key: "<PLATE>|<colour>"."""

    key: str
    plate: str
    watermark: Instant | None = None
    passes: tuple[PlatePass, ...] = ()  # sorted by (ts, pass_id)
    emitted: tuple[Emitted, ...] = ()


def trail_key(passage: CheckpointPass) -> str:
    """The state key: plates compare upper-cased (docs/surface.md, Input topics), colours tell plates apart."""
    return f"{passage.plate_key}|{passage.plate_color}"


def newest(state: PlateTrail | None) -> datetime | None:
    """The largest pass ts held (the agent expires the key by it), None when none is held."""
    return state.passes[-1].ts if state and state.passes else None


def on_pass(
    state: PlateTrail | None,
    key: str,
    plate: str,
    seen: PlatePass,
    stream_time: datetime | None,
    params: ClonedPlateParams,
    detected_at: datetime,
    *,
    locale: str = "zh-CN",
) -> tuple[PlateTrail, list[Situation]]:
    """Apply one pass of the trail's plate; returns the new state and the clones it completes."""
    if state is None:
        state = PlateTrail(key=key, plate=plate.upper())
    elif state.key != key:
        raise ValueError(f"pass {seen.pass_id} is for trail {key}, not {state.key}")
    state = _advance(state, stream_time, params)
    cause = f"pass:{seen.pass_id}"
    again = replay(state.emitted, cause)
    late = state.watermark is not None and seen.ts < state.watermark - params.lateness
    if late or any(p.pass_id == seen.pass_id for p in state.passes):
        return state, again
    out = []
    for held in state.passes:
        earlier, later = sorted((held, seen), key=lambda p: p.order)
        situation = _judge(state.plate, earlier, later, params, detected_at, locale)
        if situation is not None:
            out.append(situation)
    # Without a known watermark the pass's own ts stamps the cache entry, so it still expires.
    at = state.watermark or seen.ts
    return state.model_copy(update={
        "passes": tuple(sorted((*state.passes, seen), key=lambda p: p.order)),
        "emitted": (*state.emitted, *(Emitted(cause=cause, at=at, situation=s) for s in out)),
    }), out


def _advance(
    state: PlateTrail, stream_time: datetime | None, params: ClonedPlateParams
) -> PlateTrail:
    if stream_time is None or (state.watermark is not None and stream_time <= state.watermark):
        return state
    watermark = stream_time
    horizon = watermark - params.lateness - params.max_gap
    return state.model_copy(update={
        "watermark": watermark,
        "passes": tuple(p for p in state.passes if p.ts >= horizon),
        "emitted": tuple(e for e in state.emitted if e.kept_at(watermark)),
    })


def _judge(plate, earlier, later, params, detected_at, locale) -> Situation | None:
    gap = later.ts - earlier.ts
    if gap > params.max_gap:
        return None
    distance_km = haversine_km(earlier.lat, earlier.lon, later.lat, later.lon)
    if distance_km <= params.min_distance_km:
        return None
    gap_s = gap.total_seconds()
    speed_kmh = distance_km / (gap_s / 3600) if gap_s > 0 else float("inf")
    if speed_kmh <= params.max_speed_kmh:
        return None
    return make_situation(
        TYPE,
        id_parts=tuple(sorted((earlier.pass_id, later.pass_id))),
        severity="high",
        event_time=later.ts,
        detected_at=detected_at,
        model_version=params.model_version,
        summary=summarize(
            TYPE, locale, plate=plate, gap_min=gap_s / 60, distance_km=distance_km,
            first_checkpoint_id=earlier.checkpoint_id, second_checkpoint_id=later.checkpoint_id,
        ),
        where=later,
        subject=plate,
        # speed_kmh is infinite for simultaneous passes: make_situation leaves it out.
        metrics={
            "distance_km": round(distance_km, 3), "gap_s": gap_s, "speed_kmh": round(speed_kmh, 1),
        },
        evidence=[earlier.pass_id, later.pass_id, earlier.checkpoint_id, later.checkpoint_id],
    )

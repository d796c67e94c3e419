"""`watchlist_hit`: a checkpoint pass of a plate that is on the watchlist and not expired.

Rule (docs/surface.md, Output topic "situations"): a pass P and the watchlist entry E kept under P's upper-cased plate
(the `watchlist` topic is keyed so) give a hit when `entry_applies(E, P)`:
  - E.plate equals P.plate, both compared upper-cased (docs/surface.md, Input topics);
  - E names no plate_color, or E.plate_color equals P.plate_color;
  - E is not expired at the pass: expires_at is None or P.ts < expires_at. Judged in event
    time, so a replay decides the same way; a pass stamped exactly at expires_at is expired.
No parameters. Once per pass: event_id = ("watchlist_hit", pass_id), event_time = P.ts,
placed at the checkpoint (lat, lon, its cell, district), subject = the upper-cased plate,
metrics {level}, evidence [pass_id, checkpoint_id]. Severity by level: 1 `medium`,
2 `high`, 3 `critical`. The entry's `reason` is free text and never leaves the watchlist.

Stateless: the agent holds the watchlist and the checkpoints (reference topics).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from topics.records import Checkpoint, CheckpointPass, Situation, WatchlistEntry

from ._common import VersionedParams, make_situation
from .summaries import summarize

__all__ = [
    "MODEL_VERSION",
    "SEVERITY_BY_LEVEL",
    "WatchlistHitParams",
    "detect_watchlist_hit",
    "entry_applies",
]

TYPE = "watchlist_hit"
SEVERITY_BY_LEVEL = {1: "medium", 2: "high", 3: "critical"}


@dataclass(frozen=True)
class WatchlistHitParams(VersionedParams):
    RULE: ClassVar[str] = "watchlist_hit/1"  # no settings: the version is the rule alone


MODEL_VERSION = WatchlistHitParams().model_version


def entry_applies(entry: WatchlistEntry | None, passage: CheckpointPass) -> bool:
    """Whether `entry` lists the vehicle of `passage` at the pass's event time."""
    if entry is None or entry.plate.upper() != passage.plate_key:
        return False
    if entry.plate_color is not None and entry.plate_color != passage.plate_color:
        return False
    return entry.active_at(passage.ts)  # event time, not the clock: replays agree


def detect_watchlist_hit(
    passage: CheckpointPass,
    entry: WatchlistEntry | None,
    checkpoint: Checkpoint,
    params: WatchlistHitParams,
    detected_at: datetime,
    *,
    locale: str = "zh-CN",
) -> list[Situation]:
    if checkpoint.checkpoint_id != passage.checkpoint_id:
        raise ValueError(f"pass {passage.pass_id} is not at checkpoint {checkpoint.checkpoint_id}")
    if not entry_applies(entry, passage):
        return []
    plate = passage.plate_key
    return [
        make_situation(
            TYPE,
            id_parts=(passage.pass_id,),
            severity=SEVERITY_BY_LEVEL[entry.level],
            event_time=passage.ts,
            detected_at=detected_at,
            model_version=params.model_version,
            summary=summarize(
                TYPE, locale, level=entry.level, plate=plate, checkpoint_id=checkpoint.checkpoint_id
            ),
            lat=checkpoint.lat,
            lon=checkpoint.lon,
            district=checkpoint.district,
            subject=plate,
            metrics={"level": entry.level},
            evidence=[passage.pass_id, checkpoint.checkpoint_id],
        )
    ]

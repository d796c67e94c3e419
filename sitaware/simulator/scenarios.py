"""Injected scenarios: when each staged incident happens, and the stage they play on.

The run is cut into segments of about an hour (one for shorter runs) and each selected
type is staged once per segment, at a fixed fraction of it, so that their records do not
overlap: e.g. in a 30-minute run the overdue alarm comes at 3.6 min, the hotspot at
5.4 min, ..., the flow spike fills the 5-minute window starting at or after 18 min.
A staging that finds no place keeping every rule tries again 30 s later, up to 20
times; what still fails is listed under `skipped` in the ground truth.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .city import City
from .alarms import Dispatcher
from .engine import MINUTE, SECOND, Engine
from .fleet import Fleet
from .incidents import IncidentLog
from .plates import PlateBook
from .traffic import Traffic
from .truth import GroundTruth
from .watchlist import WatchEntry

__all__ = ["Stage", "schedule_injections", "FRACTIONS", "SEGMENT_MS"]

SEGMENT_MS = 60 * MINUTE
WINDOW_MS = 5 * MINUTE
RETRIES = 20
FRACTIONS = {
    "response_overdue": 0.12,
    "alarm_hotspot": 0.18,
    "watchlist_hit": 0.25,
    "arrival_mismatch": 0.30,
    "crowd_gathering": 0.38,
    "cloned_plate": 0.42,
    "coverage_gap": 0.47,
    "unit_offline": 0.52,
    "suspect_near_incident": 0.58,
    "flow_anomaly": 0.60,  # the first whole 5-minute window from here
}


@dataclass
class Stage:
    """Everything a staged incident may touch."""

    engine: Engine
    city: City
    fleet: Fleet
    log: IncidentLog
    dispatcher: Dispatcher
    traffic: Traffic
    plates: PlateBook
    truth: GroundTruth
    rng: random.Random
    watchlist: list[WatchEntry]
    burst_cells: set[str] = field(default_factory=set)
    _watch_used: set[str] = field(default_factory=set)

    def watch_entry(self) -> WatchEntry | None:
        """An active watch-list entry not yet driven past a checkpoint (one pass per plate)."""
        for entry in self.watchlist:
            if not entry.expired and entry.plate not in self._watch_used:
                return entry
        return None

    def use_watch_entry(self, entry: WatchEntry) -> None:
        self._watch_used.add(entry.plate)


def schedule_injections(stage: Stage, kinds: tuple[str, ...]) -> None:
    from .staged_checkpoints import CHECKPOINT_STAGINGS, stage_flow_anomaly
    from .staged_core import CORE_STAGINGS

    stagings = {**CORE_STAGINGS, **CHECKPOINT_STAGINGS}
    engine = stage.engine
    segments = max(1, engine.end_ms // SEGMENT_MS)
    length = engine.end_ms / segments
    for k in range(segments):
        base = k * length
        for kind in kinds:
            at = int(base + FRACTIONS[kind] * length)
            if kind == "flow_anomaly":
                window = _window_from(engine, at)
                if window < 3 * WINDOW_MS or window + WINDOW_MS > base + length:
                    stage.truth.skip(kind, "no whole 5-minute window with a baseline in the segment")
                else:
                    engine.at(window, stage_flow_anomaly, stage, window)
            else:
                engine.at(at, _attempt, stage, kind, stagings[kind], RETRIES)


def _window_from(engine: Engine, t_ms: int) -> int:
    """Start (ms since the run's start) of the first epoch-aligned window at or after t_ms."""
    start_epoch_ms = int(engine.start.timestamp() * 1000)
    aligned = -(-(start_epoch_ms + t_ms) // WINDOW_MS) * WINDOW_MS
    return aligned - start_epoch_ms


def _attempt(stage: Stage, kind: str, staging, tries: int) -> None:
    if staging(stage):
        return
    if tries > 0:
        stage.engine.after(30 * SECOND, _attempt, stage, kind, staging, tries - 1)
    else:
        stage.truth.skip(kind, "no place and time kept the rules of the run")

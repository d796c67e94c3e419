"""Staged checkpoint incidents (scenario group `checkpoints`). Like `staged_core`: each
function stages one occurrence now, writes the ground truth, and returns False to be
retried when nothing fits."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from topics.geo import haversine_km

from .alarms import CATEGORIES, COVER_KM
from .engine import MINUTE, SECOND
from .geometry import random_in_disk
from .plates import Vehicle

if TYPE_CHECKING:
    from .city import CheckpointSite
    from .scenarios import Stage

__all__ = ["CHECKPOINT_STAGINGS", "stage_flow_anomaly"]

CLONE_MIN_KM = 5.0
CLONE_MIN_KMH = 400.0  # implied speed of a cloned pair (rule: 200 km/h)
SUSPECT_RADIUS_KM = 1.5  # staged alarm to checkpoint (rule: 2 km)
SPIKE_FACTOR = 5  # window count over its expected count
SPIKE_MIN_EXTRA = 25  # the rule also wants at least 20 passes of deviation


def _shuffled_checkpoints(stage: "Stage") -> list["CheckpointSite"]:
    sites = list(stage.city.checkpoints)
    stage.rng.shuffle(sites)
    return sites


def _watched_pass(stage: "Stage", site: "CheckpointSite", t: int) -> tuple[str, dict]:
    """A watch-listed plate passes: the pass and its `watchlist_hit` fields."""
    entry = stage.watch_entry()
    stage.use_watch_entry(entry)
    stage.log.watch(site.point, t)
    pass_id = stage.traffic.schedule_pass(Vehicle(entry.plate, entry.plate_color, "car"), site, t)
    return pass_id, {"pass_id": pass_id, "plate": entry.plate, "checkpoint_id": site.checkpoint_id,
                     "level": entry.level}


def stage_watchlist_hit(stage: "Stage") -> bool:
    """A watch-listed plate passes a checkpoint with no suspect-type alarm around."""
    t = stage.engine.now + SECOND
    if stage.watch_entry() is None:
        return False
    for site in _shuffled_checkpoints(stage):
        if not stage.log.suspect_alarms_near(site.point, t):
            _, fields = _watched_pass(stage, site, t)
            stage.truth.add("watchlist_hit", ("pass_id",), t, **fields)
            return True
    return False


def stage_suspect_near_incident(stage: "Stage") -> bool:
    """A theft/violent/fraud call near a checkpoint; 5-12 minutes later a watch-listed plate
    passes that checkpoint (also a `watchlist_hit`)."""
    engine, dispatcher, rng, t = stage.engine, stage.dispatcher, stage.rng, stage.engine.now
    t_pass = t + int(rng.uniform(5, 12) * MINUTE)
    if t_pass + MINUTE > engine.end_ms or stage.watch_entry() is None:
        return False
    category = rng.choice(("theft", "violent", "fraud"))
    priority = rng.choices((1, 2, 3, 4), weights=CATEGORIES[category][1])[0]
    for site in _shuffled_checkpoints(stage):
        if stage.log.suspect_alarms_near(site.point, t_pass):
            continue
        for _ in range(10):
            p = random_in_disk(rng, site.point, SUSPECT_RADIUS_KM)
            if not stage.log.site_ok(p, t, category) or not stage.fleet.covered(p, t, COVER_KM):
                continue
            unit = dispatcher.responder_for(p, t, priority)
            if unit is None:
                continue
            case = dispatcher.new_case(t, p, category, priority, "suspect_near_incident")
            dispatcher.receive(case)
            dispatcher.respond(case, unit)
            pass_id, fields = _watched_pass(stage, site, t_pass)
            entry = stage.truth.add("suspect_near_incident", ("alarm_id", "pass_id"), t_pass,
                                    alarm_id=case.alarm_id, **fields,
                                    distance_km=round(haversine_km(*site.point, *p), 3))
            stage.truth.add("watchlist_hit", ("pass_id",), t_pass, **fields, side_effect_of=entry["id"])
            return True
    return False


def stage_cloned_plate(stage: "Stage") -> bool:
    """One plate at two checkpoints >= 5 km apart, at >= 400 km/h implied: two passes."""
    t = stage.engine.now
    pairs = [(a, b) for a, b in itertools.permutations(stage.city.checkpoints, 2)
             if haversine_km(*a.point, *b.point) >= CLONE_MIN_KM]
    if not pairs:
        return False
    a, b = stage.rng.choice(pairs)
    distance = haversine_km(*a.point, *b.point)
    gap_ms = int(stage.rng.uniform(0.2, 1.0) * distance / CLONE_MIN_KMH * 3_600_000)
    vehicle = stage.plates.fresh("car", "blue")
    first = stage.traffic.schedule_pass(vehicle, a, t)
    second = stage.traffic.schedule_pass(vehicle, b, t + gap_ms)
    stage.truth.add("cloned_plate", ("pass_ids",), t + gap_ms, pass_ids=[first, second],
                    plate=vehicle.plate, plate_color=vehicle.plate_color,
                    checkpoint_ids=[a.checkpoint_id, b.checkpoint_id], distance_km=round(distance, 3),
                    speed_kmh=round(distance / max(gap_ms, 1) * 3_600_000, 1))
    return True


def stage_flow_anomaly(stage: "Stage", window_start: int) -> None:
    """Five times the expected passes at one checkpoint within one 5-minute window."""
    window_ms = 5 * MINUTE
    site = stage.rng.choice(stage.city.checkpoints)
    expected = stage.traffic.flow_per_window(window_start)
    extra = max(round((SPIKE_FACTOR - 1) * expected), SPIKE_MIN_EXTRA)
    times = sorted(stage.rng.randrange(window_start + SECOND, window_start + window_ms - SECOND) for _ in range(extra))
    for t in times:
        stage.traffic.schedule_pass(stage.plates.fresh(), site, t)
    stage.truth.add("flow_anomaly", ("checkpoint_id", "window_start"), window_start + window_ms,
                    checkpoint_id=site.checkpoint_id, window_start=window_start,
                    window_end=window_start + window_ms, expected_passes=round(expected, 1),
                    extra_passes=extra)


CHECKPOINT_STAGINGS = {
    "watchlist_hit": stage_watchlist_hit,
    "suspect_near_incident": stage_suspect_near_incident,
    "cloned_plate": stage_cloned_plate,
}

"""The checkpoint models on simulated traffic: a normal day is silent, injections are found.

The simulator's city runs in process (no broker) and every checkpoint pass is fed, in
record order, the way the agents will: `cloned_plate` per plate|colour, `flow_anomaly`
per checkpoint (count, then close), stream time = the running largest pass ts. A day of
normal traffic covers the night lull and both rush-hour ramps; it takes ~15 s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache

import pytest

from sitaware.simulator import SCALES, CitySimulation, SimulationConfig
from streams.situations import cloned_plate, flow_anomaly
from topics.records import Checkpoint, CheckpointPass, Situation
from topics.specs import CHECKPOINT_PASSES, CHECKPOINTS

DETECTED_AT = datetime(2026, 3, 3, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Detected:
    passes: int
    baselines: dict[str, tuple[int, ...]]
    clones: list[Situation]
    flows: list[Situation]
    truth: dict


@lru_cache(maxsize=None)
def detect(scenario: str, minutes: int, seed: int) -> Detected:
    config = SimulationConfig(seed=seed, scenario=scenario, duration=timedelta(minutes=minutes),
                              scale=SCALES["small"])
    sim = CitySimulation(config)
    plates, flows = cloned_plate.ClonedPlateParams(), flow_anomaly.FlowAnomalyParams()
    checkpoints: dict[str, Checkpoint] = {}
    trails: dict[str, cloned_plate.PlateTrail] = {}
    counts: dict[str, flow_anomaly.CheckpointFlow] = {}
    clones, anomalies, stream_time, passes = [], [], None, 0
    for topic, _key, value in sim:
        if topic == CHECKPOINTS:
            checkpoints[value["checkpoint_id"]] = Checkpoint(**value)
        if topic != CHECKPOINT_PASSES:
            continue
        passage = CheckpointPass(**value)
        passes += 1
        stream_time = passage.ts if stream_time is None else max(stream_time, passage.ts)
        site, key = checkpoints[passage.checkpoint_id], cloned_plate.trail_key(passage)
        trails[key], found = cloned_plate.on_pass(
            trails.get(key), key, passage.plate, cloned_plate.PlatePass.of(passage, site),
            stream_time, plates, DETECTED_AT,
        )
        clones += found
        state, _ = flow_anomaly.count_pass(counts.get(site.checkpoint_id), site.checkpoint_id,
                                           passage.ts, flows)
        counts[site.checkpoint_id], found = flow_anomaly.close_windows(
            state, stream_time, site, flows, DETECTED_AT
        )
        anomalies += found
    for checkpoint_id, state in counts.items():  # what the end of the feed still closes
        _, found = flow_anomaly.close_windows(state, stream_time, checkpoints[checkpoint_id],
                                              flows, DETECTED_AT)
        anomalies += found
    baselines = {c: state.baseline for c, state in counts.items()}
    return Detected(passes, baselines, clones, anomalies, sim.truth)


def _injected(truth: dict, kind: str) -> list[dict]:
    return [entry for entry in truth["injections"] if entry["type"] == kind]


def test_a_day_of_normal_traffic_is_silent():
    day = detect("none", 24 * 60, 11)
    assert day.passes > 50_000 and day.truth["injections"] == []
    # Not vacuous: every checkpoint was judged all day against a full hour of baseline.
    assert len(day.baselines) == 10 and {len(b) for b in day.baselines.values()} == {12}
    assert [s.evidence for s in day.clones] == []
    assert [(s.subject, s.window_start, s.metrics) for s in day.flows] == []


@pytest.mark.parametrize("scenario, minutes, seed", [("checkpoints", 60, 3), ("all", 30, 7)])
def test_the_injected_flow_spike_is_the_one_anomaly(scenario, minutes, seed):
    run = detect(scenario, minutes, seed)
    (injected,) = _injected(run.truth, "flow_anomaly")
    (found,) = run.flows
    assert found.subject == injected["checkpoint_id"]
    assert found.window_start == datetime.fromisoformat(injected["window_start"])
    assert found.window_end == datetime.fromisoformat(injected["window_end"])


@pytest.mark.parametrize("scenario, minutes, seed", [("checkpoints", 60, 3), ("all", 30, 7)])
def test_the_injected_clone_is_the_one_cloned_plate(scenario, minutes, seed):
    run = detect(scenario, minutes, seed)
    injected = _injected(run.truth, "cloned_plate")
    expected = sorted((e["pass_ids"], e["checkpoint_ids"]) for e in injected)
    assert expected and sorted((s.evidence[:2], s.evidence[2:]) for s in run.clones) == expected

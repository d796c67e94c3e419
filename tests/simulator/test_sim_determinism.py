from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from sitaware.simulator import (
    CHECKPOINT_TYPES,
    CORE_TYPES,
    INJECTION_TYPES,
    CitySimulation,
    ScenarioError,
    SimulationConfig,
    SimulationError,
    parse_duration,
    parse_scenario,
)


def test_the_same_seed_gives_identical_records_and_truth(run_all):
    again = CitySimulation(SimulationConfig(seed=7, scenario="all"))
    assert tuple(again) == run_all.records
    assert again.truth == run_all.truth


def test_another_seed_gives_other_records(run_all, simulated):
    other = simulated(8, "all")
    assert other.records != run_all.records
    assert [r.value for r in other.records[:10]] == [r.value for r in run_all.records[:10]]  # the city


def test_a_simulation_runs_once():
    sim = CitySimulation(SimulationConfig(seed=1, scenario="none", duration=timedelta(minutes=1)))
    list(sim)
    with pytest.raises(SimulationError):
        list(sim)


@pytest.mark.parametrize(("text", "kinds"), [
    ("all", INJECTION_TYPES), ("none", ()), ("core", CORE_TYPES), ("checkpoints", CHECKPOINT_TYPES),
    ("cloned_plate, alarm_hotspot", ("alarm_hotspot", "cloned_plate")),
])
def test_scenario_names(text, kinds):
    assert parse_scenario(text) == kinds


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("45s", 45), ("30m", 1800), ("2h", 7200), ("1h30m", 5400)])
def test_durations(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("bad", [
    dict(scenario="hotspots"),
    dict(duration=timedelta(minutes=10)),  # too short for the injections
    dict(start=datetime(2026, 3, 2, 8, 0)),  # no offset
    dict(duration=timedelta(0), scenario="none"),
])
def test_impossible_runs_are_refused(bad):
    with pytest.raises(ScenarioError):
        SimulationConfig(**bad)


def test_bad_durations_are_refused():
    with pytest.raises(ScenarioError):
        parse_duration("ten minutes")

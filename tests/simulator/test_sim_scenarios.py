"""Each injected scenario is in the records as the contract's rule defines it, and nothing
else of the injected kinds is (an independent re-count: `sitaware.simulator.checks`)."""

from __future__ import annotations

from collections import Counter

import pytest

from sitaware.simulator import CHECKPOINT_TYPES, CORE_TYPES, INJECTION_TYPES, find_occurrences, match_truth
from sitaware.simulator.checks import instant_ms
from topics.geo import geohash, haversine_km

MIN = 60_000


@pytest.fixture(scope="module")
def found(run_all):
    return find_occurrences(run_all.records, run_all.truth["start"], run_all.truth["end"])


def _entries(truth, kind):
    return [e for e in truth["injections"] if e["type"] == kind]


@pytest.mark.parametrize("kind", INJECTION_TYPES)
def test_each_injection_occurs_exactly_as_the_truth_says(run_all, found, kind):
    truth = {**run_all.truth, "injections": _entries(run_all.truth, kind)}
    missing, unexpected = match_truth(truth, {kind: found[kind]})
    assert truth["injections"], f"no {kind} injected"
    assert missing == [] and unexpected == []


def test_nothing_of_an_injected_kind_happens_that_the_truth_does_not_name(run_all, found):
    assert match_truth(run_all.truth, found) == ([], [])


def _alarms(run, ids):
    return [v for t, _, v in run.records if t == "alarms" and v["status"] == "received" and v["alarm_id"] in ids]


def test_hotspot_and_crowd_are_bursts_in_different_cells(run_all):
    hotspot, = _entries(run_all.truth, "alarm_hotspot")
    crowd, = _entries(run_all.truth, "crowd_gathering")
    assert hotspot["cell"] != crowd["cell"]
    for entry, window, kinds in ((hotspot, 15, None), (crowd, 10, {"dispute", "gathering"})):
        alarms = _alarms(run_all, set(entry["alarm_ids"]))
        assert {geohash(a["lat"], a["lon"]) for a in alarms} == {entry["cell"]}
        times = sorted(instant_ms(a["ts"]) for a in alarms if kinds is None or a["category"] in kinds)
        assert times[entry["count"] - 1] - times[0] < window * MIN
        assert instant_ms(entry["event_time"]) == times[entry["count"] - 1]


def test_unit_offline_is_a_silence_of_more_than_three_minutes(run_all):
    entry, = _entries(run_all.truth, "unit_offline")
    silence = instant_ms(entry["resumed_at"]) - instant_ms(entry["last_ping_at"])
    assert 3 * MIN < silence < 7 * MIN


def test_cloned_plate_is_two_far_passes_at_an_impossible_speed(run_all):
    entry, = _entries(run_all.truth, "cloned_plate")
    passes = [v for t, _, v in run_all.records if t == "checkpoint-passes" and v["plate"] == entry["plate"]]
    assert [p["pass_id"] for p in passes] == entry["pass_ids"]
    assert entry["distance_km"] > 1 and entry["speed_kmh"] > 200


def test_suspect_near_incident_also_counts_as_a_watchlist_hit(run_all):
    suspect, = _entries(run_all.truth, "suspect_near_incident")
    implied = [e for e in _entries(run_all.truth, "watchlist_hit") if e.get("side_effect_of") == suspect["id"]]
    assert [e["pass_id"] for e in implied] == [suspect["pass_id"]]
    alarm, = _alarms(run_all, {suspect["alarm_id"]})
    checkpoint = next(v for t, _, v in run_all.records if t == "checkpoints" and v["checkpoint_id"] == suspect["checkpoint_id"])
    assert haversine_km(alarm["lat"], alarm["lon"], checkpoint["lat"], checkpoint["lon"]) <= 2


def test_flow_anomaly_is_a_five_fold_window(run_all):
    entry, = _entries(run_all.truth, "flow_anomaly")
    start = instant_ms(entry["window_start"])
    counts = Counter(instant_ms(v["ts"]) // (5 * MIN) for t, _, v in run_all.records
                     if t == "checkpoint-passes" and v["checkpoint_id"] == entry["checkpoint_id"])
    before = [counts[start // (5 * MIN) - k] for k in (1, 2, 3)]
    assert counts[start // (5 * MIN)] >= 4 * max(before)


@pytest.mark.parametrize(("scenario", "kinds"), [
    ("core", CORE_TYPES), ("checkpoints", CHECKPOINT_TYPES), ("cloned_plate,unit_offline", ("unit_offline", "cloned_plate")),
])
def test_a_scenario_selection_stages_only_its_kinds(simulated, scenario, kinds):
    run = simulated(9, scenario)
    staged = {e["type"] for e in run.truth["injections"] if "side_effect_of" not in e}
    assert staged == set(kinds)
    found = find_occurrences(run.records, run.truth["start"], run.truth["end"])
    assert match_truth(run.truth, found) == ([], [])


def test_a_two_hour_run_stages_each_kind_once_an_hour(simulated):
    run = simulated(11, "all", 120)
    staged = Counter(e["type"] for e in run.truth["injections"] if "side_effect_of" not in e)
    assert staged == {kind: 2 for kind in INJECTION_TYPES}
    assert run.truth["skipped"] == []
    found = find_occurrences(run.records, run.truth["start"], run.truth["end"])
    assert match_truth(run.truth, found) == ([], [])

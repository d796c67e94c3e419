"""Every generated record is a valid contract record, in event-time order."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from sitaware.simulator import INJECTION_TYPES
from sitaware.simulator.checks import instant_ms
from sitaware.simulator.jsonl import KEY_OF
from topics.records import Alarm, Checkpoint, CheckpointPass, PatrolPing, WatchlistEntry

MODELS = {"alarms": Alarm, "patrol-gps": PatrolPing, "checkpoint-passes": CheckpointPass,
          "checkpoints": Checkpoint, "watchlist": WatchlistEntry}
INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+08:00$")


@pytest.fixture(scope="module", params=["all", "none"])
def run(request, run_all, run_none):
    return run_all if request.param == "all" else run_none


def test_every_record_validates_against_the_contract_models(run):
    for topic, _key, value in run.records:
        MODELS[topic].model_validate(value)


def test_keys_follow_the_contract(run):
    for topic, key, value in run.records:
        assert key == KEY_OF[topic](value)


def test_reference_records_come_first_then_feeds_in_event_time_order(run):
    topics = [r.topic for r in run.records]
    n_ref = topics.count("checkpoints") + topics.count("watchlist")
    assert topics[:n_ref] == ["checkpoints"] * topics.count("checkpoints") + ["watchlist"] * topics.count("watchlist")
    times = [instant_ms(r.value["ts"]) for r in run.records[n_ref:]]
    assert times == sorted(times)
    assert times[0] >= instant_ms(run.truth["start"]) and times[-1] <= instant_ms(run.truth["end"])


def test_instants_are_local_time_with_milliseconds(run):
    for _topic, _key, value in run.records:
        for field in ("ts", "expires_at"):
            if field in value:
                assert INSTANT.match(value[field]), value[field]


def test_every_topic_is_fed_and_counted(run):
    counts = Counter(r.topic for r in run.records)
    assert set(counts) == set(MODELS)
    assert dict(counts) == run.truth["counts"]
    assert counts["checkpoints"] == 10 and counts["watchlist"] == 8


def test_ids_are_unique(run):
    passes = [v["pass_id"] for t, _, v in run.records if t == "checkpoint-passes"]
    received = [v["alarm_id"] for t, _, v in run.records if t == "alarms" and v["status"] == "received"]
    assert len(passes) == len(set(passes)) and len(received) == len(set(received))


def test_every_unit_type_and_status_occurs(run_all):
    pings = [v for t, _, v in run_all.records if t == "patrol-gps"]
    assert {p["unit_type"] for p in pings} == {"police_car", "foot_patrol", "motorcycle", "security_guard", "grid_worker"}
    assert {p["status"] for p in pings} == {"available", "dispatched", "on_scene", "off_duty"}
    statuses = {v["status"] for t, _, v in run_all.records if t == "alarms"}
    assert statuses == {"received", "dispatched", "arrived", "closed", "cancelled"}


def test_the_truth_names_every_injected_type(run_all):
    kinds = Counter(e["type"] for e in run_all.truth["injections"])
    assert set(kinds) == set(INJECTION_TYPES)
    assert run_all.truth["skipped"] == []

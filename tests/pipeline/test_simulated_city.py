"""The simulated city end to end: every injected situation appears exactly once (one event_id),
and a control run without injections produces none of the injected kinds."""

from __future__ import annotations

import io
import json
from collections import defaultdict
from datetime import datetime

import pytest

from sitaware.simulator import load_records, run_simulation
from tests.pipeline.conftest import poll

CORE_KINDS = ("alarm_hotspot", "crowd_gathering", "coverage_gap", "response_overdue",
              "arrival_mismatch", "unit_offline")


def _matches(injection: dict, situation: dict) -> bool:
    if injection["type"] != situation["type"]:
        return False
    if injection["type"] in ("alarm_hotspot", "crowd_gathering"):
        return situation["cell"] == injection["cell"] and \
            datetime.fromisoformat(situation["event_time"]) == datetime.fromisoformat(injection["event_time"])
    if injection["type"] == "unit_offline":
        return situation["subject"] == injection["unit_id"]
    if injection["type"] == "arrival_mismatch":
        return situation["subject"] == injection["alarm_id"] and injection["unit_id"] in situation["evidence"]
    return situation["subject"] == injection["alarm_id"]


def _situations_by_id(feed) -> dict[str, dict]:
    return {s["event_id"]: s for s in (json.loads(r.value) for r in feed.read_all("situations"))}


@pytest.mark.parametrize("scenario", ["core", "none"])
def test_simulated_city_matches_ground_truth(scenario, run_settings, worker_factory, feed, tmp_path):
    # A feed is released as idle after 10 s without records: long enough that a partition
    # the loaded worker has not reached yet is not mistaken for an idle one.
    settings = run_settings.model_copy(update={"feed_idle_s": 10.0})
    worker = worker_factory(settings)
    truth = run_simulation(settings, seed=11, speed=0, duration="30m", scenario=scenario,
                           scale="small", output_dir=tmp_path / "records", progress=io.StringIO())
    injections = [i for i in truth["injections"] if i["type"] in CORE_KINDS]
    assert (scenario == "none") == (not injections)
    end = datetime.fromisoformat(truth["end"])

    def caught_up():
        health = worker.health() or {}
        stream_time = health.get("stream_time")
        return stream_time and datetime.fromisoformat(stream_time) >= end

    poll(caught_up, timeout=240, message="the worker's stream time to pass the end of the run")

    received = {value["alarm_id"] for topic, _, value in load_records(tmp_path / "records")
                if topic == "alarms" and value["status"] == "received"}

    def all_found():
        # Done when every injection is matched and every received alarm was judged against
        # the fleet (it gets a dispatch_recommendation, a coverage_gap, or both).
        found = _situations_by_id(feed)
        judged = {s["subject"] for s in found.values()
                  if s["type"] in ("dispatch_recommendation", "coverage_gap")}
        done = judged >= received and all(any(_matches(i, s) for s in found.values()) for i in injections)
        return found if done else None

    try:
        found = poll(all_found, timeout=60, message="every injected situation")
    except AssertionError:
        found = _situations_by_id(feed)
        missing = [i for i in injections if not any(_matches(i, s) for s in found.values())]
        missing += sorted(received - {s["subject"] for s in found.values()})
        raise AssertionError(f"missing {missing}; found {sorted((s['type'], s['subject'] or s['cell']) for s in found.values() if s['type'] in CORE_KINDS)}")
    by_type = defaultdict(list)
    for situation in found.values():
        by_type[situation["type"]].append(situation)
    for kind in CORE_KINDS:
        expected = [i for i in injections if i["type"] == kind]
        got = by_type[kind]
        assert len(got) == len(expected), (kind, [s["subject"] or s["cell"] for s in got], expected)
        for injection in expected:
            assert sum(_matches(injection, s) for s in got) == 1, injection
    assert by_type["dispatch_recommendation"], "background alarms get recommendations"
    assert worker.alive()

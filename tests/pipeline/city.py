"""Running the simulated city through real workers and checking it against its ground truth."""

from __future__ import annotations

import io
import json
from collections import defaultdict
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sitaware.simulator import load_records, run_simulation
from tests.pipeline.conftest import poll

CORE_KINDS = ("alarm_hotspot", "crowd_gathering", "coverage_gap", "response_overdue",
              "arrival_mismatch", "unit_offline")


def produce_city(settings, records: Path, scenario: str = "core", seed: int = 11) -> dict:
    # A start day of its own: ClickHouse is shared by every run, and aggregate rows are
    # keyed by minute and cell, so two runs on the same day would share rows.
    day = random.Random().randrange(20_000)
    start = datetime(2030, 1, 1, 8, tzinfo=timezone(timedelta(hours=8))) + timedelta(days=day)
    return run_simulation(settings, seed=seed, speed=0, duration="30m", scenario=scenario,
                          scale="small", output_dir=records, progress=io.StringIO(), start=start)


def matches(injection: dict, situation: dict) -> bool:
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


def situation_records(feed) -> list[dict]:
    return [json.loads(r.value) for r in feed.read_all("situations")]


def by_id(feed) -> dict[str, dict]:
    return {s["event_id"]: s for s in situation_records(feed)}


def wait_for_city(feed, worker, truth: dict, records: Path) -> dict[str, dict]:
    """Wait until the worker has judged the whole run; return the situations by event_id."""
    injections = [i for i in truth["injections"] if i["type"] in CORE_KINDS]
    end = datetime.fromisoformat(truth["end"])

    def caught_up():
        stream_time = (worker.health() or {}).get("stream_time")
        return stream_time and datetime.fromisoformat(stream_time) >= end

    poll(caught_up, timeout=240, message="the worker's stream time to pass the end of the run")
    received = {value["alarm_id"] for topic, _, value in load_records(records)
                if topic == "alarms" and value["status"] == "received"}

    def all_found():
        # Done when every injection is matched and every received alarm was judged against
        # the fleet (it gets a dispatch_recommendation, a coverage_gap, or both).
        found = by_id(feed)
        judged = {s["subject"] for s in found.values()
                  if s["type"] in ("dispatch_recommendation", "coverage_gap")}
        done = judged >= received and all(any(matches(i, s) for s in found.values()) for i in injections)
        return found if done else None

    try:
        return poll(all_found, timeout=60, message="every injected situation")
    except AssertionError:
        found = by_id(feed)
        missing = [i for i in injections if not any(matches(i, s) for s in found.values())]
        missing += sorted(received - {s["subject"] for s in found.values()})
        kinds = sorted((s["type"], s["subject"] or s["cell"]) for s in found.values() if s["type"] in CORE_KINDS)
        raise AssertionError(f"missing {missing}; found {kinds}") from None


def assert_matches_truth(found: dict[str, dict], truth: dict) -> None:
    """Each injected situation exactly once (one event_id); no other of the injected kinds."""
    injections = [i for i in truth["injections"] if i["type"] in CORE_KINDS]
    grouped = defaultdict(list)
    for situation in found.values():
        grouped[situation["type"]].append(situation)
    for kind in CORE_KINDS:
        expected = [i for i in injections if i["type"] == kind]
        got = grouped[kind]
        assert len(got) == len(expected), (kind, [s["subject"] or s["cell"] for s in got], expected)
        for injection in expected:
            assert sum(matches(injection, s) for s in got) == 1, injection
    assert grouped["dispatch_recommendation"], "background alarms get recommendations"


# A known, intermittent defect (issue 3): during a fast replay of the whole feed the
# `arrived` record forwarded to the unit agent can reach it after the unit's track has moved
# on, and the injected arrival_mismatch is then missed. Tests that need it are marked with
# this until the internal hops carry watermarks; a pass shows as XPASS.
ARRIVAL_MISMATCH_FLAKY = dict(
    reason="known intermittent defect (issue 3): arrival_mismatch can be missed when the "
    "forwarded `arrived` record trails the unit's pings during a fast replay",
    strict=False,
)

"""Running the simulated city through real workers and checking it against its ground truth."""

from __future__ import annotations

import io
import json
import random
import re
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sitaware.simulator import load_records, run_simulation
from tests.conftest import writer_client
from tests.pipeline.conftest import poll
from topics.districts import Districts
from topics.geo import geohash, haversine_km

CORE_KINDS = ("alarm_hotspot", "crowd_gathering", "coverage_gap", "response_overdue",
              "arrival_mismatch", "unit_offline")
CHECKPOINT_KINDS = ("watchlist_hit", "suspect_near_incident", "cloned_plate", "flow_anomaly")
INJECTED_KINDS = CORE_KINDS + CHECKPOINT_KINDS


def city_start() -> datetime:
    """A start day of its own: ClickHouse is shared by every run, and aggregate rows are keyed
    by minute and cell, so two runs on the same day would share rows. In the past: the worker
    refuses records stamped ahead of its clock (SITAWARE_MAX_AHEAD_S)."""
    day = random.Random().randrange(18_000)
    return datetime(1975, 1, 1, 8, tzinfo=timezone(timedelta(hours=8))) + timedelta(days=day)


def produce_city(settings, records: Path, scenario: str = "core", seed: int = 11, speed: float = 0,
                 duration: str = "30m", start: datetime | None = None) -> dict:
    start = start or city_start()
    return run_simulation(settings, seed=seed, speed=speed, duration=duration, scenario=scenario,
                          scale="small", output_dir=records, progress=io.StringIO(), start=start)


def matches(injection: dict, situation: dict) -> bool:
    """Does the situation match the injection on the keys the ground truth names (`match`)?"""
    for field in injection["match"]:
        expected = injection[field]
        if field in ("type", "cell"):
            ok = situation[field] == expected
        elif field in ("event_time", "window_start"):
            ok = situation.get(field) is not None and \
                datetime.fromisoformat(situation[field]) == datetime.fromisoformat(expected)
        elif field == "pass_ids":
            ok = set(expected) <= set(situation["evidence"])
        else:  # an id: the situation's subject or one of its evidence ids
            ok = situation["subject"] == expected or expected in situation["evidence"]
        if not ok:
            return False
    return True


def expected_arrivals(records: Path, radius_km: float = 0.15) -> set[tuple[str, str]]:
    """(alarm_id, unit_id) pairs with an `arrival_detected` per docs/surface.md, recomputed from
    the produced records: the unit assigned (dispatched / arrived record or a ping naming
    the alarm) later sends a ping within `radius_km` of the alarm's site."""
    sites, since, pings = {}, {}, defaultdict(list)
    for topic, _, value in load_records(records):
        if topic == "alarms" and value["status"] == "received":
            sites[value["alarm_id"]] = (value["lat"], value["lon"])
        if topic == "alarms" and value["status"] in ("dispatched", "arrived") or \
                topic == "patrol-gps" and value.get("alarm_id"):
            pair, ts = (value["alarm_id"], value["unit_id"]), datetime.fromisoformat(value["ts"])
            since[pair] = min(since.get(pair, ts), ts)
        if topic == "patrol-gps":
            pings[value["unit_id"]].append((datetime.fromisoformat(value["ts"]), value["lat"], value["lon"]))
    return {(alarm_id, unit_id) for (alarm_id, unit_id), start in since.items() if alarm_id in sites
            and any(ts >= start and haversine_km(lat, lon, *sites[alarm_id]) <= radius_km
                    for ts, lat, lon in pings[unit_id])}


def detected_arrivals(found: dict[str, dict]) -> set[tuple[str, str]]:
    return {tuple(s["evidence"][:2]) for s in found.values() if s["type"] == "arrival_detected"}


def arrivals_in_lifecycle(snapshot: dict, found: dict[str, dict]) -> bool:
    """Has every detected arrival reached `alarm_lifecycle` (its alarm's arrived_at at or
    before it)? The unit agent's arrival signal reaches the alarm agent through an internal
    topic, after the arrival_detected situation itself."""
    arrived = {row[0]: row[2] for row in snapshot["lifecycle"]}
    for s in found.values():
        if s["type"] == "arrival_detected":
            at = arrived.get(s["evidence"][0])
            if at is None or at > datetime.fromisoformat(s["event_time"]):
                return False
    return True


def situation_records(feed) -> list[dict]:
    return [json.loads(r.value) for r in feed.read_all("situations")]


def by_id(feed) -> dict[str, dict]:
    return {s["event_id"]: s for s in situation_records(feed)}


def wait_stream_time(worker, mark: datetime, timeout: float) -> float:
    """Wait until the worker's stream time passes `mark`; return the seconds it took."""
    started = time.monotonic()

    def passed():
        stream_time = (worker.health() or {}).get("stream_time")
        return stream_time is not None and datetime.fromisoformat(stream_time) >= mark

    try:
        poll(passed, timeout=timeout, interval=1.0, message=f"the worker's stream time to pass {mark}")
    except AssertionError:
        raise AssertionError(f"stream time did not pass {mark}; the worker's view: {worker.health()}") from None
    return time.monotonic() - started


def wait_for_city(feed, worker, truth: dict, records: Path, timeout: float = 300) -> dict[str, dict]:
    """Wait until the worker has judged the whole run; return the situations by event_id.
    `timeout`: for the last situations once stream time has passed the end of the run — the
    sector and unit agents work through internal topics that trail the feeds, and on a loaded
    machine they may need minutes more."""
    injections = [i for i in truth["injections"] if i["type"] in INJECTED_KINDS]
    wait_stream_time(worker, datetime.fromisoformat(truth["end"]), timeout=600)
    received = {value["alarm_id"] for topic, _, value in load_records(records)
                if topic == "alarms" and value["status"] == "received"}

    arrivals = expected_arrivals(records)

    def all_found():
        # Done when every injection is matched, every received alarm was judged against the
        # fleet (it gets a dispatch_recommendation, a coverage_gap, or both), and every
        # arrival the positions show was detected (the unit agent may trail the others).
        found = by_id(feed)
        judged = {s["subject"] for s in found.values()
                  if s["type"] in ("dispatch_recommendation", "coverage_gap")}
        done = judged >= received and detected_arrivals(found) >= arrivals and \
            all(any(matches(i, s) for s in found.values()) for i in injections)
        return found if done else None

    try:
        return poll(all_found, timeout=timeout, message="every injected situation")
    except AssertionError:
        found = by_id(feed)
        missing = [i for i in injections if not any(matches(i, s) for s in found.values())]
        missing += sorted(received - {s["subject"] for s in found.values()})
        missing += sorted(arrivals - detected_arrivals(found))
        kinds = sorted((s["type"], s["subject"] or s["cell"]) for s in found.values() if s["type"] in INJECTED_KINDS)
        raise AssertionError(f"missing {missing}; found {kinds}") from None


def assert_matches_truth(found: dict[str, dict], truth: dict) -> None:
    """Each injected situation exactly once (one event_id); no other of the injected kinds."""
    injections = [i for i in truth["injections"] if i["type"] in INJECTED_KINDS]
    grouped = defaultdict(list)
    for situation in found.values():
        grouped[situation["type"]].append(situation)
    for kind in INJECTED_KINDS:
        expected = [i for i in injections if i["type"] == kind]
        got = grouped[kind]
        assert len(got) == len(expected), (kind, [s["subject"] or s["cell"] for s in got], expected)
        for injection in expected:
            assert sum(matches(injection, s) for s in got) == 1, injection
    assert grouped["dispatch_recommendation"], "background alarms get recommendations"


def clickhouse(settings):
    return writer_client(settings)


def expected_flows(records: Path) -> dict[tuple, tuple[int, float]]:
    """(minute, checkpoint_id) -> (passes, average speed) recomputed from the produced passes."""
    sums: dict[tuple, list] = defaultdict(lambda: [0, 0.0, 0])
    for topic, _, p in load_records(records):
        if topic == "checkpoint-passes":
            minute = datetime.fromisoformat(p["ts"]).astimezone(timezone.utc).replace(second=0, microsecond=0)
            entry = sums[(minute, p["checkpoint_id"])]
            entry[0] += 1
            if p.get("speed_kmh") is not None:
                entry[1] += p["speed_kmh"]
                entry[2] += 1
    return {k: (n, s / c if c else 0.0) for k, (n, s, c) in sums.items()}


def assert_flows_exact(settings, records: Path) -> None:
    """`checkpoint_flow_1m` read with FINAL equals the produced passes, minute by minute."""
    expected = expected_flows(records)
    checkpoints = tuple(sorted({cp for _, cp in expected}))
    first, last = min(m for m, _ in expected), max(m for m, _ in expected)
    client = clickhouse(settings)

    def read():
        rows = client.execute(
            "SELECT minute, checkpoint_id, passes, avg_speed_kmh FROM checkpoint_flow_1m FINAL "
            "WHERE checkpoint_id IN %(cps)s AND minute BETWEEN %(first)s AND %(last)s",
            {"cps": checkpoints, "first": first.replace(tzinfo=None), "last": last.replace(tzinfo=None)})
        got = {(m.astimezone(timezone.utc), cp): (n, speed) for m, cp, n, speed in rows}
        return got if {k: n for k, (n, _) in got.items()} == {k: n for k, (n, _) in expected.items()} else None

    got = poll(read, timeout=120, message="checkpoint_flow_1m FINAL equal to the produced passes")
    for key, (_, speed) in expected.items():
        assert abs(got[key][1] - speed) < 1e-6, key


def assert_no_personal_data(settings, records: Path) -> None:
    """Scan every String column of every table: no clear plate and no caller phone of the run."""
    secrets = set()
    for topic, _, value in load_records(records):
        if topic in ("checkpoint-passes", "watchlist") and value:
            secrets |= {value["plate"], value["plate"].upper()}
        elif topic == "alarms" and value.get("caller_phone"):
            secrets.add(value["caller_phone"])
    assert secrets, "the run produced plates and phones to look for"
    client = clickhouse(settings)
    columns = client.execute(
        "SELECT table, name FROM system.columns WHERE database = %(db)s AND type LIKE '%%String%%'",
        {"db": settings.clickhouse_database})
    assert {t for t, _ in columns} >= {"situations", "alarm_lifecycle", "checkpoint_flow_1m", "alarm_counts_1m"}
    pattern = re.compile("|".join(re.escape(s) for s in sorted(secrets, key=len, reverse=True)))
    for table, column in columns:
        for (text,) in client.execute(f"SELECT DISTINCT `{column}` FROM `{table}`"):
            assert not pattern.search(text), f"{table}.{column} holds personal data"


def expected_alarm_counts(records, settings) -> Counter:
    """(minute, cell, district, category, priority) -> received alarms, from the produced records."""
    districts = Districts.from_geojson(settings.districts_file)
    counts = Counter()
    for topic, _, a in load_records(records):
        if topic == "alarms" and a["status"] == "received":
            minute = datetime.fromisoformat(a["ts"]).astimezone(timezone.utc).replace(second=0, microsecond=0)
            cell = geohash(a["lat"], a["lon"])
            district = a.get("district") or districts.district_of(a["lat"], a["lon"]) or ""
            counts[(minute, cell, district, a["category"], a["priority"])] += 1
    return counts


def alarm_snapshot(client, cells: list[str], alarm_ids: list[str], minutes: tuple) -> dict:
    """alarm_counts_1m and alarm_lifecycle as read with FINAL, limited to one run's keys."""
    params = {"cells": tuple(cells), "ids": tuple(alarm_ids),
              "first": minutes[0].replace(tzinfo=None), "last": minutes[1].replace(tzinfo=None)}
    where = "cell IN %(cells)s AND minute BETWEEN %(first)s AND %(last)s"
    counts = client.execute(
        "SELECT minute, cell, district, category, priority, alarms FROM alarm_counts_1m FINAL "
        f"WHERE {where}", params)
    lifecycle = client.execute(
        "SELECT alarm_id, dispatched_at, arrived_at, closed_at, first_unit_id, response_s, version "
        "FROM alarm_lifecycle FINAL WHERE alarm_id IN %(ids)s", params)
    return {
        "counts": {(m.astimezone(timezone.utc), c, d, k, p): n for m, c, d, k, p, n in counts},
        "lifecycle": sorted(lifecycle),
    }


def city_rows(settings, records):
    """The run's expected alarm counts, and a function reading its ClickHouse snapshot."""
    alarm_ids = sorted({a["alarm_id"] for t, _, a in load_records(records) if t == "alarms"})
    expected = expected_alarm_counts(records, settings)
    cells = sorted({key[1] for key in expected})
    minutes = (min(key[0] for key in expected), max(key[0] for key in expected))
    return expected, (lambda client: alarm_snapshot(client, cells, alarm_ids, minutes))

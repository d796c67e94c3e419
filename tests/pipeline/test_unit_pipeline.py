"""End to end on the real stack: patrol GPS and alarms → arrivals, mismatches, silent units,
an overdue alarm prevented by a detected arrival, and exact `unit_presence_1m`."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import datetime, timedelta, timezone

from tests.pipeline.conftest import poll
from tests.pipeline.test_alarm_pipeline import BASE, _alarm, _reader
from topics.geo import geohash

KM_LAT = 1 / 111.2  # degrees of latitude per km


def _ping(unit_id, minutes, lat, lon, unit_type="police_car", status="available", **extra):
    return {"unit_id": unit_id, "ts": (BASE + timedelta(minutes=minutes)).isoformat(),
            "lat": lat, "lon": lon, "unit_type": unit_type, "status": status, **extra}


def test_units_arrivals_offline_and_presence(run_settings, worker_factory, feed):
    lat, lon = 31.05 + random.random() * 0.3, 121.25 + random.random() * 0.3
    site = (lat, lon)
    far = (lat + 2 * KM_LAT, lon)
    pings = []
    # U1 drives from 2 km away to the alarm (arrives at minute 4), then stays on scene.
    for step in range(0, 31):
        m = step * 0.5
        frac = min(1.0, max(0.0, (m - 1.5) / 2.5))
        status = "available" if m < 1.5 else ("dispatched" if frac < 1 else "on_scene")
        pings.append(_ping("U1", m, far[0] + (site[0] - far[0]) * frac, lon, status=status,
                           **({"alarm_id": "A1"} if m >= 1.5 else {})))
    # U2, a grid worker, goes silent after minute 2 (not off duty): one unit_offline.
    pings += [_ping("U2", m, lat + 0.001, lon + 0.001, unit_type="grid_worker") for m in (0, 0.5, 1, 1.5, 2)]
    # U3 reports arrival at A2 while its pings stay 2 km away: one arrival_mismatch.
    pings += [_ping("U3", m * 0.5, far[0], lon + 0.01, status="dispatched") for m in range(0, 31)]
    alarms = [
        _alarm("A1", 1, *site, priority=2),
        {"alarm_id": "A1", "status": "dispatched", "ts": (BASE + timedelta(minutes=1.5)).isoformat(), "unit_id": "U1"},
        _alarm("A2", 1, lat, lon + 0.01, priority=3),
        {"alarm_id": "A2", "status": "dispatched", "ts": (BASE + timedelta(minutes=2)).isoformat(), "unit_id": "U3"},
        {"alarm_id": "A2", "status": "arrived", "ts": (BASE + timedelta(minutes=6)).isoformat(), "unit_id": "U3"},
    ]
    worker_factory()
    for record in sorted(alarms + pings, key=lambda r: datetime.fromisoformat(r["ts"])):
        topic, key = ("patrol-gps", record["unit_id"]) if "unit_type" in record else ("alarms", record["alarm_id"])
        feed.send(topic, key, record)
    feed.flush()

    def situations():
        found = defaultdict(list)
        for r in feed.read_all("situations"):
            s = json.loads(r.value)
            found[s["type"]].append(s)
        ready = all(found[t] for t in ("arrival_detected", "arrival_mismatch", "unit_offline"))
        return found if ready else None

    found = poll(situations, timeout=90, message="arrival, mismatch and offline situations")
    assert len(feed.read_all("late-events")) == 0
    arrivals = {s["event_id"]: s for s in found["arrival_detected"]}
    assert [(s["subject"], s["evidence"][:2]) for s in arrivals.values()] == [("U1", ["A1", "U1"])] or \
        [s["evidence"][0] for s in arrivals.values()] == ["A1"]
    arrival = next(iter(arrivals.values()))
    assert arrival["metrics"]["response_s"] == 180.0
    assert {s["event_id"] for s in found["arrival_mismatch"]} and all(
        "A2" in s["evidence"] for s in found["arrival_mismatch"])
    assert len({s["event_id"] for s in found["arrival_mismatch"]}) == 1
    offline = {s["event_id"]: s for s in found["unit_offline"]}
    assert [s["subject"] for s in offline.values()] == ["U2"]
    # A1 had a detected arrival within its SLA: never overdue. (A2's report was in time too.)
    assert not [s for s in found["response_overdue"] if s["subject"] == "A1"]

    expected = defaultdict(set)
    for p in pings:
        minute = datetime.fromisoformat(p["ts"]).replace(second=0, microsecond=0)
        expected[(minute, geohash(p["lat"], p["lon"]), p["unit_type"], p["status"])].add(p["unit_id"])
    cells = sorted({k[1] for k in expected})
    query = ("SELECT minute, cell, unit_type, status, units FROM unit_presence_1m FINAL "
             "WHERE cell IN %(cells)s AND minute >= %(start)s AND minute < %(end)s")

    def presence():
        rows = _reader(run_settings).execute(query, {
            "cells": tuple(cells), "start": BASE.replace(tzinfo=None),
            "end": (BASE + timedelta(minutes=20)).replace(tzinfo=None)})
        got = {(m.astimezone(timezone.utc), c, t, s): n for m, c, t, s, n in rows}
        return got if got == {k: len(v) for k, v in expected.items()} else None

    poll(presence, timeout=120, message="exact unit_presence_1m")

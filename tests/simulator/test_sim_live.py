"""The steady live load (sitaware/simulator/live.py): valid contract records, at the scale's
rates, and alarms that can always get a dispatch recommendation. No Kafka: the load is
driven here on a clock of its own."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from sitaware.simulator import SCALES, CityScale
from sitaware.simulator.live import PING_S, LiveCity, live_rates
from topics.geo import haversine_km
from topics.records import Alarm, CheckpointPass, Checkpoint, PatrolPing, WatchlistEntry
from topics.specs import ALARMS, CHECKPOINT_PASSES, CHECKPOINTS, PATROL_GPS, WATCHLIST

SCALE = CityScale("live-test", 600, 30, 1800, 6.0, 40)  # 60 pings/s, 6 passes/s, 0.5 alarms/s
START = datetime(2026, 3, 2, 0, 0, tzinfo=timezone.utc)
MODELS = {PATROL_GPS: PatrolPing, CHECKPOINT_PASSES: CheckpointPass, ALARMS: Alarm}
KEY_FIELD = {PATROL_GPS: "unit_id", CHECKPOINT_PASSES: "checkpoint_id", ALARMS: "alarm_id"}


def drive(city: LiveCity, seconds: float, step: float = 0.5) -> list[tuple[float, str, str, dict]]:
    """The records of `seconds` of live load, as the producer paces them."""
    rates = live_rates(city.scale)
    received_rate = city.scale.alarms_per_hour / 3600
    out, done, t = [], [0, 0, 0], 0.0
    while t < seconds:
        t += step
        due = [int(t * r) - n for r, n in zip((rates[PATROL_GPS], rates[CHECKPOINT_PASSES], received_rate), done)]
        done = [n + d for n, d in zip(done, due)]
        ts = (START + timedelta(seconds=t)).isoformat(timespec="milliseconds")
        out += [(t, *record) for record in city.batch(t, ts, *due)]
    return out


@pytest.fixture(scope="module")
def run():
    city = LiveCity(SCALE, seed=3, tag="T")
    return city, drive(city, 600)


def test_every_record_is_valid_and_the_feeds_come_at_the_scale_rates(run):
    city, records = run
    for topic, key, value in city.reference_records(START):
        model = {CHECKPOINTS: Checkpoint, WATCHLIST: WatchlistEntry}[topic]
        model.model_validate(value)
        assert key == (value["checkpoint_id"] if topic == CHECKPOINTS else value["plate"].upper())
    counts = Counter()
    for _, topic, key, value in records:
        record = MODELS[topic].model_validate(value)
        counts[topic] += 1
        assert getattr(record, KEY_FIELD[topic]) == key
    assert counts[PATROL_GPS] == pytest.approx(600 * SCALE.units / PING_S, rel=0.01)
    assert counts[CHECKPOINT_PASSES] == pytest.approx(600 * 30 * 2 * 6.0 / 60, rel=0.01)
    received = sum(1 for _, t, _, v in records if t == ALARMS and v["status"] == "received")
    assert received == pytest.approx(600 * 0.5, rel=0.05)
    # Every unit pings, every checkpoint is passed, all unit types are there.
    assert len({v["unit_id"] for _, t, _, v in records if t == PATROL_GPS}) == SCALE.units
    assert len({v["checkpoint_id"] for _, t, _, v in records if t == CHECKPOINT_PASSES}) == SCALE.checkpoints
    assert {v["unit_type"] for _, t, _, v in records if t == PATROL_GPS} == {
        "police_car", "foot_patrol", "motorcycle", "security_guard", "grid_worker"}


def test_every_received_alarm_has_an_available_police_unit_fresh_and_near(run):
    _, records = run
    latest: dict[str, tuple[float, dict]] = {}
    for t, topic, _, value in records:
        if topic == PATROL_GPS:
            latest[value["unit_id"]] = (t, value)
        elif topic == ALARMS and value["status"] == "received":
            near = [u for ping_t, u in latest.values()
                    if u["unit_type"] in ("police_car", "foot_patrol", "motorcycle") and u["status"] == "available"
                    and t - ping_t <= 120]
            # Within the recommendation's 10 km, and in fact where the load put it: 1.5 km
            # from the unit's latest ping (plus the ~150 m a car moves between pings).
            nearest = min(haversine_km(u["lat"], u["lon"], value["lat"], value["lon"]) for u in near)
            assert nearest <= 1.7, value["alarm_id"]


def test_lifecycles_arrive_where_the_unit_pings_and_no_plate_passes_twice(run):
    _, records = run
    sites, latest, steps = {}, {}, Counter()
    for _, topic, _, value in records:
        if topic == PATROL_GPS:
            latest[value["unit_id"]] = value
        elif topic == ALARMS:
            steps[value["status"]] += 1
            if value["status"] == "received":
                sites[value["alarm_id"]] = (value["lat"], value["lon"])
            elif value["status"] == "arrived":  # no arrival_mismatch: the unit is there
                ping = latest[value["unit_id"]]
                assert ping["status"] == "on_scene" and ping["alarm_id"] == value["alarm_id"]
                assert haversine_km(ping["lat"], ping["lon"], *sites[value["alarm_id"]]) < 0.15
    assert steps["dispatched"] > 0 and steps["arrived"] > 0 and steps["closed"] > 0
    plates = [v["plate"] for _, t, _, v in records if t == CHECKPOINT_PASSES]
    assert len(set(plates)) == len(plates)  # the pool comes round after 2.4 M passes


def test_the_large_city_scale_is_the_peak_the_bench_offers():
    rates = live_rates(SCALES["metro"])
    assert rates[PATROL_GPS] == 2000 and rates[CHECKPOINT_PASSES] == 2500 and rates[ALARMS] == 40

from __future__ import annotations

import math

import pytest

from streams.situations import dispatch_recommendation
from streams.situations._common import event_id
from streams.situations.dispatch_recommendation import (
    DispatchRecommendationParams,
    recommend_dispatch,
)
from topics.geo import haversine_km

P = DispatchRecommendationParams()


@pytest.fixture
def incident(alarm):
    return alarm("A1", 10, district="黄浦区", caller_phone="13800138000")


@pytest.fixture
def recommend(incident, detected_at):
    def run(positions, params=P, locale="zh-CN", alarm=None):
        return recommend_dispatch(alarm or incident, positions, params, detected_at, locale=locale)

    return run


def test_lists_the_three_nearest_available_police_units(recommend, position, north_of, t, incident):
    units = {"U1": 1.0, "U2": 2.0, "U3": 0.5, "U4": 4.0, "U5": 9.0}
    (rec,) = recommend([position(u, t(9), *north_of(km)) for u, km in units.items()])
    assert rec.evidence == ["A1", "U3", "U1", "U2"]
    assert rec.metrics["candidates"] == 3
    assert rec.metrics["unit_1_distance_km"] == pytest.approx(0.5, abs=1e-3)
    assert rec.metrics["unit_2_eta_min"] == pytest.approx(2.0, abs=0.05)  # 1 km at 30 km/h
    assert set(rec.metrics) == {"candidates"} | {
        f"unit_{i}_{m}" for i in (1, 2, 3) for m in ("distance_km", "eta_min")
    }
    assert (rec.event_time, rec.subject, rec.severity) == (incident.ts, "A1", "info")
    assert (rec.lat, rec.lon) == (incident.lat, incident.lon)
    assert (rec.cell, rec.district) == ("wtw3sj", "黄浦区")
    assert rec.event_id == event_id("dispatch_recommendation", "A1")
    assert rec.model_version == dispatch_recommendation.MODEL_VERSION


def test_freshness_is_two_minutes_before_or_at_the_alarm(recommend, position, north_of, t):
    near = north_of(1.0)
    (rec,) = recommend([
        position("EXACT", t(8), *near),  # exactly 2 min old: fresh
        position("STALE", t(8, ms=-1), *near),  # 2 min + 1 ms: stale
        position("AT", t(10), *near),  # at A.ts: fresh
        position("AFTER", t(10, ms=1), *near),  # after A.ts: never used
    ])
    assert rec.evidence == ["A1", "AT", "EXACT"]


def test_a_ping_after_the_alarm_does_not_refresh_a_stale_unit(recommend, position, north_of, t):
    near = north_of(1.0)
    assert recommend([position("U1", t(7), *near), position("U1", t(10, seconds=5), *near)]) == []


def test_the_latest_ping_decides_status_and_place(recommend, position, north_of, t):
    positions = [
        position("BUSY", t(9), *north_of(0.2)),
        position("BUSY", t(9, seconds=30), *north_of(0.2), status="dispatched"),
        position("MOVED", t(9), *north_of(0.3)),
        position("MOVED", t(9, seconds=30), *north_of(5.0)),
    ]
    (rec,) = recommend(positions)
    assert rec.evidence == ["A1", "MOVED"]
    assert rec.metrics["unit_1_distance_km"] == pytest.approx(5.0, abs=1e-3)


def test_only_available_police_units_count(recommend, position, north_of, t):
    near = north_of(0.5)
    positions = [
        position("GUARD", t(9), *near, unit_type="security_guard"),
        position("GRID", t(9), *near, unit_type="grid_worker"),
        position("OFF", t(9), *near, status="off_duty"),
        position("SCENE", t(9), *near, status="on_scene"),
        position("FOOT", t(9), *north_of(0.6), unit_type="foot_patrol"),
        position("MOTO", t(9), *north_of(0.7), unit_type="motorcycle"),
    ]
    assert recommend(positions)[0].evidence == ["A1", "FOOT", "MOTO"]


def test_radius_is_inclusive(recommend, position, north_of, t, incident):
    far = north_of(9.99)
    exact = haversine_km(incident.lat, incident.lon, *far)
    positions = [position("U1", t(9), *far)]
    assert len(recommend(positions, params=DispatchRecommendationParams(radius_km=exact))) == 1
    smaller = DispatchRecommendationParams(radius_km=math.nextafter(exact, 0))
    assert recommend(positions, params=smaller) == []
    assert len(recommend([position("U1", t(9), *north_of(9.999))])) == 1
    assert recommend([position("U1", t(9), *north_of(10.001))]) == []


def test_equal_distances_order_by_unit_id_whatever_the_input_order(
    recommend, position, north_of, t
):
    positions = [position(u, t(9), *north_of(1.0)) for u in ("U9", "U2", "U5", "U1")]
    first = recommend(positions)
    again = recommend(list(reversed(positions)))
    assert first == again and first[0].evidence == ["A1", "U1", "U2", "U5"]


def test_only_received_alarms_get_a_recommendation(recommend, position, t, alarm):
    dispatched = alarm("A1", 10, "dispatched", unit_id="U1")
    assert recommend([position("U1", t(9))], alarm=dispatched) == []


def test_summary_in_both_locales_without_the_caller_phone(recommend, position, north_of, t):
    positions = [position("U1", t(9), *north_of(1.5)), position("U2", t(9), *north_of(3.0))]
    (zh,), (en,) = recommend(positions), recommend(positions, locale="en")
    assert zh.summary == "警情 A1 建议派遣 U1、U2，最近警力距现场 1.50 公里，预计 3.0 分钟到达。"
    assert en.summary == "For alarm A1, dispatch U1, U2; the nearest is 1.50 km away, about 3.0 minutes."
    assert "13800138000" not in zh.summary + en.summary

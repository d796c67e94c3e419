from __future__ import annotations

import math

import pytest

from streams.situations import coverage_gap
from streams.situations._common import event_id
from streams.situations.coverage_gap import CoverageGapParams, detect_coverage_gap
from topics.geo import haversine_km

P = CoverageGapParams()


@pytest.fixture
def incident(alarm):
    return alarm("A1", 10, priority=1)


@pytest.fixture
def gap(incident, detected_at):
    def run(positions, params=P, locale="zh-CN", alarm=None):
        return detect_coverage_gap(alarm or incident, positions, params, detected_at, locale=locale)

    return run


def test_police_just_inside_three_km_means_no_gap(gap, position, north_of, t):
    assert gap([position("U1", t(9), *north_of(2.999))]) == []


def test_police_just_beyond_three_km_is_a_gap(gap, position, north_of, t, incident):
    (found,) = gap([position("U1", t(9), *north_of(3.001))])
    assert (found.type, found.severity, found.subject) == ("coverage_gap", "high", "A1")
    assert found.metrics["nearest_police_km"] == pytest.approx(3.001, abs=1e-3)
    assert found.metrics["auxiliary_units"] == 0
    assert found.event_id == event_id("coverage_gap", "A1")
    assert found.event_time == incident.ts
    assert found.model_version == coverage_gap.MODEL_VERSION


def test_a_unit_at_exactly_the_radius_covers(gap, position, north_of, t, incident):
    point = north_of(3.0)
    exact = haversine_km(incident.lat, incident.lon, *point)
    positions = [position("U1", t(9), *point)]
    assert gap(positions, params=CoverageGapParams(police_radius_km=exact)) == []
    smaller = CoverageGapParams(police_radius_km=math.nextafter(exact, 0))
    assert len(gap(positions, params=smaller)) == 1


@pytest.mark.parametrize(
    "fields, minutes",
    [
        ({"status": "dispatched"}, 9),
        ({"status": "off_duty"}, 9),
        ({"unit_type": "security_guard"}, 9),
        ({}, 7.99),  # stale: more than 2 min before the alarm
        ({}, 10.01),  # after the alarm
    ],
)
def test_units_that_do_not_cover(gap, position, north_of, t, fields, minutes):
    found = gap([position("U1", t(minutes), *north_of(0.1), **fields)])
    assert len(found) == 1 and "nearest_police_km" not in found[0].metrics


def test_exactly_two_minutes_old_still_covers(gap, position, north_of, t):
    assert gap([position("U1", t(8), *north_of(0.1))]) == []


def test_lists_on_duty_fresh_auxiliary_units_within_one_km(gap, position, north_of, t):
    positions = [
        position("G1", t(9), *north_of(0.9), unit_type="security_guard", status="on_scene"),
        position("W1", t(9), *north_of(0.5), unit_type="grid_worker"),
        position("OFF", t(9), *north_of(0.2), unit_type="grid_worker", status="off_duty"),
        position("FAR", t(9), *north_of(1.001), unit_type="grid_worker"),
        position("OLD", t(7), *north_of(0.3), unit_type="grid_worker"),
    ]
    (found,) = gap(positions)
    assert found.evidence == ["A1", "W1", "G1"]
    assert found.metrics["auxiliary_units"] == 2
    assert found.metrics["auxiliary_1_distance_km"] == pytest.approx(0.5, abs=1e-3)
    assert found.metrics["auxiliary_2_distance_km"] == pytest.approx(0.9, abs=1e-3)


@pytest.mark.parametrize("priority, severity", [(1, "high"), (2, "medium"), (3, "low"), (4, "low")])
def test_severity_follows_priority(gap, alarm, priority, severity):
    assert gap([], alarm=alarm("A1", 10, priority=priority))[0].severity == severity


def test_summary_in_both_locales(gap, position, north_of, t):
    positions = [position("W1", t(9), *north_of(0.5), unit_type="grid_worker")]
    (zh,), (en,) = gap(positions), gap(positions, locale="en")
    assert zh.summary == "警情 A1 现场 3 公里内无可用警力，附近有 1 名辅助力量。"
    assert en.summary == "No available police unit within 3 km of alarm A1; auxiliary units nearby: 1."

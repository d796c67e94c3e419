"""Subscription matching, cooldown and alert ids (streams/alerts.py), without a broker."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from streams.alerts import admit_alert, alert_id, matches
from topics.records import Situation, Subscription

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)


def _situation(event_id="E1", minutes=0.0, **fields) -> Situation:
    base = {"event_id": event_id, "type": "coverage_gap", "severity": "high", "event_time": T0 + timedelta(minutes=minutes),
            "detected_at": T0, "lat": 31.2, "lon": 121.4, "cell": "wtw3s7", "district": "东平区",
            "summary": "s", "model_version": "v"}
    return Situation.model_validate({**base, **fields})


def _subscription(**fields) -> Subscription:
    return Subscription.model_validate({"subscription_id": "S1", "name": "n", "owner": "o", "channel": "kafka", **fields})


@pytest.mark.parametrize("fields, expected", [
    ({}, True),
    ({"types": ["coverage_gap"]}, True),
    ({"types": ["alarm_hotspot"]}, False),
    ({"min_severity": "high"}, True),
    ({"min_severity": "critical"}, False),
    ({"districts": ["东平区"]}, True),
    ({"districts": ["西岭区"]}, False),
    ({"bbox": [121.4, 31.2, 121.5, 31.3]}, True),  # edges included
    ({"bbox": [121.41, 31.2, 121.5, 31.3]}, False),
    ({"enabled": False}, False),
])
def test_matching(fields, expected):
    assert matches(_subscription(**fields), _situation()) is expected


def test_a_situation_without_a_place_never_matches_a_bbox():
    assert not matches(_subscription(bbox=[0, 0, 180, 90]), _situation(lat=None, lon=None))


def test_cooldown_suppresses_repeats_of_a_type_and_cell_in_event_time():
    sub = _subscription(cooldown_s=300)
    state, first, why = admit_alert(None, sub, _situation("E1", 0))
    assert why == "new" and first == alert_id("S1", "E1")
    state, none, why = admit_alert(state, sub, _situation("E2", 4.99))
    assert (none, why) == (None, "cooldown")
    state, _, why = admit_alert(state, sub, _situation("E3", 2, cell="wtw3s8"))  # another cell
    assert why == "new"
    state, _, why = admit_alert(state, sub, _situation("E4", 5))  # exactly the cooldown later
    assert why == "new"


def test_a_repeated_situation_is_the_same_alert():
    sub = _subscription(cooldown_s=0)
    state, first, _ = admit_alert(None, sub, _situation("E1"))
    again, second, why = admit_alert(state, sub, _situation("E1"))
    assert (second, why, again) == (first, "repeat", state)


def test_alert_ids_differ_by_subscription_and_event():
    assert len({alert_id("S1", "E1"), alert_id("S2", "E1"), alert_id("S1", "E2")}) == 3


def test_memory_is_bounded_by_event_time():
    sub = _subscription(cooldown_s=60)
    state = None
    for n in range(200):
        state, _, _ = admit_alert(state, sub, _situation(f"E{n}", minutes=n * 60, cell=f"c{n}"))
    assert len(state.alerts) <= 26 and len(state.alerted) <= 26

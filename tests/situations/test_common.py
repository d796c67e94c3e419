from __future__ import annotations

import re
from datetime import timedelta, timezone

import pytest

import streams.situations as situations
from streams.situations._common import event_id
from streams.situations.dispatch_recommendation import DispatchRecommendationParams
from streams.situations.summaries import TEMPLATES, summarize
from topics.records import SituationType

IDENTIFIER = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
TYPES = [
    "alarm_hotspot", "crowd_gathering", "dispatch_recommendation", "coverage_gap",
    "response_overdue", "arrival_detected", "arrival_mismatch", "unit_offline",
    "watchlist_hit", "suspect_near_incident", "cloned_plate", "flow_anomaly",
]


def test_event_id_is_deterministic_and_a_contract_identifier(t):
    shanghai = timezone(timedelta(hours=8))
    first = event_id("dispatch_recommendation", "A1", t(0))
    assert first == event_id("dispatch_recommendation", "A1", t(0).astimezone(shanghai))
    assert IDENTIFIER.match(first) and first.startswith("dispatch_recommendation:")
    assert first != event_id("dispatch_recommendation", "A1", t(0, ms=1))
    assert event_id("x", "a", "b") != event_id("x", "a|b", "")  # parts are ids: no "|" in them


def test_model_version_follows_the_parameter_values():
    default = DispatchRecommendationParams()
    assert default.model_version == DispatchRecommendationParams(radius_km=10).model_version
    assert default.model_version != DispatchRecommendationParams(radius_km=10.5).model_version
    longer = DispatchRecommendationParams(max_ping_age=timedelta(seconds=121))
    assert default.model_version != longer.model_version
    assert IDENTIFIER.match(default.model_version.replace("/", ".").replace("+", "."))


@pytest.mark.parametrize("module", [getattr(situations, name) for name in TYPES])
def test_every_model_has_a_version_and_a_rule_docstring(module):
    assert module.MODEL_VERSION.startswith(module.__name__.rsplit(".", 1)[1] + "/")
    assert len(module.__doc__) > 300


def test_every_type_has_both_summaries_and_is_a_contract_type():
    assert set(TEMPLATES) == set(TYPES) and set(TYPES) <= set(SituationType.__args__)
    assert all(set(by_locale) == {"zh-CN", "en"} for by_locale in TEMPLATES.values())


def test_unknown_locales_fall_back_to_chinese():
    fields = {"unit_id": "U1", "silence_min": 3}
    assert summarize("unit_offline", "fr", **fields) == summarize("unit_offline", **fields)

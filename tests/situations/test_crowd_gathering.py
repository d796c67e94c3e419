from __future__ import annotations

import pytest

from streams.situations import alarm_hotspot, crowd_gathering
from streams.situations._common import event_id
from streams.situations.crowd_gathering import CellBurst, CrowdGatheringParams, apply_alarm

P = CrowdGatheringParams()


@pytest.fixture
def feed(cell_feed):
    return cell_feed(apply_alarm, P)


def test_three_dispute_or_gathering_alarms_in_ten_minutes_fire(feed, alarm, t):
    state, out = feed([
        alarm("D1", 0, category="dispute"),
        alarm("G1", 4, category="gathering"),
        alarm("D2", 9, category="dispute"),
    ])
    (crowd,) = out
    assert (crowd.type, crowd.severity, crowd.event_time) == ("crowd_gathering", "high", t(9))
    assert crowd.evidence == ["D1", "G1", "D2"]
    assert crowd.event_id == event_id("crowd_gathering", state.cell, t(9))
    assert crowd.model_version == crowd_gathering.MODEL_VERSION != alarm_hotspot.MODEL_VERSION


def test_other_categories_do_not_count_and_are_not_kept(feed, alarm):
    state, out = feed([
        alarm("D1", 0, category="dispute"),
        alarm("T1", 1, category="theft"),
        alarm("V1", 2, category="violent"),
        alarm("G1", 3, category="gathering"),
    ])
    assert out == []
    assert [a.alarm_id for a in state.alarms] == ["D1", "G1"]


def test_an_uncounted_alarm_creates_no_state(feed, alarm):
    assert feed([alarm("T1", 0, category="theft")]) == (None, [])


def test_exactly_ten_minutes_earlier_is_outside(feed, alarm, t):
    _, out = feed([
        alarm("D0", 0, category="dispute"),
        alarm("D1", 5, category="dispute"),
        alarm("D2", 10, category="dispute"),
    ])
    assert out == []
    _, out = feed([
        alarm("D0", ts=t(0, ms=1), category="dispute"),
        alarm("D1", 5, category="dispute"),
        alarm("D2", 10, category="dispute"),
    ])
    assert [s.event_time for s in out] == [t(10)]


def test_duplicate_delivery_keeps_state_and_id(feed, alarm):
    alarms = [alarm(f"D{i}", i, category="dispute") for i in range(3)]
    state, (crowd,) = feed(alarms)
    again, out = feed(alarms[-1:], state)
    assert again == state and [s.event_id for s in out] == [crowd.event_id]


def test_state_round_trips_through_json(feed, alarm):
    state, _ = feed([alarm(f"D{i}", i, category="gathering") for i in range(4)])
    assert CellBurst.model_validate(state.model_dump(mode="json")) == state


def test_summary_in_both_locales(feed, alarm):
    alarms = [alarm(f"D{i}", i, category="dispute") for i in range(3)]
    (_, (zh,)), (_, (en,)) = feed(alarms), feed(alarms, locale="en")
    assert zh.summary == "网格 wtw3sj 在 10 分钟内收到 3 起纠纷或聚集类警情，疑似人员聚集。"
    assert en.summary.startswith("Cell wtw3sj received 3 dispute or gathering alarms within 10 minutes")

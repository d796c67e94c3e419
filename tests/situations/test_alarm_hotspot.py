from __future__ import annotations

from datetime import timedelta

import pytest

from streams.situations import alarm_hotspot
from streams.situations._common import RESEND_RETENTION, alarm_cell, event_id
from streams.situations.alarm_hotspot import AlarmHotspotParams, CellBurst, apply_alarm, prune

P = AlarmHotspotParams()


@pytest.fixture
def feed(cell_feed):
    return cell_feed(apply_alarm, P)


def test_fires_when_the_threshold_is_exactly_met(feed, alarm, t):
    state, out = feed([alarm(f"A{i}", i) for i in range(5)])
    (hotspot,) = out
    assert hotspot.type == "alarm_hotspot"
    assert hotspot.event_time == t(4)
    assert (hotspot.window_start, hotspot.window_end) == (t(4) - timedelta(minutes=15), t(4))
    assert hotspot.evidence == ["A0", "A1", "A2", "A3", "A4"]
    assert hotspot.metrics == {"count": 5.0, "window_min": 15.0}
    assert hotspot.cell == state.cell == "wtw3sj"
    assert hotspot.event_id == event_id("alarm_hotspot", "wtw3sj", t(4))
    assert hotspot.model_version == alarm_hotspot.MODEL_VERSION


def test_one_short_of_the_threshold_is_silent(feed, alarm):
    _, out = feed([alarm(f"A{i}", i) for i in range(4)])
    assert out == []


def test_an_alarm_exactly_one_window_earlier_is_outside(feed, alarm, t):
    # (A.ts - 15 min, A.ts]: the alarm at t0 is not counted for an alarm at t15.
    _, out = feed([alarm("A0", 0), *[alarm(f"A{i}", i) for i in (12, 13, 14)], alarm("A15", 15)])
    assert out == []


def test_an_alarm_one_millisecond_inside_the_window_counts(feed, alarm, t):
    first = alarm("A0", ts=t(0, ms=1))
    _, out = feed([first, *[alarm(f"A{i}", i) for i in (12, 13, 14)], alarm("A15", 15)])
    assert [s.event_time for s in out] == [t(15)]


def test_a_hotspot_suppresses_triggers_whose_interval_contains_it(feed, alarm, t):
    burst = [alarm(f"A{i}", i) for i in range(5)]  # hotspot at t4
    later = [alarm(f"B{i}", i) for i in (15, 16, 17, 18, 19)]
    _, out = feed(burst + later)
    # t18: (t3, t18] holds 5 alarms but also the t4 hotspot. t19: (t4, t19] does not.
    assert [s.event_time for s in out] == [t(4), t(19)]
    assert out[0].event_id != out[1].event_id


def test_out_of_order_alarm_completes_a_later_alarms_window(feed, alarm, t):
    state, out = feed([alarm(f"A{i}", i) for i in (0, 1, 2, 4)])
    assert out == []
    state, out = feed([alarm("A3", 3)], state)
    (hotspot,) = out
    assert hotspot.event_time == t(4)  # A4's interval now holds 5 alarms
    assert hotspot.evidence == ["A0", "A1", "A2", "A3", "A4"]


@pytest.mark.parametrize("order", [(0, 1, 3, 2, 4), (4, 3, 2, 1, 0)])
def test_shuffled_arrival_before_the_trigger_gives_the_in_order_result(feed, alarm, order):
    in_order, expected = feed([alarm(f"A{i}", i) for i in range(5)])
    shuffled, out = feed([alarm(f"A{i}", i) for i in order])
    assert [s.event_id for s in out] == [s.event_id for s in expected]
    assert shuffled.alarms == in_order.alarms


def test_an_earlier_trigger_arriving_after_a_later_hotspot_still_fires(feed, alarm, t):
    # Arrival t0..t3, t5, then t4: t5 fires first; t4's interval (t-11, t4] does not hold
    # t5, so by the rule it is an occurrence too. Deterministic for this arrival order.
    _, out = feed([alarm(f"A{i}", i) for i in (0, 1, 2, 3, 5, 4)])
    assert [s.event_time for s in out] == [t(5), t(4)]


def test_duplicate_delivery_resends_the_same_situation_and_keeps_state(feed, alarm):
    state, (hotspot,) = feed([alarm(f"A{i}", i) for i in range(5)])
    again, out = feed([alarm("A4", 4)], state)
    assert again == state
    assert out == [hotspot]
    again, out = feed([alarm("A0", 0)], state)  # did not cause the hotspot
    assert again == state and out == []


def test_duplicate_of_the_late_alarm_resends_the_hotspot_it_caused(feed, alarm):
    state, _ = feed([alarm(f"A{i}", i) for i in (0, 1, 2, 4)])
    state, (hotspot,) = feed([alarm("A3", 3)], state)
    again, out = feed([alarm("A3", 3)], state)
    assert (again, out) == (state, [hotspot])


def test_late_alarm_is_ignored_and_an_on_time_one_is_not(feed, alarm, t):
    state, _ = feed([alarm("A30", 30)])
    late, _ = feed([alarm("L", ts=t(20, ms=-1))], state)  # more than 10 min behind t30
    assert late == state
    on_time, _ = feed([alarm("O", 20)], state)
    assert [a.alarm_id for a in on_time.alarms] == ["O", "A30"]


def test_state_is_pruned_to_window_plus_lateness(feed, alarm, t):
    alarms = [alarm(f"A{i}", i) for i in range(0, 120, 2)]
    state, out = feed(alarms)
    # watermark t118: keep ts > t118 - 10 - 15 = t93
    assert min(a.ts for a in state.alarms) == t(94)
    assert prune(state, t(118 + 25, ms=-1), P).alarms == state.alarms[-1:]
    # No alarm is left, but what was sent stays as the re-send cache for RESEND_RETENTION:
    # a worker that dies while draining a backlog re-delivers causes many minutes of stream
    # time old, and they must re-send their hotspots.
    quiet = prune(state, t(118 + 25), P)
    assert quiet.alarms == () and quiet.emitted
    cause = next(a for a in alarms if any(e.cause == a.alarm_id for e in quiet.emitted))
    again, resent = feed([cause], quiet)
    assert again == quiet and resent and all(s in out for s in resent)
    assert prune(state, t(118) + RESEND_RETENTION + timedelta(minutes=1), P) is None


def test_state_round_trips_through_json(feed, alarm):
    state, _ = feed([alarm(f"A{i}", i, district="黄浦区") for i in range(6)])
    assert CellBurst.model_validate(state.model_dump(mode="json")) == state


def test_ids_are_the_same_on_a_replay(feed, alarm):
    alarms = [alarm(f"A{i}", i) for i in range(12)]
    _, first = feed(alarms)
    _, second = feed(alarms)
    assert [s.event_id for s in first] == [s.event_id for s in second]
    assert all(len(s.event_id) <= 64 for s in first)


def test_location_is_the_centroid_and_the_most_common_district(feed, alarm, site):
    lats = [site[0] + d for d in (-0.0004, -0.0002, 0, 0.0002, 0.0004)]
    districts = ["徐汇区", "黄浦区", "黄浦区", "徐汇区", "静安区"]
    _, (hotspot,) = feed([alarm(f"A{i}", i, lat=lats[i], district=districts[i]) for i in range(5)])
    assert hotspot.lat == pytest.approx(site[0]) and hotspot.lon == pytest.approx(site[1])
    assert hotspot.district == "徐汇区"  # tie between two districts: the smaller name


def test_other_statuses_are_ignored_and_cells_are_checked(feed, alarm, detected_at):
    state, out = feed([alarm("A0", 0, "dispatched", unit_id="U1")])
    assert (state, out) == (None, [])
    state, _ = feed([alarm("A0", 0)])
    with pytest.raises(ValueError):
        apply_alarm(state, alarm("X", 1, lat=30.0, lon=120.0), P, detected_at)
    assert alarm_cell(alarm("X", 1)) == state.cell


def test_summary_in_both_locales(feed, alarm):
    alarms = [alarm(f"A{i}", i, caller_phone="13800138000") for i in range(5)]
    (_, (zh,)), (_, (en,)) = feed(alarms), feed(alarms, locale="en")
    assert zh.summary == "网格 wtw3sj 在 15 分钟内收到 5 起警情，形成警情热点。"
    assert en.summary == "Cell wtw3sj received 5 alarms within 15 minutes: an alarm hotspot."
    assert zh.event_id == en.event_id and "13800138000" not in zh.summary + en.summary


def test_parameters_change_the_rule_and_its_version(feed, alarm, t):
    params = AlarmHotspotParams(min_alarms=3, window=timedelta(minutes=5))
    _, out = feed([alarm(f"A{i}", i * 2) for i in range(3)], params=params)
    assert [s.event_time for s in out] == [t(4)]
    assert out[0].model_version != alarm_hotspot.MODEL_VERSION

from __future__ import annotations

import pytest

from streams.situations import response_overdue
from streams.situations._common import event_id
from streams.situations.response_overdue import (
    AlarmLifecycle,
    ResponseOverdueParams,
    apply_alarm,
    check_overdue,
    next_deadline,
    note_arrival,
    prune,
)

P = ResponseOverdueParams()


@pytest.fixture
def lifecycle(alarm):
    """lifecycle(*records) -> the AlarmLifecycle after applying them in order (P1 at t0)."""

    def build(*records, state=None):
        for record in records:
            state = apply_alarm(state, record)
        return state

    return build


@pytest.fixture
def records(alarm):
    return {
        "received": alarm("A1", 0, priority=1, district="黄浦区"),
        "dispatched": alarm("A1", 1, "dispatched", unit_id="U7"),
        "arrived": alarm("A1", 4, "arrived", unit_id="U7"),
        "closed": alarm("A1", 30, "closed", disposition="handled"),
    }


@pytest.fixture
def check(detected_at):
    def run(state, stream_time, locale="zh-CN"):
        return check_overdue(state, stream_time, P, detected_at, locale=locale)

    return run


def test_lifecycle_fields_and_versions_in_order(lifecycle, records, t):
    state = None
    for expected_version, record in enumerate(records.values(), start=1):
        state = lifecycle(record, state=state)
        assert state.version == expected_version
    assert state.row() == {
        "alarm_id": "A1", "received_at": t(0), "category": "theft", "priority": 1,
        "district": "黄浦区", "cell": "wtw3sj", "dispatched_at": t(1), "arrived_at": t(4),
        "closed_at": t(30), "first_unit_id": "U7", "response_s": 240.0, "version": 4,
    }


def test_out_of_order_records_give_the_same_lifecycle(lifecycle, records):
    in_order = lifecycle(*records.values())
    shuffled = lifecycle(*(records[k] for k in ("closed", "dispatched", "arrived", "received")))
    assert shuffled.model_copy(update={"version": in_order.version}) == in_order


def test_reapplying_a_record_changes_nothing_and_keeps_the_version(lifecycle, records):
    state = lifecycle(*records.values())
    for record in records.values():
        assert apply_alarm(state, record) is state


def test_the_earliest_dispatch_names_the_first_unit(lifecycle, records, alarm, t):
    state = lifecycle(records["received"], records["dispatched"])
    later = apply_alarm(state, alarm("A1", 2, "dispatched", unit_id="U1"))
    assert later is state  # a later dispatch is no change: no version bump
    earlier = apply_alarm(state, alarm("A1", 0.5, "dispatched", unit_id="U9"))
    assert (earlier.first_unit_id, earlier.dispatched_at) == ("U9", t(0.5))
    assert earlier.version == state.version + 1


def test_detected_arrival_is_an_arrival(lifecycle, records, t):
    state = lifecycle(records["received"])
    arrived = note_arrival(state, "U7", t(3))
    assert (arrived.arrived_at, arrived.response_s) == (t(3), 180.0)
    assert arrived.version == state.version + 1
    assert note_arrival(arrived, "U7", t(3)) is arrived
    assert note_arrival(arrived, "U8", t(3.5)) is arrived  # not earlier: no change


def test_sla_boundary_fires_one_millisecond_after_the_deadline(lifecycle, records, check, t):
    state = lifecycle(records["received"])  # P1: deadline t5
    assert next_deadline(state, P) == t(5)
    assert check(state, t(5)) == (state, [])
    fired, (overdue,) = check(state, t(5, ms=1))
    assert (overdue.type, overdue.severity) == ("response_overdue", "critical")
    assert overdue.event_time == t(5)
    assert overdue.event_id == event_id("response_overdue", "A1")
    assert overdue.model_version == response_overdue.MODEL_VERSION
    assert (overdue.window_start, overdue.window_end, overdue.cell) == (t(0), t(5), "wtw3sj")
    assert next_deadline(fired, P) is None
    assert check(fired, t(6)) == (fired, [])  # once
    assert check(fired, t(5, ms=1)) == (fired, [overdue])  # the same tick again re-sends it
    assert fired.version == state.version  # emitting is not a lifecycle change


@pytest.mark.parametrize(
    "priority, minutes, severity",
    [(1, 5, "critical"), (2, 10, "high"), (3, 20, "medium"), (4, 60, "low")],
)
def test_sla_by_priority(lifecycle, alarm, check, t, priority, minutes, severity):
    state = lifecycle(alarm("A1", 0, priority=priority))
    assert next_deadline(state, P) == t(minutes)
    assert check(state, t(minutes))[1] == []
    assert check(state, t(minutes, ms=1))[1][0].severity == severity


@pytest.mark.parametrize("status", ["closed", "cancelled"])
@pytest.mark.parametrize("minutes, fires", [(4, False), (5, False), (5.001, True)])
def test_closed_or_cancelled_by_the_deadline_is_not_overdue(
    lifecycle, records, alarm, check, t, status, minutes, fires
):
    state = lifecycle(records["received"], alarm("A1", minutes, status))
    assert bool(check(state, t(6))[1]) is fires


@pytest.mark.parametrize("minutes, fires", [(4.9, False), (5, False), (5.001, True)])
def test_detected_arrival_by_the_deadline_prevents_overdue(
    lifecycle, records, check, t, minutes, fires
):
    state = note_arrival(lifecycle(records["received"]), "U7", t(minutes))
    assert bool(check(state, t(6))[1]) is fires


def test_reported_arrival_prevents_overdue(lifecycle, records, check, t):
    state = lifecycle(records["received"], records["arrived"])
    assert next_deadline(state, P) is None and check(state, t(60))[1] == []


def test_no_received_record_no_deadline(lifecycle, records, check, t):
    state = lifecycle(records["dispatched"])
    assert next_deadline(state, P) is None and check(state, t(60)) == (state, [])


def test_state_round_trips_through_json(lifecycle, records, check, t):
    fired, _ = check(lifecycle(records["received"], records["dispatched"]), t(6))
    assert AlarmLifecycle.model_validate(fired.model_dump(mode="json")) == fired


def test_prune_after_close_or_long_silence(lifecycle, records, t):
    closed = lifecycle(*records.values())
    assert prune(closed, t(89, ms=999), P) is closed
    assert prune(closed, t(90), P) is None
    open_ = lifecycle(records["received"], records["dispatched"])
    assert prune(open_, t(1 + 24 * 60, ms=-1), P) is open_
    assert prune(open_, t(1 + 24 * 60), P) is None


def test_site_for_the_unit_models(lifecycle, records, t):
    assert lifecycle(records["dispatched"]).site() is None
    site = lifecycle(records["received"]).site()
    assert (site.alarm_id, site.ts, site.district) == ("A1", t(0), "黄浦区")


def test_summary_in_both_locales(lifecycle, records, check, t):
    state = lifecycle(records["received"])
    (zh,), (en,) = check(state, t(6))[1], check(state, t(6), locale="en")[1]
    assert zh.summary == "1 级警情 A1 超过 5 分钟响应时限仍无警力到场。"
    assert en.summary == "Priority 1 alarm A1 has no unit on scene after its 5-minute limit."

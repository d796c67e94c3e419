from __future__ import annotations

from datetime import timedelta

import pytest

from streams.situations import flow_anomaly
from streams.situations._common import event_id
from streams.situations.flow_anomaly import (
    CheckpointFlow,
    FlowAnomalyParams,
    close_windows,
    count_pass,
    window_start,
)
from topics.records import Checkpoint

F = FlowAnomalyParams()
WINDOW = timedelta(minutes=5)
GRACE = timedelta(seconds=60)


@pytest.fixture
def checkpoint(site) -> Checkpoint:
    return Checkpoint(checkpoint_id="CP-1", name="Renmin Rd", lat=site[0], lon=site[1],
                      district="Huangpu")


@pytest.fixture
def w(t):
    """w(k) -> start of the k-th 5-minute window from T0 (T0 is epoch-aligned)."""
    return lambda k: t(0) + k * WINDOW


@pytest.fixture
def count(w):
    """count(state, k, n) -> state with n more passes spread over window k."""

    def add(state, k, n):
        for i in range(n):
            state, counted = count_pass(state, "CP-1", w(k) + WINDOW * i / n, F)
            assert counted
        return state

    return add


@pytest.fixture
def close(checkpoint, detected_at):
    def run(state, watermark, params=F, locale="zh-CN"):
        return close_windows(state, watermark, checkpoint, params, detected_at, locale=locale)

    return run


@pytest.fixture
def flow(count, close, w):
    """flow(counts) -> (state, situations): window k gets counts[k] passes, and is closed
    (watermark = its end + grace) before the next window's passes."""

    def run(counts, **kwargs):
        state, out = None, []
        for k, n in enumerate(counts):
            state = count(state, k, n)
            state, found = close(state, w(k + 1) + GRACE, **kwargs)
            out += found
        return state, out

    return run


def test_windows_are_aligned_to_the_epoch(t):
    assert window_start(t(7, seconds=30), WINDOW) == t(5)
    assert window_start(t(5), WINDOW) == t(5)
    assert window_start(t(5, ms=-1), WINDOW) == t(0)


def test_a_spike_after_three_baseline_windows(flow, w, checkpoint):
    state, (spike,) = flow([30, 30, 30, 30, 120])
    assert (spike.type, spike.severity, spike.subject) == ("flow_anomaly", "high", "CP-1")
    assert spike.event_id == event_id("flow_anomaly", "CP-1", w(4))
    assert (spike.window_start, spike.window_end, spike.event_time) == (w(4), w(5), w(5))
    assert (spike.lat, spike.lon, spike.district) == (checkpoint.lat, checkpoint.lon, "Huangpu")
    assert spike.evidence == ["CP-1"]
    assert spike.metrics == {"count": 120.0, "baseline_median": 30.0, "baseline_mad": 0.0,
                             "z": 16.43, "deviation": 90.0}
    assert spike.model_version == flow_anomaly.MODEL_VERSION
    assert state.baseline == (30, 30, 30, 120) and state.last_closed == w(4) and state.open == ()


def test_no_judgement_before_three_baseline_windows(flow):
    state, out = flow([30, 30, 30, 200])
    assert out == [] and state.baseline == (30, 30, 200)


def test_the_first_window_never_joins_the_baseline(flow):
    # Counted, the first window would make three baseline windows and 50 a spike.
    state, out = flow([5, 10, 10, 50])
    assert out == [] and state.baseline == (10, 10, 50)


@pytest.mark.parametrize("spike, found", [(45, 1), (44, 0)])
def test_exactly_z_four_and_twenty_passes_is_an_anomaly(flow, spike, found):
    # Median 25, MAD 0: sigma = sqrt(25) = 5, so 45 is z = 4.0 and 20 passes off.
    _, out = flow([25, 25, 25, 25, spike])
    assert len(out) == found
    if found:
        metrics = out[0].metrics
        assert (metrics["z"], metrics["deviation"], out[0].severity) == (4.0, 20.0, "medium")


@pytest.mark.parametrize("spike, found", [(80, 1), (79, 0)])
def test_spread_baselines_need_a_larger_deviation(flow, spike, found):
    # Median 20, MAD 10: sigma = 1.4826 x 10; 80 is z 4.05, 79 is z 3.98.
    assert len(flow([1, 10, 20, 30, spike])[1]) == found


@pytest.mark.parametrize("spike, found", [(19, 0), (20, 1)])
def test_fewer_than_twenty_passes_off_is_never_an_anomaly(flow, spike, found):
    # Baseline of silent windows: sigma = 1, so 19 passes is z = 19.
    _, out = flow([1, 0, 0, 0, spike])
    assert len(out) == found
    if found:
        assert (out[0].metrics["z"], out[0].severity) == (20.0, "high")


@pytest.mark.parametrize("spike, severity", [(220, "high"), (219, "medium")])
def test_high_from_three_times_the_z_threshold(flow, spike, severity):
    assert flow([100, 100, 100, 100, spike])[1][0].severity == severity


@pytest.mark.parametrize("drop", [20, 0])
def test_drops_are_anomalies_too(flow, drop):
    _, (found,) = flow([60, 60, 60, 60, 60, drop])
    assert found.metrics["deviation"] == drop - 60 and found.metrics["z"] < -4
    assert found.metrics["count"] == drop


def test_silent_windows_join_the_baseline_as_zeros(count, close, w):
    state = count(count(None, 0, 1), 4, 20)
    state, (spike,) = close(state, w(5) + GRACE)  # closes windows 0..4 at once
    assert spike.window_start == w(4) and spike.metrics["baseline_median"] == 0
    assert state.baseline == (0, 0, 0, 20)


def test_a_window_closes_exactly_at_its_end_plus_grace(count, close, w):
    state = count(None, 0, 3)
    assert close(state, w(1) + GRACE - timedelta(milliseconds=1)) == (state, [])
    closed, _ = close(state, w(1) + GRACE)
    assert closed.last_closed == w(0) and closed.open == ()


def test_a_pass_to_a_closed_window_is_not_counted(count, close, w):
    state, _ = close(count(None, 0, 3), w(2) + GRACE)
    assert count_pass(state, "CP-1", w(2) - timedelta(milliseconds=1), F) == (state, False)
    later, counted = count_pass(state, "CP-1", w(2), F)
    assert counted and [(o.start, o.count) for o in later.open] == [(w(2), 1)]


def test_closing_again_changes_nothing(flow, close, w):
    state, out = flow([30, 30, 30, 30, 120])
    assert len(out) == 1
    assert close(state, w(5) + GRACE) == (state, [])
    assert close(state, w(3)) == (state, [])


def test_the_state_survives_the_table_as_json(flow, count, w):
    state, _ = flow([30, 30, 30])
    state = count(state, 3, 4)
    assert CheckpointFlow.model_validate(state.model_dump(mode="json")) == state


def test_an_early_pass_before_anything_closed_moves_the_first_window(w):
    state, _ = count_pass(None, "CP-1", w(3), F)
    state, _ = count_pass(state, "CP-1", w(2), F)
    assert state.first_window == w(2)


def test_no_state_or_no_pass_yet_closes_nothing(close, t):
    assert close(None, t(60)) == (None, [])
    empty = CheckpointFlow(checkpoint_id="CP-1")
    assert close(empty, t(60)) == (empty, [])


def test_a_checkpoint_silent_for_days_costs_nothing_and_drops_as_window_by_window(flow, close, w):
    state, _ = flow([60, 60, 60, 60, 60])
    # Window by window, a camera going dark is a drop until zeros outweigh the baseline.
    stepwise, drops = state, []
    for k in range(5, 40):
        stepwise, found = close(stepwise, w(k + 1) + GRACE)
        drops += found
    assert [d.window_start for d in drops] == [w(5), w(6), w(7), w(8)]
    # In one go over 30 days: the same drops, zero windows beyond a baseline's worth skipped.
    at_once, found = close(state, w(5) + timedelta(days=30))
    assert found == drops
    assert at_once.baseline == (0,) * 12 and at_once.open == ()
    assert at_once.last_closed == window_start(w(5) + timedelta(days=30) - GRACE - WINDOW, WINDOW)


def test_summary_in_both_locales(flow):
    (zh,), (en,) = flow([25, 25, 25, 25, 45])[1], flow([25, 25, 25, 25, 45], locale="en")[1]
    assert zh.summary == "卡口 CP-1 在 5 分钟内通过 45 辆车，近期基线为 25 辆，流量异常。"
    assert en.summary == (
        "Checkpoint CP-1 counted 45 passes in 5 minutes against a recent baseline of 25: "
        "a flow anomaly."
    )

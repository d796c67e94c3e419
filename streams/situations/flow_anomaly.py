"""`flow_anomaly`: a checkpoint's 5-minute pass count far off its own recent level.

Rule (docs/surface.md, Output topic "situations"): the checkpoint's pass count in a `window` [5 min] tumbling window
(aligned to multiples of 5 min since the Unix epoch, UTC) deviates from its baseline by
a robust z-score |z| >= `min_z` [4] AND by |count - median| >= `min_deviation` [20]
passes: spikes and drops alike. Once per (checkpoint, window): event_id = ("flow_anomaly",
checkpoint_id, window_start); event_time = window_end; where = the checkpoint; severity
`medium`, `high` when |z| >= 3 x min_z.

Baseline: the counts of the checkpoint's last `baseline_windows` [12] closed windows (one
hour), most recent last, zeros included for closed windows without passes since the
checkpoint's first window. The window in which the checkpoint's first pass fell is never
used (the feed may have started mid-window): it closes without joining the baseline.
Warm-up: a window is judged only once the baseline holds `min_baseline` [3] windows;
earlier windows just join it.

    z = (count - median) / max(1.4826 * MAD, sqrt(median), 1)

MAD is the baseline's median absolute deviation; 1.4826 x MAD estimates a standard
deviation. It is floored by Poisson counting noise (sqrt(median)) and by 1, so that
nearly constant traffic (MAD ~ 0) does not turn a wobble of a few passes into a huge z.
The 20-pass floor keeps quiet checkpoints (a few passes per window at night) silent.

Closing, in event time: a window closes when the caller's watermark reaches its end +
`grace` [60 s] (the agent passes the largest pass ts seen on the Kafka partition). A
pass whose window has closed is not counted (`count_pass` says so). Silent windows close
as zeros; at most baseline_windows + 1 in a row are filled, which changes no outcome
(after that many zeros the baseline is all zeros and a zero window matches it) but makes
a checkpoint silent for days cost nothing. No re-send cache: closing is idempotent (the
same or a smaller watermark changes nothing and emits nothing).

Daily ramps are no anomaly: on a steady ramp the baseline's median lags the count by
about 6.5 windows of slope, but its MAD grows with the slope too (3 windows of slope), so
z stays near 6.5 / (1.4826 x 3) ~ 1.5 however steep the rush hour. A simulated day of
normal traffic (night lull, both rush hours) gives no flow_anomaly at the "small" scale
(tests/situations/test_checkpoint_models_on_a_simulated_day.py) nor at "demo" scale.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import ClassVar

from topics.records import Checkpoint, Instant, Situation

from ._common import StateModel, VersionedParams, make_situation
from .summaries import summarize

__all__ = [
    "CheckpointFlow", "FlowAnomalyParams", "MODEL_VERSION", "WindowCount", "close_windows",
    "count_pass", "window_start",
]

TYPE = "flow_anomaly"
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class FlowAnomalyParams(VersionedParams):
    RULE: ClassVar[str] = "flow_anomaly/1"
    window: timedelta = timedelta(minutes=5)
    baseline_windows: int = 12
    min_baseline: int = 3
    min_z: float = 4.0
    min_deviation: int = 20
    grace: timedelta = timedelta(seconds=60)


MODEL_VERSION = FlowAnomalyParams().model_version


class WindowCount(StateModel):
    start: Instant
    count: int


class CheckpointFlow(StateModel):
    """State of one checkpoint. Key: checkpoint_id."""

    checkpoint_id: str
    first_window: Instant | None = None  # start of the window of the first pass: never used
    open: tuple[WindowCount, ...] = ()  # windows with passes, not yet closed, by start
    baseline: tuple[int, ...] = ()  # counts of the last closed windows, most recent last
    last_closed: Instant | None = None  # start of the last closed window


def window_start(ts: datetime, window: timedelta) -> datetime:
    """Start of the epoch-aligned window holding ts."""
    return EPOCH + (ts - EPOCH) // window * window


def count_pass(
    state: CheckpointFlow | None, checkpoint_id: str, ts: datetime, params: FlowAnomalyParams
) -> tuple[CheckpointFlow, bool]:
    """Count one pass; False (state unchanged) when its window has already closed."""
    start = window_start(ts, params.window)
    if state is None:
        state = CheckpointFlow(checkpoint_id=checkpoint_id)
    if state.last_closed is not None and start <= state.last_closed:
        return state, False
    counts = {w.start: w.count for w in state.open}
    counts[start] = counts.get(start, 0) + 1
    # Before anything closed, an out-of-order pass may move the first window earlier.
    first = start if state.first_window is None else min(state.first_window, start)
    return state.model_copy(update={
        "first_window": first,
        "open": tuple(WindowCount(start=s, count=n) for s, n in sorted(counts.items())),
    }), True


def close_windows(
    state: CheckpointFlow | None,
    watermark: datetime,
    checkpoint: Checkpoint,
    params: FlowAnomalyParams,
    detected_at: datetime,
    *,
    locale: str = "zh-CN",
) -> tuple[CheckpointFlow | None, list[Situation]]:
    """Close, in order, every window whose end + grace <= watermark; judge each one."""
    if state is None or state.first_window is None:
        return state, []
    if checkpoint.checkpoint_id != state.checkpoint_id:
        raise ValueError(f"checkpoint {checkpoint.checkpoint_id} given for {state.checkpoint_id}")
    last = window_start(watermark - params.grace - params.window, params.window)
    step = params.window
    following = state.first_window if state.last_closed is None else state.last_closed + step
    if following > last:
        return state, []
    counts = {w.start: w.count for w in state.open if w.start <= last}
    baseline, out = list(state.baseline), []
    cap = params.baseline_windows + 1
    at, zeros = following, 0
    while at <= last:
        count = counts.get(at, 0)
        zeros = zeros + 1 if count == 0 else 0
        if zeros > cap:  # the baseline is all zeros by now: skip to the next counted window
            at = min((s for s in counts if s > at), default=last + step)
            continue
        if at != state.first_window:
            if len(baseline) >= params.min_baseline:
                situation = _judge(count, baseline, at, checkpoint, params, detected_at, locale)
                out += [situation] if situation else []
            baseline = (baseline + [count])[-params.baseline_windows:]
        at += step
    return state.model_copy(update={
        "open": tuple(w for w in state.open if w.start > last),
        "baseline": tuple(baseline),
        "last_closed": last,
    }), out


def _judge(count, baseline, start, checkpoint, params, detected_at, locale) -> Situation | None:
    median = statistics.median(baseline)
    mad = statistics.median(abs(n - median) for n in baseline)
    sigma = max(1.4826 * mad, math.sqrt(median), 1.0)
    deviation = count - median
    z = deviation / sigma
    if abs(z) < params.min_z or abs(deviation) < params.min_deviation:
        return None
    end = start + params.window
    return make_situation(
        TYPE,
        id_parts=(checkpoint.checkpoint_id, start),
        severity="high" if abs(z) >= 3 * params.min_z else "medium",
        event_time=end,
        detected_at=detected_at,
        model_version=params.model_version,
        summary=summarize(
            TYPE, locale, checkpoint_id=checkpoint.checkpoint_id,
            window_min=params.window.total_seconds() / 60, count=count, baseline=median,
        ),
        where=checkpoint,
        subject=checkpoint.checkpoint_id,
        metrics={"count": count, "baseline_median": median, "baseline_mad": mad,
                 "z": round(z, 2), "deviation": deviation},
        evidence=[checkpoint.checkpoint_id],
        window_start=start,
        window_end=end,
    )

"""The cell-burst rule behind `alarm_hotspot` and `crowd_gathering`.

A received alarm A (of the counted categories) in cell C triggers when at least
`min_alarms` counted alarms in C have ts in the half-open interval (A.ts - window, A.ts]
and no situation of the type for C already has event_time in that interval.
event_time = A.ts; event_id = (type, cell, event_time).

Out of event-time order: an arriving alarm X is evaluated, and so is every stored alarm
whose interval now contains X (ts in [X.ts, X.ts + window)), in (ts, alarm_id) order,
each seeing the hotspots emitted before it. So a late alarm can complete a burst that a
later-stamped alarm triggers. Results depend only on the state and the arrival order.

Lateness and pruning: the state's watermark is the largest alarm ts (or stream time given
to `prune`) seen. An alarm with ts < watermark - lateness is late: ignored. Alarms and
emitted hotspots with ts <= watermark - lateness - window are dropped: no on-time alarm's
interval can reach them. Duplicates (same alarm_id) change nothing and re-send what that
alarm's first application emitted.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import fmean

from topics.records import Alarm, Instant, Situation

from ._common import (
    LATENESS,
    Emitted,
    StateModel,
    VersionedParams,
    alarm_cell,
    make_situation,
    replay,
)
from .summaries import summarize

__all__ = ["BurstAlarm", "CellBurst", "CellBurstParams", "CellBurstRule", "prune"]


class BurstAlarm(StateModel):
    alarm_id: str
    ts: Instant
    category: str
    lat: float  # kept to place the situation at the centroid of its evidence
    lon: float
    district: str | None = None


class CellBurst(StateModel):
    """State of one cell. Key: the cell (geohash-6 of the alarm)."""

    cell: str
    watermark: Instant
    alarms: tuple[BurstAlarm, ...] = ()  # sorted by (ts, alarm_id)
    emitted: tuple[Emitted, ...] = ()  # hotspots of this cell, sorted by event_time


@dataclass(frozen=True)
class CellBurstParams(VersionedParams):
    min_alarms: int
    window: timedelta
    lateness: timedelta = LATENESS


@dataclass(frozen=True)
class CellBurstRule:
    """What distinguishes one burst type from another (fixed by the contract, not settings)."""

    type: str
    severity: str
    categories: frozenset[str] | None = None  # None: every category counts

    def apply_alarm(
        self,
        state: CellBurst | None,
        alarm: Alarm,
        params: CellBurstParams,
        detected_at: datetime,
        *,
        locale: str = "zh-CN",
    ) -> tuple[CellBurst | None, list[Situation]]:
        """Apply one alarm record; the state stays None for alarms the rule does not count."""
        counted = self.categories is None or alarm.category in self.categories
        if alarm.status != "received" or not counted:
            return state, []
        cell = alarm_cell(alarm)
        if state is None:
            state = CellBurst(cell=cell, watermark=alarm.ts)
        elif state.cell != cell:
            raise ValueError(f"alarm {alarm.alarm_id} is in cell {cell}, not {state.cell}")
        again = replay(state.emitted, alarm.alarm_id)
        late = alarm.ts < state.watermark - params.lateness
        if late or any(a.alarm_id == alarm.alarm_id for a in state.alarms):
            return state, again
        new = BurstAlarm(
            alarm_id=alarm.alarm_id, ts=alarm.ts, category=alarm.category,
            lat=alarm.lat, lon=alarm.lon, district=alarm.district,
        )
        alarms = tuple(sorted((*state.alarms, new), key=lambda a: (a.ts, a.alarm_id)))
        watermark = max(state.watermark, alarm.ts)
        state = state.model_copy(update={"alarms": alarms, "watermark": watermark})
        emitted, out = list(state.emitted), []
        # The new alarm, then every later one whose interval now holds it, in (ts, id) order.
        for candidate in (a for a in alarms if alarm.ts <= a.ts < alarm.ts + params.window):
            start, end = candidate.ts - params.window, candidate.ts
            if any(start < e.situation.event_time <= end for e in emitted):
                continue
            in_window = [a for a in alarms if start < a.ts <= end]
            if len(in_window) >= params.min_alarms:
                situation = self._situation(
                    state.cell, in_window, start, end, params, detected_at, locale
                )
                emitted.append(Emitted(cause=alarm.alarm_id, at=watermark, situation=situation))
                out.append(situation)
        emitted.sort(key=lambda e: e.situation.event_time)
        return _prune(state.model_copy(update={"emitted": tuple(emitted)}), params), out

    def _situation(self, cell, in_window, start, end, params, detected_at, locale) -> Situation:
        districts = Counter(a.district for a in in_window if a.district)
        # Most frequent district; ties go to the smallest name so replays agree.
        district = min(districts, key=lambda d: (-districts[d], d)) if districts else None
        window_min = params.window.total_seconds() / 60
        return make_situation(
            self.type,
            id_parts=(cell, end),
            severity=self.severity,
            event_time=end,
            detected_at=detected_at,
            model_version=params.model_version,
            summary=summarize(
                self.type, locale, cell=cell, count=len(in_window), window_min=window_min
            ),
            lat=fmean(a.lat for a in in_window),
            lon=fmean(a.lon for a in in_window),
            cell=cell,
            district=district,
            metrics={"count": len(in_window), "window_min": window_min},
            evidence=[a.alarm_id for a in in_window],
            window_start=start,
            window_end=end,
        )


def prune(state: CellBurst, stream_time: datetime, params: CellBurstParams) -> CellBurst | None:
    """Advance the watermark to stream time and drop what no on-time alarm can reach.

    Returns None when nothing is left, so the agent can delete the cell's key.
    """
    advanced = state.model_copy(update={"watermark": max(state.watermark, stream_time)})
    pruned = _prune(advanced, params)
    return pruned if pruned.alarms or pruned.emitted else None


def _prune(state: CellBurst, params: CellBurstParams) -> CellBurst:
    horizon = state.watermark - params.lateness - params.window
    return state.model_copy(update={
        "alarms": tuple(a for a in state.alarms if a.ts > horizon),
        # Past the horizon a hotspot no longer blocks a window; it stays as a re-send cache.
        "emitted": tuple(e for e in state.emitted if e.situation.event_time > horizon or e.kept_at(state.watermark)),
    })


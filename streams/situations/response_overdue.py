"""`response_overdue` and the alarm lifecycle it is judged on.

State: one `AlarmLifecycle` per alarm_id, built from every lifecycle record in any order:
the received fields come from the `received` record with the earliest ts; dispatched_at,
arrived_at and closed_at are the earliest of their kind (ties broken by unit_id/outcome),
arrived_at merging reported arrivals (`arrived` records) and detected ones (`note_arrival`).
So the final state does not depend on arrival order, and applying a record again changes
nothing. `version` (the ReplacingMergeTree version of the `alarm_lifecycle` row) grows by
one on every change to the lifecycle fields and never otherwise.

Rule (docs/surface.md, Output topic "situations"): with deadline = received_at + SLA(priority) [P1 5, P2 10, P3 20,
P4 60 min], `check_overdue` fires once when stream time > deadline (strictly: exactly at
the deadline nothing fires, 1 ms after it does), unless an arrival or a close/cancel with
ts <= deadline is known. Judged in event time: an arrival stamped after the deadline does
not prevent it, even if it was applied before the check. event_id = ("response_overdue",
alarm_id), event_time = deadline. Severity by priority: P1 `critical`, P2 `high`,
P3 `medium`, P4 `low`. A record that arrives after the check fired cannot retract it.

Pruning: `prune` returns None (delete the key) `keep_closed` [1 h] after the close, or
`keep_open` [24 h] after the last record of an alarm never closed; both must exceed the
lateness, so that a record for a deleted alarm is already late.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from topics.records import Alarm, Instant, Situation

from ._common import (
    Emitted,
    StateModel,
    VersionedParams,
    alarm_cell,
    make_situation,
    replay,
    tick_cause,
)
from .summaries import summarize
from .unit_track import AlarmSite

__all__ = [
    "AlarmLifecycle", "Mark", "ResponseOverdueParams", "MODEL_VERSION", "SEVERITY_BY_PRIORITY",
    "apply_alarm", "check_overdue", "next_deadline", "note_arrival", "prune",
]

TYPE = "response_overdue"
LIFECYCLE_COLUMNS = (
    "alarm_id", "received_at", "category", "priority", "district", "cell", "dispatched_at",
    "arrived_at", "closed_at", "first_unit_id", "response_s", "version",
)
SEVERITY_BY_PRIORITY = {1: "critical", 2: "high", 3: "medium", 4: "low"}


class Mark(StateModel):
    """When something first happened, and by whom (unit_id) or how (closed/cancelled)."""

    ts: Instant
    by: str


class AlarmLifecycle(StateModel):
    alarm_id: str
    version: int = 0
    received_at: Instant | None = None
    category: str | None = None
    priority: int | None = None
    district: str | None = None
    cell: str | None = None
    lat: float | None = None
    lon: float | None = None
    first_dispatch: Mark | None = None
    first_arrival: Mark | None = None
    end: Mark | None = None
    overdue: Emitted | None = None  # the response_overdue sent, if any

    @property
    def dispatched_at(self) -> datetime | None:
        return self.first_dispatch.ts if self.first_dispatch else None

    @property
    def arrived_at(self) -> datetime | None:
        return self.first_arrival.ts if self.first_arrival else None

    @property
    def closed_at(self) -> datetime | None:
        return self.end.ts if self.end else None

    @property
    def first_unit_id(self) -> str | None:
        """The first unit dispatched, else the first unit that arrived."""
        first = self.first_dispatch or self.first_arrival
        return first.by if first else None

    @property
    def response_s(self) -> float | None:
        if self.received_at is None or self.arrived_at is None:
            return None
        return (self.arrived_at - self.received_at).total_seconds()

    def site(self) -> AlarmSite | None:
        """Where the alarm is, for the per-unit models (None until `received` is applied)."""
        if self.received_at is None:
            return None
        return AlarmSite(
            alarm_id=self.alarm_id, ts=self.received_at, lat=self.lat, lon=self.lon,
            district=self.district,
        )

    def row(self) -> dict:
        """The `alarm_lifecycle` columns, with `version` for ReplacingMergeTree."""
        return {name: getattr(self, name) for name in LIFECYCLE_COLUMNS}


@dataclass(frozen=True)
class ResponseOverdueParams(VersionedParams):
    RULE: ClassVar[str] = "response_overdue/1"
    sla_by_priority: tuple[timedelta, ...] = tuple(timedelta(minutes=m) for m in (5, 10, 20, 60))
    keep_closed: timedelta = timedelta(hours=1)
    keep_open: timedelta = timedelta(hours=24)


MODEL_VERSION = ResponseOverdueParams().model_version


def _earliest(held: Mark | None, new: Mark) -> Mark:
    return new if held is None or (new.ts, new.by) < (held.ts, held.by) else held


def _changed(old: AlarmLifecycle, new: AlarmLifecycle) -> AlarmLifecycle:
    return old if new == old else new.model_copy(update={"version": old.version + 1})


def apply_alarm(state: AlarmLifecycle | None, alarm: Alarm) -> AlarmLifecycle:
    """Apply one lifecycle record. It never emits: overdue needs stream time to pass."""
    old = state or AlarmLifecycle(alarm_id=alarm.alarm_id)
    if alarm.alarm_id != old.alarm_id:
        raise ValueError(f"record of {alarm.alarm_id} applied to the lifecycle of {old.alarm_id}")
    if alarm.status == "received":
        if old.received_at is not None and alarm.ts >= old.received_at:
            return old
        new = old.model_copy(update={
            "received_at": alarm.ts, "category": alarm.category, "priority": alarm.priority,
            "district": alarm.district, "cell": alarm_cell(alarm),
            "lat": alarm.lat, "lon": alarm.lon,
        })
    else:
        # dispatched -> first_dispatch, arrived -> first_arrival, closed/cancelled -> end
        name = {"dispatched": "first_dispatch", "arrived": "first_arrival"}.get(alarm.status, "end")
        by = alarm.status if name == "end" else alarm.unit_id
        new = old.model_copy(update={name: _earliest(getattr(old, name), Mark(ts=alarm.ts, by=by))})
    return _changed(old, new)


def note_arrival(state: AlarmLifecycle, unit_id: str, ts: datetime) -> AlarmLifecycle:
    """Record an arrival detected from positions (`arrival_detected`)."""
    first = _earliest(state.first_arrival, Mark(ts=ts, by=unit_id))
    return _changed(state, state.model_copy(update={"first_arrival": first}))


def next_deadline(state: AlarmLifecycle, params: ResponseOverdueParams) -> datetime | None:
    """When the alarm becomes overdue, or None if it cannot (any more)."""
    if state.received_at is None or state.overdue is not None:
        return None
    deadline = state.received_at + params.sla_by_priority[state.priority - 1]
    resolved = [t for t in (state.arrived_at, state.closed_at) if t is not None and t <= deadline]
    return None if resolved else deadline


def check_overdue(
    state: AlarmLifecycle,
    stream_time: datetime,
    params: ResponseOverdueParams,
    detected_at: datetime,
    *,
    locale: str = "zh-CN",
) -> tuple[AlarmLifecycle, list[Situation]]:
    """Timer check; calling it again at the same stream time re-sends what it sent."""
    cause = tick_cause(stream_time)
    if state.overdue is not None:
        return state, replay((state.overdue,), cause)
    deadline = next_deadline(state, params)
    if deadline is None or stream_time <= deadline:
        return state, []
    sla_min = params.sla_by_priority[state.priority - 1].total_seconds() / 60
    situation = make_situation(
        TYPE,
        id_parts=(state.alarm_id,),
        severity=SEVERITY_BY_PRIORITY[state.priority],
        event_time=deadline,
        detected_at=detected_at,
        model_version=params.model_version,
        summary=summarize(
            TYPE, locale, alarm_id=state.alarm_id, priority=state.priority, sla_min=sla_min
        ),
        where=state,
        subject=state.alarm_id,
        metrics={"priority": state.priority, "sla_min": sla_min},
        evidence=[state.alarm_id, *([state.first_unit_id] if state.first_unit_id else [])],
        window_start=state.received_at,
        window_end=deadline,
    )
    emitted = Emitted(cause=cause, at=stream_time, situation=situation)
    return state.model_copy(update={"overdue": emitted}), [situation]


def prune(
    state: AlarmLifecycle, stream_time: datetime, params: ResponseOverdueParams
) -> AlarmLifecycle | None:
    """None once the alarm's key can be deleted (see the module docstring)."""
    if state.closed_at is not None:
        return None if stream_time >= state.closed_at + params.keep_closed else state
    seen = [t for t in (state.received_at, state.dispatched_at, state.arrived_at) if t is not None]
    return None if seen and stream_time >= max(seen) + params.keep_open else state

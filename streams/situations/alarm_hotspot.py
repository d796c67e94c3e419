"""`alarm_hotspot`: many received alarms in one grid cell within a short window.

Rule (docs/surface.md, Output topic "situations"): a received alarm A in cell C (geohash-6) triggers when at least
`min_alarms` [5] received alarms of any category in C have ts in (A.ts - `window` [15 min],
A.ts] -- an alarm exactly `window` before A.ts is outside, one at A.ts is inside -- and no
`alarm_hotspot` for C already has event_time in that interval. event_time = A.ts,
event_id = ("alarm_hotspot", C, A.ts). Severity `medium`: a pattern to watch, not an emergency.

State: one `CellBurst` per cell, pruned on every update (see `_cell_burst` for out-of-order,
lateness and pruning semantics; `prune` lets an agent drop quiet cells on stream time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar

from . import _cell_burst
from ._cell_burst import CellBurst, CellBurstParams, CellBurstRule

__all__ = ["AlarmHotspotParams", "CellBurst", "MODEL_VERSION", "RULE", "apply_alarm", "prune"]


@dataclass(frozen=True)
class AlarmHotspotParams(CellBurstParams):
    RULE: ClassVar[str] = "alarm_hotspot/1"
    min_alarms: int = 5
    window: timedelta = timedelta(minutes=15)


RULE = CellBurstRule(type="alarm_hotspot", severity="medium")
MODEL_VERSION = AlarmHotspotParams().model_version

# apply_alarm(state, alarm, params, detected_at, *, locale="zh-CN")
#     -> (CellBurst | None, list[Situation])
apply_alarm = RULE.apply_alarm
prune = _cell_burst.prune  # prune(state, stream_time, params) -> CellBurst | None

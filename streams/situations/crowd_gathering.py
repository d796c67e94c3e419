"""`crowd_gathering`: a burst of dispute / gathering alarms in one grid cell.

Rule (docs/surface.md, Output topic "situations"): as `alarm_hotspot`, counting only categories `dispute` and
`gathering`: a received alarm A of those categories in cell C triggers when at least
`min_alarms` [3] such alarms in C have ts in (A.ts - `window` [10 min], A.ts] (half-open:
exactly `window` earlier is outside) and no `crowd_gathering` for C already has event_time
in that interval. event_time = A.ts, event_id = ("crowd_gathering", C, A.ts).
Severity `high`: a gathering can turn into a public-order incident within minutes.

State: one `CellBurst` per cell holding only the counted categories; alarms of other
categories leave it untouched (a cell with none keeps no state). Out-of-order, lateness
and pruning semantics are those of `_cell_burst`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar

from . import _cell_burst
from ._cell_burst import CellBurst, CellBurstParams, CellBurstRule

__all__ = ["CrowdGatheringParams", "CellBurst", "MODEL_VERSION", "RULE", "apply_alarm", "prune"]


@dataclass(frozen=True)
class CrowdGatheringParams(CellBurstParams):
    RULE: ClassVar[str] = "crowd_gathering/1"
    min_alarms: int = 3
    window: timedelta = timedelta(minutes=10)


RULE = CellBurstRule(
    type="crowd_gathering", severity="high", categories=frozenset({"dispute", "gathering"})
)
MODEL_VERSION = CrowdGatheringParams().model_version

# apply_alarm(state, alarm, params, detected_at, *, locale="zh-CN")
#     -> (CellBurst | None, list[Situation])
apply_alarm = RULE.apply_alarm
prune = _cell_burst.prune  # prune(state, stream_time, params) -> CellBurst | None

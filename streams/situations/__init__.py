"""Pure situation models: plain functions over plain data that decide what is a situation.

No Faust, no Kafka, no clock: the agents pass in records, stream time and the wall-clock
`detected_at`, keep the returned state in their tables (as `model_dump(mode="json")`) and
send the returned situations. One module per situation type:

    alarm_hotspot, crowd_gathering        per cell      (CellBurst)
    dispatch_recommendation, coverage_gap stateless     (UnitPosition candidates)
    response_overdue                      per alarm_id  (AlarmLifecycle)
    arrival_detected, arrival_mismatch,   per unit_id   (UnitTrack; `units` runs all three)
    unit_offline
    watchlist_hit                         stateless     (the pass and its watch-list entry)
    suspect_near_incident                 per sector    (SuspectSector)
    cloned_plate                          per plate     (PlateTrail)
    flow_anomaly                          per checkpoint (CheckpointFlow)
"""

from . import (
    alarm_hotspot,
    arrival_detected,
    arrival_mismatch,
    cloned_plate,
    coverage_gap,
    crowd_gathering,
    dispatch_recommendation,
    flow_anomaly,
    response_overdue,
    suspect_near_incident,
    unit_offline,
    units,
    watchlist_hit,
)
from ._cell_burst import CellBurst
from ._common import alarm_cell, event_id
from .fleet import UnitPosition
from .response_overdue import AlarmLifecycle
from .summaries import summarize
from .unit_track import AlarmSite, UnitTrack

__all__ = [
    "AlarmLifecycle",
    "AlarmSite",
    "CellBurst",
    "UnitPosition",
    "UnitTrack",
    "alarm_cell",
    "alarm_hotspot",
    "arrival_detected",
    "arrival_mismatch",
    "cloned_plate",
    "coverage_gap",
    "crowd_gathering",
    "dispatch_recommendation",
    "event_id",
    "flow_anomaly",
    "response_overdue",
    "summarize",
    "suspect_near_incident",
    "unit_offline",
    "units",
    "watchlist_hit",
]

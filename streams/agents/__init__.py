"""Faust agents: they move records and keep state; the situation models decide."""

from __future__ import annotations

__all__ = ["register"]


def register(pipeline) -> None:
    from streams.agents import (
        alarms,
        alerts,
        cells,
        checkpoints,
        clickhouse_rows,
        plates,
        presence,
        sectors,
        suspects,
        units,
    )
    from streams.reference import ReferenceData

    for module in (alarms, cells, units, presence, sectors, plates, suspects, clickhouse_rows):
        module.register(pipeline)
    reference = pipeline.reference = ReferenceData(pipeline)
    reference.register()
    checkpoints.register(pipeline, reference)
    alerts.register(pipeline, reference)

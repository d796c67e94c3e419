"""Alarm agent: admits `alarms` records and routes received alarms to their grid cell."""

from __future__ import annotations

import orjson

from streams.situations._common import alarm_cell
from topics.records import Alarm

__all__ = ["register"]


def register(pipeline) -> None:
    app = pipeline.app

    @app.agent(pipeline.alarms, name="alarms")
    async def alarm_agent(stream):
        async for event in stream.events():
            try:
                alarm = await pipeline.admit(event, "alarms", Alarm)
                if alarm is None:
                    continue
                if alarm.status == "received":
                    # Repartition by cell: the per-cell models and counts live there.
                    await pipeline.alarms_by_cell.send(
                        key=alarm_cell(alarm).encode(),
                        value=orjson.dumps(alarm.model_dump(mode="json", exclude_none=True)),
                    )
            except Exception as exc:  # the worker never dies of a record
                await pipeline.failed(event, exc)

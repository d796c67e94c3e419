"""Suspect agent: `suspect_near_incident` — watch-listed vehicles passing near incidents.

Input `<app>-suspects` (key sector, see `streams/sectors.py`) carries two kinds of record:
  - alarm  a `received` alarm of a suspect category, from the alarm agent, to its sector;
  - pass   a watch-listed pass with its checkpoint's site, from the checkpoint agent,
           copied to every sector within the rule's radius of the checkpoint.
So each (alarm, pass) pair that can qualify meets in exactly one sector: the alarm's.
Table `suspect-sectors` keyed by sector holds both sides for the rule's ±30 minutes.
"""

from __future__ import annotations

from datetime import datetime, timezone

import orjson

from streams.situations import suspect_near_incident as rule
from topics.records import Alarm

__all__ = ["register"]


def register(pipeline) -> None:
    app, settings = pipeline.app, pipeline.settings
    held = pipeline.table("suspect-sectors")
    params = rule.SuspectNearIncidentParams()

    @app.agent(pipeline.suspects, name="suspects")
    async def suspect_agent(stream):
        async for event in stream.events():
            try:
                sector = event.message.key.decode()
                message = orjson.loads(event.message.value)
                stored = held[sector]
                state = rule.SuspectSector.model_validate(stored) if stored else None
                now, stream_time = datetime.now(timezone.utc), pipeline.stream_time_of(message)
                if message["kind"] == "alarm":
                    alarm = Alarm.model_validate(message["alarm"])
                    state, situations = rule.on_alarm(state, sector, alarm, stream_time, params, now,
                                                      locale=settings.locale)
                else:
                    watched = rule.WatchedPass.model_validate(message["pass"])
                    state, situations = rule.on_pass(state, sector, watched, stream_time, params, now,
                                                     locale=settings.locale)
                if state is not None:
                    held[sector] = state.model_dump(mode="json")
                await pipeline.emit(situations)
            except Exception as exc:  # the worker never dies of a record
                await pipeline.failed(event, exc)

"""Plate agent: `cloned_plate` (套牌车) — one trail of recent passes per plate and colour.

Input `<app>-passes-by-plate`: every pass, repartitioned by the checkpoint agent to the key
"<PLATE>|<colour>", with the pass's checkpoint site. Table `plate-trails` is keyed the same.
A trail whose newest pass is older than the rule's horizon (2 h + allowed lateness behind
stream time) can pair with nothing still on time: it is deleted, so the table holds only
the plates seen in the last hours, not every plate ever seen.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone

import orjson

from streams.agents._cache import RebalanceCache
from streams.partitioning import partition_of
from streams.situations import cloned_plate

__all__ = ["register"]

SWEEP_EVERY = timedelta(minutes=1)  # of stream time


def register(pipeline) -> None:
    app, settings = pipeline.app, pipeline.settings
    n = settings.topic_partitions
    trails = pipeline.table("plate-trails")
    params = cloned_plate.ClonedPlateParams()
    newest: dict[int, dict[str, datetime]] = defaultdict(dict)  # partition -> key -> newest pass ts
    swept: dict[int, datetime] = {}

    def rebuild() -> None:
        newest.clear()
        for key, stored in trails.items():
            latest = cloned_plate.newest(cloned_plate.PlateTrail.model_validate(stored))
            if latest is not None:
                newest[partition_of(key, n)][key] = latest

    index = RebalanceCache(app, rebuild)

    def expire(partition: int, stream_time: datetime | None) -> None:
        if stream_time is None or stream_time - swept.get(partition, stream_time - SWEEP_EVERY) < SWEEP_EVERY:
            return
        swept[partition] = stream_time
        horizon = stream_time - params.max_gap - params.lateness
        held = newest[partition]
        for key in [k for k, ts in held.items() if ts < horizon]:
            del held[key]
            trails.pop(key, None)

    @app.agent(pipeline.passes_by_plate, name="plates")
    async def plate_agent(stream):
        async for event in stream.events():
            try:
                index.fresh()
                key = event.message.key.decode()
                message = orjson.loads(event.message.value)
                seen = cloned_plate.PlatePass.model_validate(message["pass"])
                stored = trails[key]
                state = cloned_plate.PlateTrail.model_validate(stored) if stored else None
                stream_time = pipeline.stream_time_of(message)
                state, situations = cloned_plate.on_pass(
                    state, key, message["plate"], seen, stream_time, params,
                    datetime.now(timezone.utc), locale=settings.locale)
                latest = cloned_plate.newest(state)
                if latest is None:  # only a late pass came for a plate already forgotten
                    trails.pop(key, None)
                else:
                    trails[key] = state.model_dump(mode="json")
                    newest[event.message.partition][key] = latest
                await pipeline.emit(situations)
                expire(event.message.partition, stream_time)
            except Exception as exc:  # the worker never dies of a record
                await pipeline.failed(event, exc)

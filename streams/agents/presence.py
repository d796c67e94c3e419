"""Presence agent: `unit_presence_1m` — distinct units per (minute, cell, unit_type, status).

Input `<app>-unit-presence` carries one record per unit sighting, keyed by the presence
key, so every unit seen for a key meets in one partition. The table remembers the unit ids
per key; the row's `units` is their number, also its ReplacingMergeTree version, so
re-delivered sightings change nothing (they re-send the key's current row). A key is forgotten once its minute is older than
twice the allowed lateness (plus a minute) behind stream time: sightings for it would
come from pings that are late already.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from streams.agents._cache import RebalanceCache
from streams.partitioning import partition_of

__all__ = ["register"]


def register(pipeline) -> None:
    app = pipeline.app
    n = pipeline.settings.topic_partitions
    presence = pipeline.table("presence")
    minutes: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))  # partition -> minute -> keys

    def rebuild() -> None:
        minutes.clear()
        for key in presence.keys():
            minutes[partition_of(key, n)][key.split("|", 1)[0]].add(key)

    index = RebalanceCache(app, rebuild)

    def forget_old(partition: int) -> None:
        stream_time = pipeline.clock.now()
        if stream_time is None:
            return
        horizon = stream_time - 2 * pipeline.lateness - timedelta(minutes=1)
        held = minutes[partition]
        for minute in [m for m in held if datetime.fromisoformat(m) < horizon]:
            for key in held.pop(minute):
                presence.pop(key, None)

    @app.agent(pipeline.presence, name="presence")
    async def presence_agent(stream):
        async for event in stream.events():
            try:
                index.fresh()
                key = event.message.key.decode()
                unit_id = event.message.value.decode()
                minute, cell, unit_type, status = key.split("|")
                forget_old(event.message.partition)
                seen = presence[key] or []
                if unit_id not in seen:
                    seen = sorted([*seen, unit_id])
                    presence[key] = seen
                    minutes[event.message.partition][minute].add(key)
                # Also for a re-delivered sighting: its row may have been lost in a crash while
                # the state kept it (the row is absolute, so sending it again is harmless).
                await pipeline.row("unit_presence_1m", {
                    "minute": minute, "cell": cell, "unit_type": unit_type, "status": status,
                    "units": len(seen),
                })
            except Exception as exc:
                await pipeline.failed(event, exc)

"""Presence agent: `unit_presence_1m` — distinct units per (minute, cell, unit_type, status).

Input `<app>-unit-presence` carries one record per unit sighting, keyed by the presence
key, so every unit seen for a key meets in one partition. The table remembers the unit ids
per key; the row's `units` is their number, also its ReplacingMergeTree version, so
re-delivered sightings change nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

__all__ = ["register"]


def register(pipeline) -> None:
    app = pipeline.app
    presence = pipeline.table("presence")

    @app.agent(pipeline.presence, name="presence")
    async def presence_agent(stream):
        async for event in stream.events():
            try:
                key = event.message.key.decode()
                unit_id = event.message.value.decode()
                seen = presence[key] or []
                if unit_id in seen:
                    continue
                seen = sorted([*seen, unit_id])
                presence[key] = seen
                minute, cell, unit_type, status = key.split("|")
                await pipeline.row("unit_presence_1m", {
                    "minute": minute, "cell": cell, "unit_type": unit_type, "status": status,
                    "units": len(seen),
                })
            except Exception as exc:
                await pipeline.failed(event, exc)

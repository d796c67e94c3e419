"""Where the units are: `GET /api/units`, the latest position of each unit, in memory.

The API follows `patrol-gps` itself (every partition, no group), starting about
[15 min] back — found with offsets_for_times on the records' broker timestamps — so a
fresh API process draws the fleet at once instead of waiting for every unit's next ping.
A unit not heard from for that long drops off the map. Each position's district comes
from the city's district polygons (topics.districts), which is what scoping filters on.
"""

from __future__ import annotations

import time
from datetime import datetime

from aiohttp import web

from sitaware.api.follow import TopicFollower
from sitaware.api.http import caller, district_param, json_response, note
from topics.districts import Districts
from topics.records import PatrolPing
from topics.specs import PATROL_GPS

__all__ = ["UnitPositions", "UNITS", "get_units"]


class UnitPositions(TopicFollower):
    contract_name = PATROL_GPS

    def __init__(self, settings, districts: Districts, window_s: float = 900.0):
        super().__init__(settings)
        self.districts = districts
        self.window_s = window_s
        # unit_id -> (event time of the ping, broker time in s, the public view of it)
        self.latest: dict[str, tuple[datetime, float, dict]] = {}

    async def position(self) -> None:
        since_ms = int((time.time() - self.window_s) * 1000)
        found = await self.consumer.offsets_for_times({tp: since_ms for tp in self.partitions})
        late = [tp for tp, at in found.items() if at is None]  # nothing that recent
        if late:
            await self.consumer.seek_to_end(*late)
        for tp, at in found.items():
            if at is not None:
                self.consumer.seek(tp, at.offset)

    def apply(self, record) -> None:
        try:
            ping = PatrolPing.model_validate_json(record.value)
        except ValueError:
            return  # the worker dead-letters it; the map just skips it
        held = self.latest.get(ping.unit_id)
        if held is not None and held[0] > ping.ts:
            return  # an older ping arriving late does not move the unit back
        self.latest[ping.unit_id] = (ping.ts, record.timestamp / 1000.0, {
            "unit_id": ping.unit_id, "unit_type": ping.unit_type, "status": ping.status,
            "lat": ping.lat, "lon": ping.lon,
            "ts": ping.ts.isoformat().replace("+00:00", "Z"),
            "district": self.districts.district_of(ping.lat, ping.lon),
        })

    def positions(self, districts: frozenset[str]) -> list[dict]:
        horizon = time.time() - self.window_s
        for unit_id in [u for u, (_, seen, _) in self.latest.items() if seen < horizon]:
            del self.latest[unit_id]
        return sorted((view for _, _, view in self.latest.values()
                       if not districts or view["district"] in districts),
                      key=lambda v: v["unit_id"])


UNITS = web.AppKey("unit_positions", UnitPositions)


async def get_units(request: web.Request) -> web.Response:
    district = district_param(request)
    scope = frozenset([district]) if district else caller(request).districts
    units = request.app[UNITS].positions(scope)
    note(request, detail=f"{len(units)} units")
    return json_response({"units": units, "count": len(units)})

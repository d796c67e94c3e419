"""The incident log: every alarm case known so far (including ones a scenario has planned
for the next minutes) and the rules a new alarm's place and time must keep so that
background never stages an injected kind by accident.

- at most `CELL_CAP` [2] received alarms per geohash-6 cell in any 15-minute window
  (`alarm_hotspot` needs 5, `crowd_gathering` 3 disputes/gatherings in 10 minutes);
- nothing else in a hotspot's or crowd's cell within 30 minutes of its burst;
- no background alarm within the quiet zone, where no police patrols;
- no violent/theft/fraud/gathering alarm within 2.5 km and 35 minutes of a planned
  watch-listed pass (`suspect_near_incident` is 2 km and 30 minutes).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from topics.geo import geohash

from .city import City
from .engine import MINUTE
from .geometry import Point, distance_km

__all__ = ["AlarmCase", "IncidentLog", "SUSPECT_CATEGORIES", "CROWD_CATEGORIES", "CELL_CAP"]

SUSPECT_CATEGORIES = frozenset({"violent", "theft", "fraud", "gathering"})
CROWD_CATEGORIES = frozenset({"dispute", "gathering"})
CELL_CAP = 2
CELL_WINDOW_MS = 15 * MINUTE
BURST_GUARD_MS = 30 * MINUTE
WATCH_RADIUS_KM = 2.5
WATCH_WINDOW_MS = 35 * MINUTE


@dataclass(eq=False)
class AlarmCase:
    alarm_id: str
    ts: int  # when it is received, ms since the start
    site: Point
    cell: str
    district: str
    category: str
    priority: int
    injected: str | None = None  # the injection that staged it
    state: str = "planned"  # planned, received, dispatched, arrived, closed, cancelled
    responder: object | None = None
    early_arrival_km: float | None = None  # arrival_mismatch: report `arrived` this far out
    on_arrived: Callable[["AlarmCase"], None] | None = None  # called when `arrived` goes out


class IncidentLog:
    def __init__(self, city: City):
        self.city = city
        self.cases: list[AlarmCase] = []
        self._cell_times: dict[str, list[int]] = defaultdict(list)
        self._bursts: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self._watched: list[tuple[Point, int]] = []

    def add(self, case: AlarmCase) -> None:
        self.cases.append(case)
        insort(self._cell_times[case.cell], case.ts)

    def in_cell(self, cell: str, t0: int, t1: int) -> int:
        """Known alarms in the cell with t0 <= ts <= t1."""
        times = self._cell_times.get(cell, [])
        return bisect_right(times, t1) - bisect_left(times, t0)

    def reserve_burst(self, cell: str, t0: int, t1: int) -> None:
        self._bursts[cell].append((t0, t1))

    def watch(self, point: Point, t: int) -> None:
        """A watch-listed plate will pass here at t: keep suspect alarms away."""
        self._watched.append((point, t))

    def watched_near(self, site: Point, t: int) -> bool:
        return any(abs(w_t - t) <= WATCH_WINDOW_MS and distance_km(w_p, site) <= WATCH_RADIUS_KM
                   for w_p, w_t in self._watched)

    def suspect_alarms_near(self, point: Point, t: int) -> list[AlarmCase]:
        return [c for c in self.cases if c.category in SUSPECT_CATEGORIES
                and abs(c.ts - t) <= WATCH_WINDOW_MS
                and distance_km(c.site, point) <= WATCH_RADIUS_KM]

    def site_ok(self, site: Point, t: int, category: str, *, quiet_zone_ok: bool = False) -> bool:
        """May a new (not burst) alarm be received here at t?"""
        if not self.city.contains(site) or self.city.district_of(site) is None:
            return False
        zone = self.city.quiet_zone
        if not quiet_zone_ok and distance_km(site, zone.centre) < zone.alarm_free_km:
            return False
        cell = geohash(*site)
        if any(b0 - BURST_GUARD_MS <= t <= b1 + BURST_GUARD_MS for b0, b1 in self._bursts.get(cell, ())):
            return False
        # Symmetric window: planned alarms may lie ahead of t.
        if self.in_cell(cell, t - CELL_WINDOW_MS, t + CELL_WINDOW_MS) >= CELL_CAP:
            return False
        return category not in SUSPECT_CATEGORIES or not self.watched_near(site, t)

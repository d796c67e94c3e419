"""The patrol fleet on the move: beats, responses, pings on `patrol-gps`, and the questions
dispatchers and scenarios ask about it (who is near, who can answer an alarm in time).

Units ping every 10-15 s. Patrolling units wander between random waypoints of their beat,
sometimes stopping a while; a dispatched unit drives straight to its alarm and is on scene
when it gets there. Available police never drive into the quiet zone (they only ever
move away from its centre while inside it), which keeps that area a true coverage gap.
Presence questions use what the pipeline sees: each unit's latest ping.
"""

from __future__ import annotations

import math
import random
from typing import Protocol

from topics.specs import PATROL_GPS

from .city import City
from .engine import SECOND, Engine
from .geometry import (
    Point, away_from, bearing_deg, distance_km, offset, random_in_disk, segment_distance_km, toward,
)
from .grid import PoliceGrid
from .units import Unit

__all__ = ["Fleet", "FleetListener", "FRESH_MS"]

FRESH_MS = 60 * SECOND  # a unit counts for a new alarm only with a ping this recent (contract: 2 min)
PING_MS = (10 * SECOND, 15 * SECOND)


class FleetListener(Protocol):
    def on_arrival(self, unit: Unit) -> None: ...
    def on_en_route(self, unit: Unit, remaining_km: float) -> None: ...


class Fleet:
    def __init__(self, engine: Engine, city: City, units: list[Unit], rng: random.Random):
        self.engine = engine
        self.city = city
        self.units = units
        self.rng = rng
        self.listener: FleetListener | None = None
        self._grid = PoliceGrid([u for u in units if u.is_police])

    def start(self, sign_off_at_end: bool, retire_share: float = 0.05) -> None:
        for unit in self.units:
            self.engine.at(self.rng.randrange(PING_MS[1]), self._ping, unit)
        # Some shifts end mid-run: those units report off_duty once, then stay silent.
        end = self.engine.end_ms
        for unit in self.units:
            if unit.unit_type != "foot_patrol" and self.rng.random() < retire_share:
                unit.retire_at = int(self.rng.uniform(0.2, 0.9) * end)
        if sign_off_at_end:
            self.engine.at(end, self._sign_off)

    # --- what the pipeline would see ------------------------------------------------
    def _present(self, u: Unit, t: int) -> bool:
        """A police unit whose latest ping is fresh and says available (and still is)."""
        ping = u.last_ping
        return (u.is_police and u.status == "available" and not u.retired and u.silent_until is None
                and ping is not None and ping[2] == "available" and t - ping[0] <= FRESH_MS)

    def present_police(self, t: int, site: Point | None = None, radius_km: float = math.inf) -> list[Unit]:
        pool = self.units if site is None else self._grid.near(site, radius_km)
        return [u for u in pool if self._present(u, t)
                and (site is None or distance_km(u.last_ping[1], site) <= radius_km)]

    def covered(self, site: Point, t: int, radius_km: float) -> bool:
        return bool(self.present_police(t, site, radius_km))

    def nearest_police_km(self, site: Point, t: int) -> float:
        return min((distance_km(u.last_ping[1], site) for u in self.present_police(t)), default=math.inf)

    def auxiliary_near(self, site: Point, radius_km: float) -> list[Unit]:
        return [u for u in self.units if not u.is_police and not u.retired and u.last_ping
                and distance_km(u.last_ping[1], site) <= radius_km]

    def free_responders(self, t: int, site: Point | None = None, radius_km: float = math.inf) -> list[Unit]:
        return [u for u in self.present_police(t, site, radius_km)
                if u.is_responder and not u.reserved and u.hold is None]

    @staticmethod
    def eta_s(unit: Unit, site: Point) -> float:
        return distance_km(unit.pos, site) / unit.profile.response_kmh * 3600

    def best_responder(self, site: Point, t: int, max_km: float = math.inf) -> tuple[float, Unit] | None:
        """The free responder that can be there first (ties: the lower unit id)."""
        best = min(((self.eta_s(u, site), u.unit_id, u) for u in self.free_responders(t, site, max_km)),
                   default=None)
        return (best[0], best[2]) if best else None

    # --- orders ------------------------------------------------------------------------
    def reserve(self, unit: Unit) -> None:
        unit.reserved, unit.target, unit.speed = True, None, 0.0  # waits for the dispatch

    def assign(self, unit: Unit, case) -> None:
        unit.reserved, unit.status, unit.case, unit.pause_until = False, "dispatched", case, 0

    def release(self, unit: Unit) -> None:
        unit.reserved, unit.status, unit.case, unit.target = False, "available", None, None

    def hold(self, unit: Unit, point: Point, radius_km: float, until_ms: int) -> None:
        unit.hold, unit.target, unit.pause_until = (point, radius_km, until_ms), None, 0

    def silence(self, unit: Unit, until_ms: int, on_resume) -> None:
        unit.silent_until, unit.on_resume = until_ms, on_resume

    # --- movement and pings ----------------------------------------------------------------
    def _ping(self, unit: Unit) -> None:
        if unit.retired:
            return
        t = self.engine.now
        arrived = self._advance(unit, t)
        if unit.silent_until is not None:
            if t < unit.silent_until:
                self.engine.after(self.rng.randint(*PING_MS), self._ping, unit)
                return
            unit.silent_until = None
            if unit.on_resume:
                unit.on_resume(unit)
        if (unit.retire_at is not None and t >= unit.retire_at and unit.status == "available"
                and not unit.reserved and unit.hold is None):
            unit.status, unit.speed, unit.retired = "off_duty", 0.0, True
        self._emit(unit, t)
        if unit.retired:
            return
        if arrived and self.listener:
            self.listener.on_arrival(unit)
        elif unit.status == "dispatched" and self.listener:
            self.listener.on_en_route(unit, distance_km(unit.pos, unit.case.site))
        self.engine.after(self.rng.randint(*PING_MS), self._ping, unit)

    def _emit(self, unit: Unit, t: int) -> None:
        lat, lon = unit.pos
        value = {"unit_id": unit.unit_id, "ts": self.engine.ts(), "lat": round(lat, 6),
                 "lon": round(lon, 6), "unit_type": unit.unit_type, "status": unit.status,
                 "speed_kmh": round(unit.speed, 1), "heading_deg": round(unit.heading, 1)}
        if unit.case is not None and unit.status in ("dispatched", "on_scene"):
            value["alarm_id"] = unit.case.alarm_id
        unit.last_ping = (t, unit.pos, unit.status)
        self._grid.move(unit)
        self.engine.emit(PATROL_GPS, unit.unit_id, value)

    def _sign_off(self) -> None:
        for unit in self.units:
            if not unit.retired:
                self._advance(unit, self.engine.now)
                unit.status, unit.speed, unit.retired, unit.silent_until = "off_duty", 0.0, True, None
                self._emit(unit, self.engine.now)

    def _advance(self, unit: Unit, t: int) -> bool:
        """Move the unit to where it is at t; True when it has just reached its alarm."""
        hours = (t - unit.moved_at) / 3_600_000
        unit.moved_at = t
        if unit.status == "dispatched":
            site = unit.case.site
            if unit.pos != site:
                unit.heading = bearing_deg(unit.pos, site)
            unit.pos, reached = toward(unit.pos, site, unit.profile.response_kmh * hours)
            unit.speed = unit.profile.response_kmh
            if reached:  # parks within ~20 m of the address
                unit.pos = offset(site, self.rng.uniform(-0.014, 0.014), self.rng.uniform(-0.014, 0.014))
                unit.status, unit.speed = "on_scene", 0.0
            return reached
        if unit.hold is not None and t >= unit.hold[2]:
            unit.hold, unit.target = None, None
        if unit.status != "available" or unit.reserved or t < unit.pause_until:
            unit.speed = 0.0
            return False
        if unit.target is None and not self._pick_target(unit, t):
            return False
        start = unit.pos
        unit.pos, reached = toward(start, unit.target, unit.speed * hours)
        if unit.pos != start:
            unit.heading = bearing_deg(start, unit.pos)
        if reached:
            unit.target = None
            if self.rng.random() < unit.profile.pause_chance:
                unit.pause_until = t + int(self.rng.uniform(*unit.profile.pause_s) * SECOND)
        return False

    def _pick_target(self, unit: Unit, t: int) -> bool:
        centre, radius = (unit.hold[0], unit.hold[1]) if unit.hold else (unit.home, unit.profile.beat_km)
        for _ in range(8):
            p = random_in_disk(self.rng, centre, radius)
            if self.city.contains(p) and self._keeps_out_of_quiet_zone(unit, p):
                unit.target, unit.speed = p, self.rng.uniform(*unit.profile.patrol_kmh)
                return True
        zone = self.city.quiet_zone
        d = distance_km(unit.pos, zone.centre)
        if unit.is_police and d < zone.police_free_km:  # straight out of the zone
            unit.target = away_from(unit.pos, zone.centre, 1.0)
            unit.speed = self.rng.uniform(*unit.profile.patrol_kmh)
            return True
        unit.pause_until, unit.speed = t + 30 * SECOND, 0.0
        return False

    def _keeps_out_of_quiet_zone(self, unit: Unit, p: Point) -> bool:
        if not unit.is_police:
            return True
        zone = self.city.quiet_zone
        inside = min(zone.police_free_km, distance_km(unit.pos, zone.centre))
        return segment_distance_km(zone.centre, unit.pos, p) >= inside - 1e-6

"""Vehicle trips along the main roads, producing `checkpoint-passes`.

Each road carries traffic both ways. A trip enters just before some checkpoint and goes
on to each next one with probability `CONTINUE` [0.7], between checkpoints at 30-80 km/h.
Through traffic enters at a road's first checkpoint at rate F, side-street traffic before
each other checkpoint at F x (1 - CONTINUE): so every checkpoint sees a steady F per
direction (times the daily curve).

Steady means steady: trip starts are a gamma renewal process of shape 25 (nearly regular,
as traffic lights meter them) and how far each trip goes follows a golden-ratio sequence,
so a checkpoint's 5-minute count stays within a few passes of its recent baseline (a
Poisson stream would stray by 20 passes now and then at demo scale). The roads run a
45-minute warm-up before the start so that the first windows already carry full flow.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from topics.specs import CHECKPOINT_PASSES

from .city import CheckpointSite, City
from .config import TRAFFIC_CURVE, CityScale, daily_factor
from .engine import MINUTE, SECOND, Engine
from .plates import PlateBook, Vehicle

__all__ = ["Traffic", "CONTINUE", "WARMUP_MS", "compass"]

CONTINUE = 0.7
WARMUP_MS = 45 * MINUTE
SPEED_KMH = (30.0, 80.0)
_RENEWAL_SHAPE = 25.0
_GOLDEN = 0.6180339887498949


def compass(bearing: float) -> str:
    return ("N", "NE", "E", "SE", "S", "SW", "W", "NW")[int((bearing % 360 + 22.5) // 45) % 8]


@dataclass(frozen=True)
class Lane:
    """One road in one direction: its checkpoints in the order a vehicle meets them."""

    checkpoints: tuple[CheckpointSite, ...]
    forward: bool

    def direction(self, site: CheckpointSite) -> str:
        return compass(site.bearing if self.forward else site.bearing + 180)


class Traffic:
    def __init__(self, engine: Engine, city: City, scale: CityScale, plates: PlateBook, rng: random.Random):
        self.engine, self.plates, self.rng = engine, plates, rng
        self.per_ms = scale.passes_per_minute / MINUTE  # per checkpoint and direction
        self.lanes: list[Lane] = []
        for road_index in range(len(city.roads)):
            on_road = sorted((c for c in city.checkpoints if c.road_index == road_index), key=lambda c: c.s_km)
            if on_road:
                self.lanes += [Lane(tuple(on_road), True), Lane(tuple(reversed(on_road)), False)]
        self.lane_of = {(c.checkpoint_id, lane.forward): lane for lane in self.lanes for c in lane.checkpoints}

    def start(self) -> None:
        for lane in self.lanes:
            for i in range(len(lane.checkpoints)):
                share = 1.0 if i == 0 else 1.0 - CONTINUE
                self.engine.at(-WARMUP_MS + self._gap(share), self._entry, lane, i, share, None)

    def flow_per_window(self, t_ms: int, window_ms: int = 5 * MINUTE) -> float:
        """Expected passes at any checkpoint (both directions) in a window starting at t_ms."""
        return 2 * self.per_ms * window_ms * daily_factor(TRAFFIC_CURVE, self.engine.local_hour(t_ms))

    def _gap(self, share: float) -> int:
        rate = self.per_ms * share * daily_factor(TRAFFIC_CURVE, self.engine.local_hour())
        return int(self.rng.gammavariate(_RENEWAL_SHAPE, 1.0 / (_RENEWAL_SHAPE * rate))) + 1

    def _entry(self, lane: Lane, i: int, share: float, phase: float | None = None) -> None:
        # How far a trip goes follows a golden-ratio sequence rather than fresh random
        # draws: every checkpoint downstream gets its share of trips evenly over time.
        phase = self.rng.random() if phase is None else (phase + _GOLDEN) % 1.0
        self._trip(lane, i, phase)
        self.engine.after(self._gap(share), self._entry, lane, i, share, phase)

    def _trip(self, lane: Lane, i: int, phase: float) -> None:
        sites = lane.checkpoints
        cruise = self.rng.uniform(40, 65)
        t = self.engine.now + self.rng.uniform(0, 60) * SECOND
        speed = cruise
        route = [(sites[i], t, speed)]
        reach = CONTINUE
        while i + 1 < len(sites) and phase < reach:
            reach *= CONTINUE
            speed = min(max(cruise * self.rng.uniform(0.85, 1.15), SPEED_KMH[0]), SPEED_KMH[1])
            t += abs(sites[i + 1].s_km - sites[i].s_km) / speed * 3_600_000
            i += 1
            route.append((sites[i], t, speed))
        if route[-1][1] < 0:  # all before the start: it only warmed the roads up
            return
        vehicle = self.plates.for_trip(route[0][0].point, int(route[0][1]))
        for site, at, kmh in route:
            if at >= 0:
                self.schedule_pass(vehicle, site, int(at), lane, kmh + self.rng.gauss(0, 3))
        self.plates.finished(vehicle, route[-1][0].point, int(route[-1][1]))

    def schedule_pass(self, vehicle: Vehicle, site: CheckpointSite, t_ms: int, lane: Lane | None = None,
                      speed_kmh: float | None = None) -> str:
        """Schedule one pass; its pass_id is known now (for the ground truth)."""
        lane = lane or self.lane_of[(site.checkpoint_id, True)]
        kmh = self.rng.uniform(30, 60) if speed_kmh is None else speed_kmh
        pass_id = self.engine.next_id("PS", 8)
        value = {"pass_id": pass_id, "checkpoint_id": site.checkpoint_id, "ts": None,
                 "plate": vehicle.plate, "plate_color": vehicle.plate_color,
                 "vehicle_type": vehicle.vehicle_type, "direction": lane.direction(site),
                 "speed_kmh": round(min(max(kmh, 5.0), 150.0), 1)}
        self.engine.at(t_ms, self._pass, value)
        return pass_id

    def _pass(self, value: dict) -> None:
        value["ts"] = self.engine.ts()
        self.engine.emit(CHECKPOINT_PASSES, value["checkpoint_id"], value)

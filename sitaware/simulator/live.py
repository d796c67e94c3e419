"""The steady live load of a city scale: the records of a city at its peak, made fast enough
to offer a large city in real time (the discrete-event simulator makes ~8,500 records/s, under
two seconds of a 20,000-unit city per second, and stages scenarios nobody needs in a load).

Event time is the wall clock: the caller passes the `ts` of each record and the seconds since
the load began. What a city of `CityScale` sends at the peak of its daily curves:

- every unit pings every `PING_S` seconds, round-robin: patrols wander their beat, posts stay
  near their post, a few units are off duty (and still report so);
- `checkpoints x 2 directions x passes_per_minute` passes a minute, round-robin over the
  checkpoints; the plate of pass j is plate `(j * stride) mod pool`, so a vehicle passes again
  only after the whole pool (a quarter of an hour at a large city's rate): never
  implausibly fast, never a `cloned_plate` by accident; some pool plates are watch-listed;
- `alarms_per_hour` received alarms, each placed within 1.5 km of an available police unit
  that has pinged (so every alarm can get a `dispatch_recommendation`), then its lifecycle:
  that unit is dispatched, drives there, pings on scene, reports `arrived` (before the P1 SLA)
  and `closed`. Alarm records therefore climb to ~4 per received alarm once the first ones close.

No scenarios and no ground truth: a load, not an oracle. Records are valid contract records
(tests/simulator/test_sim_live.py validates them with topics/records.py).
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from topics.specs import ALARMS, CHECKPOINT_PASSES, CHECKPOINTS, PATROL_GPS, WATCHLIST

from .alarms import CATEGORIES
from .city import BOUNDS, City
from .config import CityScale
from .geometry import Point, bearing_deg, distance_km, offset
from .units import PROFILES, build_units

__all__ = ["LiveCity", "PING_S", "live_rates", "RECORDS_PER_ALARM"]

PING_S = 10.0
DISPATCH_AFTER_S = 20.0
ON_SCENE_AFTER_S = 150.0  # the unit's pings are on scene from here on ...
ARRIVED_AFTER_S = 180.0  # ... so its latest ping before `arrived` is there (P1 SLA: 300 s)
CLOSED_AFTER_S = 420.0
RECORDS_PER_ALARM = 4  # received, dispatched, arrived, closed
ALARM_NEAR_KM = 1.5
OFF_DUTY_SHARE = 0.05

_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_PLATES_PER_LETTER = 100_000
PLATE_POOL = len(_LETTERS) * _PLATES_PER_LETTER  # 2.4 M vehicles
_PLATE_STRIDE = 1_000_003  # a prime: coprime with the pool, so every plate comes round once a lap
_COLOURS = ("blue",) * 16 + ("green",) * 3 + ("yellow",)
_VEHICLE = {"blue": "car", "green": "car", "yellow": "truck"}
_CATEGORY_NAMES = tuple(CATEGORIES)
_CATEGORY_SHARES = tuple(v[0] for v in CATEGORIES.values())
_REASONS = {3: "在逃人员关联车辆", 2: "盗抢车辆", 1: "套牌嫌疑"}


def live_rates(scale: CityScale) -> dict[str, float]:
    """Records/s per feed of the steady load (alarms: once lifecycles are in full swing)."""
    return {
        PATROL_GPS: scale.units / PING_S,
        CHECKPOINT_PASSES: scale.checkpoints * 2 * scale.passes_per_minute / 60,
        ALARMS: scale.alarms_per_hour / 3600 * RECORDS_PER_ALARM,
    }


def plate_of(index: int) -> str:
    letter, number = divmod(index % PLATE_POOL, _PLATES_PER_LETTER)
    return f"沪{_LETTERS[letter]}{number:05d}"


@dataclass(eq=False)
class _Unit:
    unit_id: str
    unit_type: str
    is_police: bool
    home: Point
    lat: float
    lon: float
    beat_km: float
    speed_kmh: float
    heading: float
    status: str = "available"
    alarm_id: str | None = None
    route: tuple[Point, Point, float, float] | None = None  # from, to, start s, end s
    last_ping_s: float | None = None
    reserved: bool = False  # answering an alarm (its pings say available until dispatched)


class LiveCity:
    def __init__(self, scale: CityScale, seed: int = 7, tag: str = "L"):
        self.scale, self.tag = scale, tag
        self.rng = rng = random.Random(f"{seed}:live")
        self.city = City.build(scale.checkpoints)
        self.units: list[_Unit] = []
        for u in build_units(random.Random(f"{seed}:units"), self.city, scale.units):
            profile = PROFILES[u.unit_type]
            unit = _Unit(u.unit_id, u.unit_type, u.is_police, u.home, u.pos[0], u.pos[1], profile.beat_km,
                         rng.uniform(*profile.patrol_kmh), rng.uniform(0, 360))
            if u.unit_type != "foot_patrol" and rng.random() < OFF_DUTY_SHARE:
                unit.status, unit.speed_kmh = "off_duty", 0.0
            self.units.append(unit)
        self.police = [u for u in self.units if u.is_police]
        self.rates = live_rates(scale)
        self.watchlist = self._watchlist(rng, scale.watchlist)
        self._next_unit = 0
        self._passes = 0
        self._alarms = 0
        self._lifecycle: list[tuple[float, int, str, object]] = []  # (due s, seq, step, case)
        self._seq = itertools.count()

    # --- reference data ------------------------------------------------------------------
    @staticmethod
    def _watchlist(rng: random.Random, size: int) -> list[dict]:
        entries = []
        for index in rng.sample(range(PLATE_POOL), size):
            level = rng.choices((1, 2, 3), weights=(5, 3, 2))[0]
            entries.append({"plate": plate_of(index), "level": level, "reason": _REASONS[level]})
        return entries

    def reference_records(self, now: datetime) -> list[tuple[str, str, dict]]:
        """`checkpoints` first, then `watchlist` (a third of it expires in 30 days from `now`)."""
        out = [(CHECKPOINTS, c.checkpoint_id, c.record()) for c in self.city.checkpoints]
        expires = (now + timedelta(days=30)).isoformat(timespec="milliseconds")
        for n, entry in enumerate(self.watchlist):
            value = {**entry, "expires_at": expires} if n % 3 == 0 else entry
            out.append((WATCHLIST, entry["plate"].upper(), value))
        return out

    def batch(self, t: float, ts: str, pings: int, passes: int, alarms: int) -> list[tuple[str, str, dict]]:
        """`pings` pings, `passes` passes, up to `alarms` received alarms and every lifecycle
        record due by `t` (seconds on the load's clock), all stamped `ts`."""
        out = [self.ping(t, ts) for _ in range(pings)]
        out += [self.checkpoint_pass(ts) for _ in range(passes)]
        for _ in range(alarms):
            record = self.received_alarm(t, ts)
            if record is not None:
                out.append(record)
        while (step := self.due_alarm_step(t, ts)) is not None:
            out.append(step)
        return out

    # --- patrol-gps ------------------------------------------------------------------------
    def ping(self, t: float, ts: str) -> tuple[str, str, dict]:
        unit = self.units[self._next_unit]
        self._next_unit = (self._next_unit + 1) % len(self.units)
        self._move(unit, t)
        unit.last_ping_s = t
        value = {"unit_id": unit.unit_id, "ts": ts, "lat": round(unit.lat, 6), "lon": round(unit.lon, 6),
                 "unit_type": unit.unit_type, "status": unit.status, "speed_kmh": round(unit.speed_kmh, 1),
                 "heading_deg": round(unit.heading, 1)}
        if unit.alarm_id is not None:
            value["alarm_id"] = unit.alarm_id
        return PATROL_GPS, unit.unit_id, value

    def _move(self, unit: _Unit, t: float) -> None:
        if unit.route is not None:
            start, end, t0, t1 = unit.route
            f = 1.0 if t >= t1 else max(0.0, (t - t0) / (t1 - t0))
            unit.lat, unit.lon = start[0] + (end[0] - start[0]) * f, start[1] + (end[1] - start[1]) * f
            if f >= 1.0:
                unit.status, unit.speed_kmh = "on_scene", 0.0
            return
        if unit.status != "available" or unit.speed_kmh == 0.0:
            return
        here = (unit.lat, unit.lon)
        if distance_km(here, unit.home) > unit.beat_km:
            unit.heading = bearing_deg(here, unit.home)
        else:
            unit.heading = (unit.heading + self.rng.uniform(-40, 40)) % 360
        step = unit.speed_kmh * PING_S / 3600
        rad = math.radians(unit.heading)
        lat, lon = offset(here, step * math.sin(rad), step * math.cos(rad))
        if BOUNDS[0] < lat < BOUNDS[2] and BOUNDS[1] < lon < BOUNDS[3]:
            unit.lat, unit.lon = lat, lon

    # --- checkpoint-passes -----------------------------------------------------------------
    def checkpoint_pass(self, ts: str) -> tuple[str, str, dict]:
        j = self._passes
        self._passes += 1
        checkpoint = self.city.checkpoints[j % len(self.city.checkpoints)].checkpoint_id
        index = j * _PLATE_STRIDE % PLATE_POOL
        colour = _COLOURS[index % len(_COLOURS)]
        value = {"pass_id": f"PS-{self.tag}-{j:010d}", "checkpoint_id": checkpoint, "ts": ts,
                 "plate": plate_of(index), "plate_color": colour, "vehicle_type": _VEHICLE[colour],
                 "direction": "in" if j % 2 else "out", "speed_kmh": float(30 + index % 50)}
        return CHECKPOINT_PASSES, checkpoint, value

    # --- alarms ----------------------------------------------------------------------------
    def due_alarm_step(self, t: float, ts: str) -> tuple[str, str, dict] | None:
        """The next lifecycle record due by `t` (dispatched, arrived, closed), if any."""
        if not self._lifecycle or self._lifecycle[0][0] > t:
            return None
        _, _, step, case = heapq.heappop(self._lifecycle)
        alarm_id, site, unit = case
        value = {"alarm_id": alarm_id, "status": step, "ts": ts}
        if step == "dispatched":
            unit.status, unit.alarm_id, unit.speed_kmh = "dispatched", alarm_id, 50.0
            unit.heading = bearing_deg((unit.lat, unit.lon), site)
            unit.route = ((unit.lat, unit.lon), site, t, t + ON_SCENE_AFTER_S - DISPATCH_AFTER_S)
            value["unit_id"] = unit.unit_id
        elif step == "arrived":
            value["unit_id"] = unit.unit_id
        else:
            unit.status, unit.alarm_id, unit.route, unit.reserved = "available", None, None, False
            unit.speed_kmh = self.rng.uniform(*PROFILES[unit.unit_type].patrol_kmh)
            value["disposition"] = "已处理完毕"
        return ALARMS, alarm_id, value

    def received_alarm(self, t: float, ts: str) -> tuple[str, str, dict] | None:
        """A new alarm near an available police unit with a fresh ping; None while no unit
        qualifies (the first seconds of a load). Its lifecycle is scheduled from `t`."""
        unit = self._responder(t)
        if unit is None:
            return None
        rng = self.rng
        for _ in range(10):
            r, a = ALARM_NEAR_KM * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
            site = offset((unit.lat, unit.lon), r * math.cos(a), r * math.sin(a))
            if self.city.contains(site):
                break
        else:
            site = (unit.lat, unit.lon)
        self._alarms += 1
        alarm_id = f"AL-{self.tag}-{self._alarms:08d}"
        category = rng.choices(_CATEGORY_NAMES, weights=_CATEGORY_SHARES)[0]
        priority = rng.choices((1, 2, 3, 4), weights=CATEGORIES[category][1])[0]
        value = {"alarm_id": alarm_id, "status": "received", "ts": ts, "lat": round(site[0], 6),
                 "lon": round(site[1], 6), "category": category, "priority": priority,
                 "summary": CATEGORIES[category][2]}
        unit.reserved = True  # not offered to a second alarm
        case = (alarm_id, site, unit)
        for step, after in (("dispatched", DISPATCH_AFTER_S), ("arrived", ARRIVED_AFTER_S),
                            ("closed", CLOSED_AFTER_S)):
            heapq.heappush(self._lifecycle, (t + after, next(self._seq), step, case))
        return ALARMS, alarm_id, value

    def _responder(self, t: float) -> _Unit | None:
        for _ in range(30):
            unit = self.police[self.rng.randrange(len(self.police))]
            if (unit.status == "available" and not unit.reserved and unit.last_ping_s is not None
                    and t - unit.last_ping_s < 2 * PING_S):
                return unit
        return None

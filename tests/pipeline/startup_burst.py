"""A burst of a small city's last eight minutes, event times ending now, and the situations
it must give: the start-up scenario of a fresh worker (tests/pipeline/test_startup_holds.py).

Six units (five police, one auxiliary) ping every 10 s; twelve alarms: five thefts in one
cell (a hotspot), three disputes in another (a crowd gathering), one priority-1 alarm far
from every police unit (a coverage gap, then overdue), three more; one unit falls silent
(offline); one is dispatched to an alarm and arrives; passes at three checkpoints, one of a
watch-listed plate and one plate seen at two checkpoints 30 km apart within a minute. With
8 partitions most feed partitions get no record at all (three checkpoints, six units).
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta, timezone

from topics.geo import geohash, haversine_km

__all__ = ["StartupBurst"]

SPAN = timedelta(minutes=8)


def _iso(ts: datetime) -> str:
    return ts.astimezone(timezone(timedelta(hours=8))).isoformat(timespec="milliseconds")


class StartupBurst:
    def __init__(self, now: datetime | None = None, seed: int | None = None):
        rng = random.Random(seed)
        self.now = (now or datetime.now(timezone.utc)).replace(microsecond=0)
        self.t0 = self.now - SPAN
        tag = f"{rng.randrange(16 ** 4):04x}"
        self.tag = tag
        # A site of its own each run (cells and ClickHouse rows of earlier runs stay apart),
        # where each burst's alarms all fall in one cell.
        def one_cell(lat, lon, count):
            return all(geohash(lat + 0.0002 * i, lon) == geohash(lat, lon) for i in range(count))

        while True:
            lat, lon = 30.6 + rng.random() * 0.5, 120.9 + rng.random() * 0.6
            if one_cell(lat, lon, 6) and one_cell(lat + 0.03, lon + 0.03, 3):
                break
        self.site = (lat, lon)
        crowd = (lat + 0.03, lon + 0.03)
        far = (lat + 0.3, lon)  # ~33 km north: no police unit within 10 km
        self.units = {
            f"U{tag}-1": ("police_car", lat + 0.005, lon),
            f"U{tag}-2": ("police_car", lat, lon + 0.006),
            f"U{tag}-3": ("motorcycle", crowd[0] + 0.004, crowd[1]),
            f"U{tag}-4": ("foot_patrol", lat - 0.004, lon - 0.004),
            f"U{tag}-5": ("security_guard", far[0] + 0.002, far[1]),  # auxiliary, at the far alarm
            f"U{tag}-6": ("police_car", lat + 0.01, lon + 0.01),  # falls silent at t0 + 2 min
        }
        self.silent_unit = f"U{tag}-6"
        self.arriving_unit = f"U{tag}-1"
        a = lambda i: f"AL{tag}-{i:02d}"  # noqa: E731
        alarms = []
        for i in range(5):  # hotspot: 5 in one cell within 15 min
            alarms.append(self._received(a(i), 1 + i * 0.5, lat + 0.0002 * i, lon, "theft", 4))
        for i in range(3):  # crowd gathering: 3 disputes within 10 min
            alarms.append(self._received(a(5 + i), 2 + i * 0.5, crowd[0] + 0.0002 * i, crowd[1], "dispute", 4))
        alarms.append(self._received(a(8), 1, *far, "violent", 1))  # coverage gap, overdue at t0 + 6
        for i in range(3):
            alarms.append(self._received(a(9 + i), 5 + i, lat - 0.005 * (i + 1), lon + 0.01, "fraud", 4))
        self.overdue_alarm = a(8)
        self.arrival_alarm = a(9)
        self.received = [r["alarm_id"] for r in alarms]
        alarms.append({"alarm_id": a(9), "status": "dispatched", "ts": _iso(self.t0 + timedelta(minutes=5, seconds=30)),
                       "unit_id": self.arriving_unit})
        self.alarms = alarms
        self.pings = list(self._pings())
        self.checkpoints = {
            f"CP{tag}-A": (lat + 0.02, lon - 0.02),
            f"CP{tag}-B": (lat - 0.02, lon + 0.02),
            f"CP{tag}-C": (lat + 0.27, lon + 0.02),  # ~30 km from A
        }
        self.watched_plate = f"沪W{tag.upper()}"
        self.cloned_plate = f"沪C{tag.upper()}"
        self.passes = list(self._passes(rng))

    @staticmethod
    def _received(alarm_id, minute, lat, lon, category, priority):
        return {"alarm_id": alarm_id, "status": "received", "ts": None, "_minute": minute,
                "lat": lat, "lon": lon, "category": category, "priority": priority}

    def _pings(self):
        arrival_site = next(r for r in self.alarms if r["alarm_id"] == self.arrival_alarm)
        for step in range(int(SPAN.total_seconds() // 10) + 1):
            ts = self.t0 + timedelta(seconds=10 * step)
            for unit_id, (unit_type, lat, lon) in self.units.items():
                if unit_id == self.silent_unit and ts > self.t0 + timedelta(minutes=2):
                    continue
                ping = {"unit_id": unit_id, "ts": _iso(ts), "lat": lat, "lon": lon,
                        "unit_type": unit_type, "status": "available"}
                if unit_id == self.arriving_unit and ts >= self.t0 + timedelta(minutes=6):
                    # Dispatched at t0 + 5.5 min, on the alarm's site from t0 + 6.
                    ping.update(lat=arrival_site["lat"] + 0.0003, lon=arrival_site["lon"],
                                status="dispatched", alarm_id=self.arrival_alarm)
                yield ping

    def _passes(self, rng):
        ids = iter(range(10 ** 6))
        for step in range(int(SPAN.total_seconds() // 5)):
            ts = self.t0 + timedelta(seconds=5 * step)
            for checkpoint_id in self.checkpoints:
                yield self._pass(next(ids), checkpoint_id, ts, f"沪A{self.tag}{step:03d}{checkpoint_id[-1]}")
        yield self._pass(next(ids), f"CP{self.tag}-B", self.t0 + timedelta(minutes=3), self.watched_plate)
        yield self._pass(next(ids), f"CP{self.tag}-A", self.t0 + timedelta(minutes=4), self.cloned_plate)
        yield self._pass(next(ids), f"CP{self.tag}-C", self.t0 + timedelta(minutes=4, seconds=20), self.cloned_plate)

    def _pass(self, n, checkpoint_id, ts, plate):
        return {"pass_id": f"P{self.tag}-{n}", "checkpoint_id": checkpoint_id, "ts": _iso(ts), "plate": plate,
                "plate_color": "blue", "vehicle_type": "car", "speed_kmh": 40.0 + n % 20}

    # --- what goes to Kafka ----------------------------------------------------------
    def reference(self):
        """(topic, key, value) of the reference data, sent before the feeds."""
        for checkpoint_id, (lat, lon) in self.checkpoints.items():
            yield "checkpoints", checkpoint_id, {"checkpoint_id": checkpoint_id, "name": checkpoint_id,
                                                 "lat": lat, "lon": lon, "district": "Dongping"}
        yield "watchlist", self.watched_plate.upper(), {"plate": self.watched_plate, "level": 2, "reason": "test"}

    def feeds(self):
        """(topic, key, value) of every feed record, in event-time order."""
        records = []
        for alarm in self.alarms:
            record = {k: v for k, v in alarm.items() if k != "_minute"}
            if "_minute" in alarm:
                record["ts"] = _iso(self.t0 + timedelta(minutes=alarm["_minute"]))
            records.append((record["ts"], "alarms", record["alarm_id"], record))
        records += [(p["ts"], "patrol-gps", p["unit_id"], p) for p in self.pings]
        records += [(p["ts"], "checkpoint-passes", p["checkpoint_id"], p) for p in self.passes]
        records.sort(key=lambda r: datetime.fromisoformat(r[0]))
        return [(topic, key, value) for _, topic, key, value in records]

    # --- what must come out ----------------------------------------------------------
    @staticmethod
    def occurrence(situation: dict) -> tuple[str, str]:
        """(type, subject) of a situation; a cell's bursts by their cell."""
        kind = situation["type"]
        return kind, situation["cell"] if kind in ("alarm_hotspot", "crowd_gathering") else situation["subject"]

    def expected(self) -> Counter:
        """Situations per `occurrence` that the burst must give, each once."""
        police_near = set(self.received) - {self.overdue_alarm}
        want = Counter({("dispatch_recommendation", alarm_id): 1 for alarm_id in police_near})
        want[("coverage_gap", self.overdue_alarm)] = 1
        want[("response_overdue", self.overdue_alarm)] = 1
        want[("alarm_hotspot", geohash(*self.site))] = 1
        crowd = next(r for r in self.alarms if r["category"] == "dispute")
        want[("crowd_gathering", geohash(crowd["lat"], crowd["lon"]))] = 1
        want[("unit_offline", self.silent_unit)] = 1
        want[("arrival_detected", self.arrival_alarm)] = 1
        want[("watchlist_hit", self.watched_plate)] = 1
        want[("cloned_plate", self.cloned_plate)] = 1
        # The watched pass near an incident of a suspect category, within 30 min.
        lat, lon = self.checkpoints[f"CP{self.tag}-B"]
        near = [r for r in self.alarms if r["status"] == "received"
                and r["category"] in ("violent", "theft", "fraud", "gathering")
                and haversine_km(lat, lon, r["lat"], r["lon"]) <= 2.0]
        if near:
            want[("suspect_near_incident", self.watched_plate)] = len(near)
        return want

"""Emergency calls (110) on `alarms`: a Poisson stream of background incidents and the
simulated dispatchers that see each one through received -> dispatched -> arrived -> closed
(or cancelled).

A background alarm is only received where the pipeline would find an available police
unit within 2.5 km (a margin under the 3 km of `coverage_gap`) and where a free car or
motorcycle can be there within 70 % of the priority's SLA and before the run ends; the
dispatcher reserves that unit on receipt and sends it 20-60 s later. When no place
passes in 30 tries the call is dropped and counted (`skipped`).
"""

from __future__ import annotations

import random

from topics.geo import geohash
from topics.specs import ALARMS

from .city import City
from .config import ALARM_CURVE, SLA_MIN, CityScale, daily_factor
from .engine import MINUTE, SECOND, Engine
from .fleet import Fleet
from .geometry import Point
from .incidents import AlarmCase, IncidentLog
from .units import PROFILES, RESPONDER_TYPES, Unit

__all__ = ["Dispatcher", "BackgroundAlarms", "CATEGORIES", "COVER_KM"]

COVER_KM = 2.5
DISPATCH_DELAY_S = (20, 60)
SLA_SHARE = 0.7
SLACK_S = 30  # ping cadence and the officer pressing "arrived"
FASTEST_KMH = max(PROFILES[t].response_kmh for t in RESPONDER_TYPES)

# category: (share, weights of priorities 1..4, summary)
CATEGORIES = {
    "theft": (0.22, (0, 3, 6, 1), "报警人称财物被盗"),
    "dispute": (0.20, (0, 2, 7, 1), "现场发生纠纷"),
    "traffic": (0.18, (1, 5, 4, 0), "道路交通事故"),
    "medical": (0.10, (4, 5, 1, 0), "有人突发疾病需要救助"),
    "other": (0.11, (0, 1, 5, 4), "群众求助"),
    "fraud": (0.08, (0, 1, 5, 4), "报警人称遭遇电信诈骗"),
    "violent": (0.05, (6, 4, 0, 0), "现场有人持械斗殴"),
    "gathering": (0.03, (1, 6, 3, 0), "现场人员聚集"),
    "fire": (0.03, (8, 2, 0, 0), "发现火情"),
}
_STREETS = ("幸福路", "和平街", "民生路", "光明街", "建设路", "文化路", "人民路", "团结巷")
_CLOSINGS = ("已处理完毕", "当事人已调解", "已移交相关部门", "现场已恢复秩序")


class Dispatcher:
    def __init__(self, engine: Engine, city: City, fleet: Fleet, log: IncidentLog, rng: random.Random):
        self.engine, self.city, self.fleet, self.log, self.rng = engine, city, fleet, log, rng
        fleet.listener = self

    def new_case(self, t: int, site: Point, category: str, priority: int, injected: str | None = None) -> AlarmCase:
        case = AlarmCase(self.engine.next_id("AL", 6), t, site, geohash(*site),
                         self.city.district_of(site) or "", category, priority, injected)
        self.log.add(case)
        return case

    def responder_for(self, site: Point, t: int, priority: int) -> Unit | None:
        """The free responder that can be on scene well within the SLA, if any."""
        budget_s = min(SLA_SHARE * SLA_MIN[priority] * 60, (self.engine.end_ms - MINUTE - t) / SECOND)
        travel_s = budget_s - DISPATCH_DELAY_S[1] - SLACK_S
        if travel_s <= 0:
            return None
        best = self.fleet.best_responder(site, t, max_km=travel_s / 3600 * FASTEST_KMH + 0.5)
        return best[1] if best is not None and best[0] <= travel_s else None

    def plan_priority(self, site: Point, t: int, allowed=(1, 2, 3, 4)) -> tuple[int, Unit | None]:
        """The most urgent allowed priority some responder can meet (for staged alarms)."""
        for priority in allowed:
            unit = self.responder_for(site, t, priority)
            if unit is not None:
                return priority, unit
        return allowed[-1], None

    # --- lifecycle ---------------------------------------------------------------------
    def receive(self, case: AlarmCase) -> None:
        lat, lon = case.site
        case.state = "received"
        phone = "1" + self.rng.choice("358") + "".join(self.rng.choices("0123456789", k=9))
        self.engine.emit(ALARMS, case.alarm_id, {
            "alarm_id": case.alarm_id, "status": "received", "ts": self.engine.ts(),
            "lat": round(lat, 6), "lon": round(lon, 6), "category": case.category,
            "priority": case.priority, "district": case.district,  # sent by the call centre: it wins
            "address": f"{case.district} {self.rng.choice(_STREETS)} {self.rng.randint(1, 999)}号",
            "summary": CATEGORIES[case.category][2], "caller_phone": phone,
        })

    def receive_and_answer(self, case: AlarmCase, unit: Unit | None, if_unanswered: str) -> None:
        """Receive the call now and send the unit; with none to send, the caller calls it
        off after 3 minutes (before any SLA runs out)."""
        self.receive(case)
        if unit is not None:
            self.respond(case, unit)
        else:
            self.engine.after(3 * MINUTE, self.cancel, case, if_unanswered, "received")

    def respond(self, case: AlarmCase, unit: Unit, delay_s: float | None = None) -> None:
        """Reserve the unit now and dispatch it after the call-taking delay."""
        self.fleet.reserve(unit)
        case.responder = unit
        delay = self.rng.uniform(*DISPATCH_DELAY_S) if delay_s is None else delay_s
        self.engine.after(delay * SECOND, self._dispatch, case)

    def dispatch_late(self, case: AlarmCase) -> None:
        """Send whoever is free now, however far (after an SLA was already missed)."""
        if case.state != "received":
            return
        best = self.fleet.best_responder(case.site, self.engine.now)
        if best is None:
            self.close(case, "无警力可派，已转社区民警跟进")
        else:
            self.respond(case, best[1], delay_s=0)

    def _dispatch(self, case: AlarmCase) -> None:
        if case.state != "received":
            return
        case.state = "dispatched"
        self.fleet.assign(case.responder, case)
        self._emit(case, "dispatched", unit_id=case.responder.unit_id)

    def on_en_route(self, unit: Unit, remaining_km: float) -> None:
        case = unit.case
        if case.early_arrival_km is not None and case.state == "dispatched" and remaining_km >= case.early_arrival_km:
            self._arrived(case, delay_s=1)

    def on_arrival(self, unit: Unit) -> None:
        case = unit.case
        if case.state == "dispatched":
            self._arrived(case, delay_s=self.rng.uniform(1, 10))
        self.engine.after(self.rng.uniform(5, 20) * MINUTE + 10 * SECOND, self.close, case)

    def _arrived(self, case: AlarmCase, delay_s: float) -> None:
        case.state = "arrived"
        self.engine.after(delay_s * SECOND, self._emit_arrived, case)

    def _emit_arrived(self, case: AlarmCase) -> None:
        self._emit(case, "arrived", unit_id=case.responder.unit_id)
        if case.on_arrived:
            case.on_arrived(case)

    def close(self, case: AlarmCase, disposition: str | None = None) -> None:
        if case.state in ("closed", "cancelled"):
            return
        self._finish(case, "closed", disposition or self.rng.choice(_CLOSINGS))

    def cancel(self, case: AlarmCase, disposition: str, unless_after: str = "dispatched") -> None:
        """Cancel unless the case has already got further than `unless_after`."""
        order = ("planned", "received", "dispatched", "arrived", "closed", "cancelled")
        if order.index(case.state) <= order.index(unless_after):
            self._finish(case, "cancelled", disposition)

    def _finish(self, case: AlarmCase, status: str, disposition: str) -> None:
        case.state = status
        unit = case.responder
        if unit is not None and (unit.case is case or unit.reserved):
            self.fleet.release(unit)
        self._emit(case, status, disposition=disposition)

    def _emit(self, case: AlarmCase, status: str, **fields) -> None:
        self.engine.emit(ALARMS, case.alarm_id,
                         {"alarm_id": case.alarm_id, "status": status, "ts": self.engine.ts(), **fields})


class BackgroundAlarms:
    """Alarms as a non-homogeneous Poisson process (thinning) over hot areas."""

    def __init__(self, engine: Engine, city: City, scale: CityScale, dispatcher: Dispatcher, rng: random.Random):
        self.engine, self.city, self.dispatcher, self.rng = engine, city, dispatcher, rng
        self.peak_per_ms = scale.alarms_per_hour / 3_600_000
        self.skipped = 0

    def start(self) -> None:
        self.engine.at(int(self.rng.expovariate(self.peak_per_ms)), self._candidate)

    def _candidate(self) -> None:
        if self.rng.random() < daily_factor(ALARM_CURVE, self.engine.local_hour()):
            self._alarm(self.engine.now)
        self.engine.after(self.rng.expovariate(self.peak_per_ms) + 1, self._candidate)

    def _alarm(self, t: int) -> None:
        names = list(CATEGORIES)
        category = self.rng.choices(names, weights=[CATEGORIES[n][0] for n in names])[0]
        priority = self.rng.choices((1, 2, 3, 4), weights=CATEGORIES[category][1])[0]
        for _ in range(30):
            site = self._place()
            if not self.dispatcher.log.site_ok(site, t, category):
                continue
            if not self.dispatcher.fleet.covered(site, t, COVER_KM):
                continue
            unit = self.dispatcher.responder_for(site, t, priority)
            if unit is None:
                continue
            case = self.dispatcher.new_case(t, site, category, priority)
            self.dispatcher.receive(case)
            if self.rng.random() < 0.03:  # caller hangs up: cancelled before any dispatch
                self.engine.after(self.rng.uniform(5, 15) * SECOND, self.dispatcher.cancel, case, "报警人撤警", "received")
                return
            self.dispatcher.respond(case, unit)
            if self.rng.random() < 0.03:  # called off while the unit is on its way
                self.engine.after(80 * SECOND, self.dispatcher.cancel, case, "误报，已撤销", "dispatched")
            return
        self.skipped += 1

    def _place(self) -> Point:
        return self.city.hot_point(self.rng) if self.rng.random() < 0.8 else self.city.random_point(self.rng)

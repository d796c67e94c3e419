"""Staged alarm and GPS incidents (scenario group `core`). Each function stages one
occurrence at the current clock time, writes it to the ground truth, and returns False
when no place or unit fits right now (the scheduler then retries)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from topics.geo import geohash, haversine_km

from .alarms import COVER_KM
from .config import SLA_MIN
from .engine import MINUTE, SECOND
from .geometry import Point, distance_km, offset, random_in_disk
from .incidents import SUSPECT_CATEGORIES

if TYPE_CHECKING:
    from .scenarios import Stage

__all__ = ["CORE_STAGINGS"]

GAP_CLEAR_KM = 3.5  # no available police within this of a coverage gap (rule: 3 km)
MISMATCH_KM = 2.0  # how far from the unit a mismatch alarm is placed
EARLY_REPORT_KM = 1.0  # `arrived` is pressed this far out (rule: 500 m)


def _ring_point(stage: "Stage", centre: Point, lo_km: float, hi_km: float) -> Point:
    r, a = stage.rng.uniform(lo_km, hi_km), stage.rng.uniform(0, 2 * math.pi)
    return offset(centre, r * math.cos(a), r * math.sin(a))


def _in_cell(stage: "Stage", centre: Point, cell: str) -> Point:
    for _ in range(50):
        p = random_in_disk(stage.rng, centre, 0.25)
        if geohash(*p) == cell:
            return p
    return centre


def _burst(stage: "Stage", kind: str, categories: list[str], threshold: int, gap_s: tuple[int, int]) -> bool:
    """Alarms in one cell in quick succession; a held police car keeps the cell covered."""
    engine, log, rng = stage.engine, stage.log, stage.rng
    t0 = engine.now
    times = [t0]
    for _ in categories[1:]:
        times.append(times[-1] + int(rng.uniform(*gap_s) * SECOND))
    if times[-1] + 5 * MINUTE > engine.end_ms:
        return False
    zone = stage.city.quiet_zone
    holders = stage.fleet.free_responders(t0)
    rng.shuffle(holders)
    for holder in holders[:20]:
        centre = _ring_point(stage, holder.last_ping[1], 0.3, 1.0)
        cell = geohash(*centre)
        if (not stage.city.contains(centre) or stage.city.district_of(centre) is None
                or distance_km(centre, zone.centre) < zone.police_free_km + 1.5
                or cell in stage.burst_cells
                or log.in_cell(cell, t0 - 30 * MINUTE, times[-1] + 30 * MINUTE)):
            continue
        sites = [_in_cell(stage, centre, cell) for _ in categories]
        if any(c in SUSPECT_CATEGORIES and log.watched_near(p, t) for c, p, t in zip(categories, sites, times)):
            continue
        stage.burst_cells.add(cell)
        log.reserve_burst(cell, times[0], times[-1])
        stage.fleet.hold(holder, centre, 0.8, times[-1] + 2 * MINUTE)
        priority, unit = stage.dispatcher.plan_priority(sites[0], t0, (2, 3, 4))
        cases = [stage.dispatcher.new_case(t, p, c, priority, kind) for t, p, c in zip(times, sites, categories)]
        first = cases[0]
        stage.dispatcher.receive_and_answer(first, unit, "报警人称已自行处理")
        for case in cases[1:]:
            engine.at(case.ts, stage.dispatcher.receive, case)
            engine.at(case.ts + int(rng.uniform(60, 150) * SECOND), stage.dispatcher.cancel, case,
                      f"重复报警，已并入{first.alarm_id}", "received")
        stage.truth.add(kind, ("cell", "event_time"), times[threshold - 1], cell=cell,
                        window_start=times[0], window_end=times[threshold - 1],
                        alarm_ids=[c.alarm_id for c in cases], count=threshold,
                        lat=round(centre[0], 6), lon=round(centre[1], 6), district=first.district)
        return True
    return False


def stage_alarm_hotspot(stage: "Stage") -> bool:
    """Six calls within ~10 minutes about a pile-up: the fifth makes the hotspot."""
    kinds = ["traffic"] + stage.rng.choices(("traffic", "medical", "other", "fire"), k=5)
    return _burst(stage, "alarm_hotspot", kinds, 5, (60, 120))


def stage_crowd_gathering(stage: "Stage") -> bool:
    """Three dispute/gathering calls within ~5 minutes in one cell (not a hotspot cell)."""
    kinds = ["gathering", "dispute", "gathering"]
    stage.rng.shuffle(kinds)
    return _burst(stage, "crowd_gathering", kinds, 3, (60, 150))


def stage_coverage_gap(stage: "Stage") -> bool:
    """A call from the quiet zone, where no available police is within 3.5 km."""
    engine, fleet, t = stage.engine, stage.fleet, stage.engine.now
    site = random_in_disk(stage.rng, stage.city.quiet_zone.centre, 0.3)
    nearest = fleet.nearest_police_km(site, t)
    if nearest <= GAP_CLEAR_KM or t + 5 * MINUTE > engine.end_ms:
        return False
    priority, unit = stage.dispatcher.plan_priority(site, t)
    case = stage.dispatcher.new_case(t, site, stage.rng.choice(("medical", "fire", "traffic")), priority, "coverage_gap")
    stage.dispatcher.receive_and_answer(case, unit, "报警人已自行前往医院")
    stage.truth.add("coverage_gap", ("alarm_id",), t, alarm_id=case.alarm_id, priority=priority,
                    lat=round(site[0], 6), lon=round(site[1], 6), district=case.district,
                    nearest_police_km=None if math.isinf(nearest) else round(nearest, 3),
                    auxiliary_unit_ids=[u.unit_id for u in fleet.auxiliary_near(site, 1.0)])
    return True


def stage_response_overdue(stage: "Stage") -> bool:
    """A covered call nobody is sent to until two minutes after its SLA has passed."""
    engine, t = stage.engine, stage.engine.now
    priority = next((p for p in (1, 2) if t + (SLA_MIN[p] + 3) * MINUTE <= engine.end_ms), None)
    if priority is None:
        return False
    category = stage.rng.choice(("other", "traffic"))
    for _ in range(30):
        site = stage.city.hot_point(stage.rng)
        if stage.log.site_ok(site, t, category) and stage.fleet.covered(site, t, COVER_KM):
            break
    else:
        return False
    case = stage.dispatcher.new_case(t, site, category, priority, "response_overdue")
    stage.dispatcher.receive(case)
    deadline = t + SLA_MIN[priority] * MINUTE
    engine.at(deadline + 2 * MINUTE, stage.dispatcher.dispatch_late, case)
    stage.truth.add("response_overdue", ("alarm_id",), deadline, alarm_id=case.alarm_id, received_at=t,
                    priority=priority, sla_min=SLA_MIN[priority], lat=round(site[0], 6), lon=round(site[1], 6))
    return True


def stage_arrival_mismatch(stage: "Stage") -> bool:
    """A car sent 2 km away reports `arrived` while still more than 1 km out."""
    t = stage.engine.now
    if t + 10 * MINUTE > stage.engine.end_ms:
        return False
    cars = [u for u in stage.fleet.free_responders(t) if u.unit_type == "police_car"]
    stage.rng.shuffle(cars)
    for unit in cars[:20]:
        site = _ring_point(stage, unit.pos, MISMATCH_KM, MISMATCH_KM)
        if not stage.log.site_ok(site, t, "traffic") or not stage.fleet.covered(site, t, COVER_KM):
            continue
        case = stage.dispatcher.new_case(t, site, "traffic", 3, "arrival_mismatch")
        case.early_arrival_km = EARLY_REPORT_KM
        stage.dispatcher.receive(case)
        stage.dispatcher.respond(case, unit)
        entry = stage.truth.add("arrival_mismatch", ("alarm_id", "unit_id"), None,
                                alarm_id=case.alarm_id, unit_id=unit.unit_id)

        def reported(case, entry=entry, unit=unit):  # the early `arrived` is out: when, how far
            ping = unit.last_ping[1]
            entry.update(event_time=stage.engine.now, ping_distance_km=round(haversine_km(*ping, *case.site), 3))

        case.on_arrived = reported
        return True
    return False


def stage_unit_offline(stage: "Stage") -> bool:
    """A patrol car stops pinging for 4.5-6 minutes while available, then comes back."""
    engine, t = stage.engine, stage.engine.now
    silence_ms = int(stage.rng.uniform(4.5, 6) * MINUTE)
    units = [u for u in stage.fleet.free_responders(t) if u.retire_at is None]
    if not units or t + silence_ms + MINUTE > engine.end_ms:
        return False
    unit = stage.rng.choice(units)
    last = unit.last_ping[0]
    entry = stage.truth.add("unit_offline", ("unit_id",), last + 3 * MINUTE, unit_id=unit.unit_id,
                            last_ping_at=last, resumed_at=None)
    stage.fleet.silence(unit, last + silence_ms, lambda u: entry.update(resumed_at=engine.now))
    return True


CORE_STAGINGS = {
    "alarm_hotspot": stage_alarm_hotspot,
    "crowd_gathering": stage_crowd_gathering,
    "coverage_gap": stage_coverage_gap,
    "response_overdue": stage_response_overdue,
    "arrival_mismatch": stage_arrival_mismatch,
    "unit_offline": stage_unit_offline,
}

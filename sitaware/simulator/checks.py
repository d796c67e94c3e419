"""An independent re-count of the contract's situation rules (§3, default parameters)
over generated records, for the injected kinds.

It shares nothing with the generator but the records: brute force over plain dicts,
written straight from the contract's wording, so it can tell whether the generator's
own bookkeeping (cell caps, reservations, ETAs) really kept the background clear and
really staged each injection. `find_occurrences(records)` returns, per type, every
occurrence the rules define; `match_truth(truth, found)` pairs them with the ground
truth's entries by their `match` keys.

Two readings the contract leaves open are made conservatively here: a unit whose last
ping is not off_duty counts as offline once the feed ends (stream time then advances with
the wall clock), and flow baselines are the up to 12 preceding whole 5-minute windows of
the checkpoint (at least 3), with a Poisson floor on the spread: sigma = max(1.4826 MAD,
sqrt(median), 1).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable

from topics.geo import geohash, haversine_km

from .check_feeds import Feeds, instant_ms

__all__ = ["find_occurrences", "match_truth", "max_alarms_per_cell", "flow_windows", "Feeds", "instant_ms"]

MIN = 60_000
SLA_MIN = {1: 5, 2: 10, 3: 20, 4: 60}
POLICE = {"police_car", "foot_patrol", "motorcycle"}
SUSPECT = {"violent", "theft", "fraud", "gathering"}
WINDOW = 5 * MIN


def _bursts(feeds: Feeds, threshold: int, window: int, categories=None) -> list[dict]:
    by_cell: dict[str, list[int]] = defaultdict(list)
    for a in feeds.received:
        if categories is None or a["category"] in categories:
            by_cell[geohash(a["lat"], a["lon"])].append(a["t"])
    found = []
    for cell, times in by_cell.items():
        emitted: list[int] = []
        for t in times:
            if (sum(t - window < u <= t for u in times) >= threshold
                    and not any(t - window < e <= t for e in emitted)):
                emitted.append(t)
                found.append({"cell": cell, "event_time": t})
    return found


def _coverage_gaps(feeds: Feeds) -> list[dict]:
    found = []
    police = [u for u, ps in feeds.pings.items() if ps[0]["unit_type"] in POLICE]
    for a in feeds.received:
        covered = False
        for unit_id in police:
            p = feeds.latest_ping(unit_id, a["t"])
            if (p and a["t"] - p["t"] <= 2 * MIN and p["status"] == "available"
                    and haversine_km(p["lat"], p["lon"], a["lat"], a["lon"]) <= 3.0):
                covered = True
                break
        if not covered:
            found.append({"alarm_id": a["alarm_id"]})
    return found


def _overdue(feeds: Feeds) -> list[dict]:
    resolved: dict[str, int] = {}
    assigned: dict[str, dict[str, int]] = defaultdict(dict)  # alarm -> unit -> since
    for u in feeds.updates:
        if u["status"] in ("arrived", "closed", "cancelled"):
            resolved.setdefault(u["alarm_id"], u["t"])
        if u["status"] == "dispatched":
            assigned[u["alarm_id"]].setdefault(u["unit_id"], u["t"])
    for unit_id, pings in feeds.pings.items():
        for p in pings:
            if p.get("alarm_id"):
                assigned[p["alarm_id"]].setdefault(unit_id, p["t"])
    found = []
    for a in feeds.received:
        done = resolved.get(a["alarm_id"])
        for unit_id, since in assigned[a["alarm_id"]].items():
            for p in feeds.pings.get(unit_id, []):
                if p["t"] >= since and haversine_km(p["lat"], p["lon"], a["lat"], a["lon"]) <= 0.15:
                    done = p["t"] if done is None else min(done, p["t"])
                    break
        deadline = a["t"] + SLA_MIN[a["priority"]] * MIN
        if done is None or done > deadline:
            found.append({"alarm_id": a["alarm_id"], "event_time": deadline})
    return found


def _arrival_mismatches(feeds: Feeds) -> list[dict]:
    found, seen = [], set()
    for u in feeds.updates:
        if u["status"] != "arrived" or (u["alarm_id"], u["unit_id"]) in seen:
            continue
        p = feeds.latest_ping(u["unit_id"], u["t"])
        site = feeds.site.get(u["alarm_id"])
        if p and site and u["t"] - p["t"] <= 2 * MIN and haversine_km(p["lat"], p["lon"], *site) > 0.5:
            seen.add((u["alarm_id"], u["unit_id"]))
            found.append({"alarm_id": u["alarm_id"], "unit_id": u["unit_id"], "event_time": u["t"]})
    return found


def _offline(feeds: Feeds) -> list[dict]:
    found = []
    for unit_id, pings in feeds.pings.items():
        for p, q in zip(pings, pings[1:] + [None]):
            silent_until = q["t"] if q else float("inf")
            if p["status"] != "off_duty" and silent_until - p["t"] >= 3 * MIN:
                found.append({"unit_id": unit_id, "event_time": p["t"] + 3 * MIN})
    return found


def _watched_passes(feeds: Feeds) -> list[dict]:
    out = []
    for p in feeds.passes:
        entry = feeds.watchlist.get(p["plate"].upper())
        if entry and (not entry.get("expires_at") or p["t"] < instant_ms(entry["expires_at"])):
            out.append(p)
    return out


def _suspects(feeds: Feeds) -> list[dict]:
    found = []
    for p in _watched_passes(feeds):
        cp = feeds.checkpoints[p["checkpoint_id"]]
        for a in feeds.received:
            if (a["category"] in SUSPECT and abs(a["t"] - p["t"]) <= 30 * MIN
                    and haversine_km(*cp, a["lat"], a["lon"]) <= 2.0):
                found.append({"alarm_id": a["alarm_id"], "pass_id": p["pass_id"]})
    return found


def _clones(feeds: Feeds) -> list[dict]:
    by_plate: dict[tuple, list[dict]] = defaultdict(list)
    for p in feeds.passes:
        by_plate[(p["plate"].upper(), p["plate_color"])].append(p)
    found = []
    for passes in by_plate.values():
        for i, a in enumerate(passes):
            for b in passes[i + 1:]:
                hours = (b["t"] - a["t"]) / 3_600_000
                if hours > 2:
                    break
                km = haversine_km(*feeds.checkpoints[a["checkpoint_id"]], *feeds.checkpoints[b["checkpoint_id"]])
                if km > 1.0 and (hours == 0 or km / hours > 200):
                    found.append({"pass_ids": [a["pass_id"], b["pass_id"]], "speed_kmh": km / hours if hours else None})
    return found


def flow_windows(feeds: Feeds) -> dict[str, list[tuple[int, int]]]:
    """Per checkpoint: (window_start, passes) for every whole 5-minute window of the run."""
    first = -(-feeds.start // WINDOW) * WINDOW
    last = feeds.end // WINDOW * WINDOW  # windows start before this one's end
    counts: dict[str, dict[int, int]] = {c: defaultdict(int) for c in feeds.checkpoints}
    for p in feeds.passes:
        counts[p["checkpoint_id"]][p["t"] // WINDOW * WINDOW] += 1
    return {c: [(w, n[w]) for w in range(first, last, WINDOW)] for c, n in counts.items()}


def _flow(feeds: Feeds) -> list[dict]:
    found = []
    for checkpoint_id, windows in flow_windows(feeds).items():
        for k in range(3, len(windows)):
            baseline = [n for _, n in windows[max(0, k - 12):k]]
            median = statistics.median(baseline)
            mad = statistics.median(abs(n - median) for n in baseline)
            sigma = max(1.4826 * mad, median ** 0.5, 1.0)
            window_start, count = windows[k]
            deviation = abs(count - median)
            if deviation >= 20 and deviation / sigma >= 4:
                found.append({"checkpoint_id": checkpoint_id, "window_start": window_start})
    return found


_FINDERS = {
    "alarm_hotspot": lambda f: _bursts(f, 5, 15 * MIN),
    "crowd_gathering": lambda f: _bursts(f, 3, 10 * MIN, {"dispute", "gathering"}),
    "coverage_gap": _coverage_gaps,
    "response_overdue": _overdue,
    "arrival_mismatch": _arrival_mismatches,
    "unit_offline": _offline,
    "watchlist_hit": lambda f: [{"pass_id": p["pass_id"]} for p in _watched_passes(f)],
    "suspect_near_incident": _suspects,
    "cloned_plate": _clones,
    "flow_anomaly": _flow,
}


def find_occurrences(records: Iterable, start: str | None = None, end: str | None = None) -> dict[str, list[dict]]:
    """Every occurrence of each injected kind in the records ((topic, key, value) triples)."""
    feeds = Feeds(records, start, end)
    return {kind: [{"type": kind, **o} for o in finder(feeds)] for kind, finder in _FINDERS.items()}


def _key(entry: dict, names: list[str] | None = None) -> tuple:
    def norm(name, value):
        if isinstance(value, str) and name in ("event_time", "window_start"):
            return instant_ms(value)
        return tuple(value) if isinstance(value, list) else value

    return tuple((name, norm(name, entry.get(name))) for name in names or entry["match"])


def match_truth(truth: dict, found: dict[str, list[dict]]) -> tuple[list[dict], list[dict]]:
    """(truth entries no occurrence matches, occurrences no truth entry explains)."""
    names = {e["type"]: e["match"] for e in truth["injections"]}
    expected = {_key(e) for e in truth["injections"]}
    seen = {_key(o, names[kind]) for kind, occ in found.items() if kind in names for o in occ}
    missing = [e for e in truth["injections"] if _key(e) not in seen]
    unexpected = [o for kind, occ in found.items() for o in occ
                  if kind not in names or _key(o, names[kind]) not in expected]
    return missing, unexpected


def max_alarms_per_cell(records: Iterable, window_ms: int = 15 * MIN) -> int:
    """The most received alarms any geohash-6 cell has in any window of that length."""
    by_cell: dict[str, list[int]] = defaultdict(list)
    for topic, _key, value in records:
        if topic == "alarms" and value["status"] == "received":
            by_cell[geohash(value["lat"], value["lon"])].append(instant_ms(value["ts"]))
    return max((sum(t - window_ms < u <= t for u in ts) for ts in by_cell.values() for t in ts), default=0)

"""The records of a run as the rule re-counts in `checks` read them."""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

__all__ = ["Feeds", "instant_ms"]


def instant_ms(value: str) -> int:
    return round(datetime.fromisoformat(value).timestamp() * 1000)


class Feeds:
    """The records of a run, split by topic with instants parsed (`t`, epoch ms) and
    indexed for the rule re-counts; `start`/`end` bound the run (default: its records)."""

    def __init__(self, records: Iterable, start: str | None, end: str | None):
        by_topic: dict[str, list[dict]] = defaultdict(list)
        for topic, _key, value in records:
            value = dict(value)
            if "ts" in value:
                value["t"] = instant_ms(value["ts"])
            by_topic[topic].append(value)
        alarms = sorted(by_topic["alarms"], key=lambda a: a["t"])
        self.received = [a for a in alarms if a["status"] == "received"]
        self.updates = [a for a in alarms if a["status"] != "received"]
        self.site = {a["alarm_id"]: (a["lat"], a["lon"]) for a in self.received}
        self.pings: dict[str, list[dict]] = defaultdict(list)
        for p in sorted(by_topic["patrol-gps"], key=lambda p: p["t"]):
            self.pings[p["unit_id"]].append(p)
        self.ping_times = {u: [p["t"] for p in ps] for u, ps in self.pings.items()}
        self.passes = sorted(by_topic["checkpoint-passes"], key=lambda p: p["t"])
        self.checkpoints = {c["checkpoint_id"]: (c["lat"], c["lon"]) for c in by_topic["checkpoints"]}
        self.watchlist = {w["plate"].upper(): w for w in by_topic["watchlist"]}
        times = [r["t"] for rs in (alarms, self.passes) for r in rs] + [t for ts in self.ping_times.values() for t in ts]
        self.start = instant_ms(start) if start else min(times, default=0)
        self.end = instant_ms(end) if end else max(times, default=0)

    def latest_ping(self, unit_id: str, t: int) -> dict | None:
        i = bisect_right(self.ping_times.get(unit_id, []), t)
        return self.pings[unit_id][i - 1] if i else None

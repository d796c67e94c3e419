"""Sector agent: `dispatch_recommendation` and `coverage_gap` — the join of received alarms
with the fleet's recent positions, by sector (`streams/sectors.py`).

Input `<app>-sectors` (key sector) carries three kinds of record:
  - pings      unit positions, from the unit agent: each ping is copied to every sector
               within 10 km, one record per sector per batch the unit agent took (a
               `ping` record holds a single position, as older workers sent);
  - alarm      a received alarm, from the alarm agent, to its own sector;
  - watermark  from each `patrol-gps` and `alarms` partition's owner, every tick: no more
               pings (alarms) from that partition older than `ts` will come.
A two-sided watermark join: an alarm is judged once every patrol-gps partition's watermark
has passed its ts, so it sees exactly the positions with ts <= A.ts, whatever order and
pace the feeds were consumed in; a ping is forgotten only once every alarms partition's
watermark says no alarm that could need it is still to come. Tables (keyed "<sector>|...", so they live in
the sector's partition): `fleet` and `sector-alarms` (pending or done). A `fleet` key
holds the new positions of one pings record ("<sector>|<offset>"), so a batch costs one
changelog write, and it is deleted once none of its positions is held any more. The
in-memory index of both is a cache of the tables, rebuilt after each rebalance.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone

import orjson

from streams.agents._cache import RebalanceCache
from streams.holds import marks_wanted
from streams.agents._fleet import FleetIndex, fleet_key, fleet_key_order, latest_at
from streams.partitioning import partition_of
from streams.situations import coverage_gap, dispatch_recommendation
from topics.records import Alarm, Situation

__all__ = ["register", "HALO_KM"]

HALO_KM = 10.0  # the largest radius any alarm-time model searches


def register(pipeline) -> None:
    app, settings = pipeline.app, pipeline.settings
    n = settings.topic_partitions
    fleet = pipeline.table("fleet")
    judged = pipeline.table("sector-alarms")
    dispatch_params = dispatch_recommendation.DispatchRecommendationParams()
    gap_params = coverage_gap.CoverageGapParams()
    keep = dispatch_params.max_ping_age + timedelta(minutes=1)
    fleets: dict[int, FleetIndex] = defaultdict(FleetIndex)  # partition -> its positions
    pending: dict[int, dict[str, Alarm]] = defaultdict(dict)  # partition -> alarm key -> Alarm
    # partition -> (feed, source partition) -> watermark
    watermarks: dict[int, dict[tuple[str, int], datetime]] = defaultdict(dict)
    done: dict[int, dict[str, datetime]] = defaultdict(dict)  # judged keys kept to dedupe
    # Fleet keys that hold no position after a rebuild: deleted in their partition's
    # stream context (a table write goes to the current event's partition).
    unheld: dict[int, list[str]] = defaultdict(list)
    holds = pipeline.holds

    def gps_marks(partition: int) -> dict:
        return {"patrol-gps": marks_wanted(
            {p: ts for (f, p), ts in watermarks[partition].items() if f == "patrol-gps"}, n)}

    holds.agent("sectors", gps_marks)

    def rebuild() -> None:
        fleets.clear()
        pending.clear()
        holds.clear("sectors")
        unheld.clear()
        for key, value in sorted(fleet.items(), key=lambda kv: fleet_key_order(kv[0])):
            sector = key.split("|", 1)[0]
            partition = partition_of(sector, n)
            # A list per pings record; a single position in keys written by older workers.
            if not fleets[partition].hold(sector, key, value if isinstance(value, list) else [value]):
                unheld[partition].append(key)
        done.clear()
        for key, value in judged.items():
            alarm = Alarm.model_validate(value["alarm"])
            partition = partition_of(key.split("|", 1)[0], n)
            if value["done"]:
                done[partition][key] = alarm.ts
            else:
                pending[partition][key] = alarm
                holds.hold("sectors", key, partition)

    index = RebalanceCache(app, rebuild)

    def on_pings(partition: int, sector: str, offset: int, raw_positions: list[dict]) -> None:
        for key in unheld.pop(partition, ()):
            fleet.pop(key, None)
        key = fleet_key(sector, offset)
        held = fleets[partition]
        new = held.hold(sector, key, raw_positions)
        if not new:
            return  # all re-delivered
        fleet[key] = [raw for raw, _ in new]
        alarms_passed = feed_watermark(partition, "alarms")
        if alarms_passed is None:
            return  # not every alarms partition has spoken: any ping may still be needed
        # Keep what an alarm still to come, or one waiting for the GPS watermark, may need
        # (older than that no alarm still judged can need).
        oldest_pending = min((a.ts for a in pending[partition].values()), default=alarms_passed)
        for unit_id in {p.unit_id for _, p in new}:
            horizon = min(alarms_passed, oldest_pending, held.latest(sector, unit_id).ts) - keep
            for freed in held.trim(sector, unit_id, horizon):
                fleet.pop(freed, None)

    async def on_alarm(partition: int, sector: str, alarm: Alarm) -> None:
        key = f"{sector}|{alarm.alarm_id}"
        stored = judged[key]
        if stored is None:
            judged[key] = {"alarm": alarm.model_dump(mode="json", exclude_none=True), "done": False}
            pending[partition][key] = alarm
            holds.hold("sectors", key, partition)
        elif stored["done"]:
            # A re-delivered alarm is judged once; what its judgement sent is sent again
            # (a crash may have lost it while this table kept the judgement).
            await pipeline.emit([Situation.model_validate(s) for s in stored.get("sent", [])])

    def feed_watermark(partition: int, feed: str) -> datetime | None:
        marks = [ts for (f, _), ts in watermarks[partition].items() if f == feed]
        return min(marks) if len(marks) == n else None  # None until every partition spoke

    async def judge_due(partition: int) -> None:
        passed = feed_watermark(partition, "patrol-gps")
        if passed is None:
            return
        for key, alarm in sorted(pending[partition].items(), key=lambda kv: kv[1].ts):
            if alarm.ts > passed:
                continue
            sector = key.split("|", 1)[0]
            # The models judge each unit by its latest position at or before A.ts: hand
            # them only that one (the same answer from a tenth of the positions).
            seen = [p for pings in fleets[partition].positions[sector].values() if (p := latest_at(pings, alarm.ts))]
            now = datetime.now(timezone.utc)
            situations = [
                *dispatch_recommendation.recommend_dispatch(alarm, seen, dispatch_params, now, locale=settings.locale),
                *coverage_gap.detect_coverage_gap(alarm, seen, gap_params, now, locale=settings.locale),
            ]
            judged[key] = {"alarm": alarm.model_dump(mode="json", exclude_none=True), "done": True,
                           "sent": [s.model_dump(mode="json") for s in situations]}
            del pending[partition][key]
            holds.release("sectors", key)
            done[partition][key] = alarm.ts
            await pipeline.emit(situations)
        # A judged alarm is remembered (to ignore re-deliveries) until records that old are late.
        forget_before = passed - 2 * pipeline.lateness
        for key in [k for k, ts in done[partition].items() if ts < forget_before]:
            del done[partition][key]
            judged.pop(key, None)

    @app.agent(pipeline.sectors, name="sectors")
    async def sector_agent(stream):
        async for event in stream.events():
            try:
                index.fresh()
                partition = event.message.partition
                message = orjson.loads(event.message.value)
                kind = message["kind"]
                if kind == "watermark":
                    watermarks[partition][(message["feed"], message["source"])] = datetime.fromisoformat(message["ts"])
                    await judge_due(partition)
                    continue
                sector = event.message.key.decode()
                if kind == "pings":
                    on_pings(partition, sector, event.message.offset, message["positions"])
                elif kind == "ping":
                    on_pings(partition, sector, event.message.offset, [message["position"]])
                elif kind == "alarm":
                    await on_alarm(partition, sector, Alarm.model_validate(message["alarm"]))
                    await judge_due(partition)
            except Exception as exc:  # the worker never dies of a record
                await pipeline.failed(event, exc)

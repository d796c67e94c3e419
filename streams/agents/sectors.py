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

from bisect import bisect_left, bisect_right
from collections import defaultdict
from datetime import datetime, timedelta, timezone

import orjson

from streams.agents._cache import RebalanceCache
from streams.partitioning import partition_of
from streams.situations import coverage_gap, dispatch_recommendation
from streams.situations.fleet import UnitPosition
from topics.records import Alarm, Situation

__all__ = ["register", "HALO_KM"]

HALO_KM = 10.0  # the largest radius any alarm-time model searches


def _ts(position: UnitPosition) -> datetime:
    return position.ts


def _latest_at(held: list[UnitPosition], at: datetime) -> UnitPosition | None:
    """A unit's latest held position with ts <= at (held is in ts order, one per ts)."""
    before = bisect_right(held, at, key=_ts)
    return held[before - 1] if before else None


def _batch_order(item: tuple[str, object]) -> tuple[str, int]:
    """Fleet keys by sector, then by the offset of their pings record (first come holds)."""
    sector, _, rest = item[0].partition("|")
    return sector, int(rest) if rest.isdigit() else -1


def register(pipeline) -> None:
    app, settings = pipeline.app, pipeline.settings
    n = settings.topic_partitions
    fleet = pipeline.table("fleet")
    judged = pipeline.table("sector-alarms")
    dispatch_params = dispatch_recommendation.DispatchRecommendationParams()
    gap_params = coverage_gap.CoverageGapParams()
    keep = dispatch_params.max_ping_age + timedelta(minutes=1)
    # partition -> sector -> unit -> [(ts, position)]; partition -> alarm key -> Alarm
    positions: dict[int, dict[str, dict[str, list]]] = defaultdict(lambda: defaultdict(dict))
    pending: dict[int, dict[str, Alarm]] = defaultdict(dict)
    # partition -> (feed, source partition) -> watermark
    watermarks: dict[int, dict[tuple[str, int], datetime]] = defaultdict(dict)
    done: dict[int, dict[str, datetime]] = defaultdict(dict)  # judged keys kept to dedupe
    # Which fleet key holds each held position, and how many held positions each key has
    # (partition -> key -> count); keys that hold none after a rebuild wait to be deleted
    # in their partition's stream context.
    origin: dict[tuple[str, str, datetime], str] = {}
    holding: dict[int, dict[str, int]] = defaultdict(dict)
    unheld: dict[int, list[str]] = defaultdict(list)

    def rebuild() -> None:
        positions.clear()
        pending.clear()
        origin.clear()
        holding.clear()
        unheld.clear()
        for key, value in sorted(fleet.items(), key=_batch_order):
            sector = key.split("|", 1)[0]
            partition = partition_of(sector, n)
            # A list per pings record; a single position in keys written by older workers.
            held = [p for raw in (value if isinstance(value, list) else [value])
                    if hold(partition, sector, UnitPosition.model_validate(raw), key)]
            if not held:
                unheld[partition].append(key)
        done.clear()
        for key, value in judged.items():
            alarm = Alarm.model_validate(value["alarm"])
            partition = partition_of(key.split("|", 1)[0], n)
            if value["done"]:
                done[partition][key] = alarm.ts
            else:
                pending[partition][key] = alarm

    index = RebalanceCache(app, rebuild)

    def hold(partition: int, sector: str, position: UnitPosition, key: str) -> bool:
        """Index a position under fleet key `key`; False if it is held already (re-delivered)."""
        held = positions[partition][sector].setdefault(position.unit_id, [])
        at = bisect_left(held, position.ts, key=_ts)  # held is in ts order
        if at < len(held) and held[at].ts == position.ts:
            return False
        held.insert(at, position)
        origin[(sector, position.unit_id, position.ts)] = key
        holding[partition][key] = holding[partition].get(key, 0) + 1
        return True

    def release(partition: int, sector: str, position: UnitPosition) -> None:
        key = origin.pop((sector, position.unit_id, position.ts), None)
        if key is None:
            return
        left = holding[partition][key] - 1
        if left:
            holding[partition][key] = left
        else:
            del holding[partition][key]
            fleet.pop(key, None)

    def on_pings(partition: int, sector: str, offset: int, raw_positions: list[dict]) -> None:
        for key in unheld.pop(partition, ()):
            fleet.pop(key, None)
        key = f"{sector}|{offset}"
        new = [(raw, p) for raw in raw_positions
               if hold(partition, sector, p := UnitPosition.model_validate(raw), key)]
        if not new:
            return  # all re-delivered
        fleet[key] = [raw for raw, _ in new]
        alarms_passed = feed_watermark(partition, "alarms")
        if alarms_passed is None:
            return  # not every alarms partition has spoken: any ping may still be needed
        # Keep what an alarm still to come, or one waiting for the GPS watermark, may need.
        oldest_pending = min((a.ts for a in pending[partition].values()), default=alarms_passed)
        for unit_id in {p.unit_id for _, p in new}:
            held = positions[partition][sector][unit_id]
            horizon = min(alarms_passed, oldest_pending, held[-1].ts) - keep
            while len(held) > 1 and held[0].ts < horizon:
                release(partition, sector, held.pop(0))  # older than any alarm still judged can need

    async def on_alarm(partition: int, sector: str, alarm: Alarm) -> None:
        key = f"{sector}|{alarm.alarm_id}"
        stored = judged[key]
        if stored is None:
            judged[key] = {"alarm": alarm.model_dump(mode="json", exclude_none=True), "done": False}
            pending[partition][key] = alarm
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
            seen = [p for pings in positions[partition][sector].values() if (p := _latest_at(pings, alarm.ts))]
            now = datetime.now(timezone.utc)
            situations = [
                *dispatch_recommendation.recommend_dispatch(alarm, seen, dispatch_params, now, locale=settings.locale),
                *coverage_gap.detect_coverage_gap(alarm, seen, gap_params, now, locale=settings.locale),
            ]
            judged[key] = {"alarm": alarm.model_dump(mode="json", exclude_none=True), "done": True,
                           "sent": [s.model_dump(mode="json") for s in situations]}
            del pending[partition][key]
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

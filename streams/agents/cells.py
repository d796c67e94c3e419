"""Cell agent: per geohash-6 cell — alarm hotspots, crowd gatherings and `alarm_counts_1m`.

Input is `<app>-alarms-by-cell` (received alarms keyed by cell), so every table here is
keyed by cell and co-partitioned with it. Counts are exact under re-delivery because each
(minute, cell, district, category, priority) key remembers the alarm ids it counted, and
the row written carries the absolute count, which is also its ReplacingMergeTree version.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone

import orjson

from streams.agents._cache import RebalanceCache
from streams.holds import marks_wanted
from streams.partitioning import partition_of
from streams.situations import alarm_hotspot, crowd_gathering
from streams.situations._cell_burst import CellBurst
from topics.records import Alarm

__all__ = ["register", "count_alarm"]

_RULES = (
    ("hotspot", alarm_hotspot, alarm_hotspot.AlarmHotspotParams()),
    ("crowd", crowd_gathering, crowd_gathering.CrowdGatheringParams()),
)


def minute_of(ts: datetime) -> datetime:
    return ts.astimezone(timezone.utc).replace(second=0, microsecond=0)


def count_alarm(counts: dict, alarm: Alarm, cell: str, horizon: datetime) -> tuple[dict, dict]:
    """Add one received alarm to the cell's per-minute counts; return (counts, its key's row).

    `counts` maps "minute|district|category|priority" to the sorted alarm ids counted there.
    Minutes before `horizon` are dropped: records for them are already late. An alarm
    already counted changes nothing but gets the key's current row again: after a crash
    the state may hold it while the row sent for it was lost (the row is absolute).
    """
    minute = minute_of(alarm.ts)
    key = "|".join((minute.isoformat(), alarm.district or "", alarm.category, str(alarm.priority)))
    ids = counts.get(key, [])
    kept = {k: v for k, v in counts.items() if datetime.fromisoformat(k.split("|", 1)[0]) >= horizon}
    kept[key] = ids if alarm.alarm_id in ids else sorted([*ids, alarm.alarm_id])
    row = {
        "minute": minute.isoformat(), "cell": cell, "district": alarm.district or "",
        "category": alarm.category, "priority": alarm.priority, "alarms": len(kept[key]),
    }
    return kept, row


def register(pipeline) -> None:
    app = pipeline.app
    bursts = pipeline.table("cell-bursts")
    counts = pipeline.table("alarm-counts")
    locale = pipeline.settings.locale

    # "<cell>|<alarm_id>" -> {"alarm", "applied_by"}: held until every alarms partition's
    # watermark passed it, then applied by the record (offset) that let it through, and kept
    # a while so that record, re-delivered after a crash, applies it again — the models
    # then re-send what it sent (which the crash may have lost) and change nothing.
    pending_table = pipeline.table("cell-pending")
    n = pipeline.settings.topic_partitions
    pending: dict[int, dict[str, Alarm]] = defaultdict(dict)
    # partition -> offset -> [(key, alarm ts)] of the alarms that record let through
    applied: dict[int, dict[int, list[tuple[str, datetime]]]] = defaultdict(lambda: defaultdict(list))
    marks: dict[int, dict[int, datetime]] = defaultdict(dict)  # partition -> alarms partition -> mark
    holds = pipeline.holds
    holds.agent("cells", lambda partition: {"alarms": marks_wanted(marks[partition], n)})

    def rebuild() -> None:
        pending.clear()
        applied.clear()
        holds.clear("cells")
        for key, value in pending_table.items():
            partition = partition_of(key.split("|", 1)[0], n)
            alarm = Alarm.model_validate(value["alarm"])
            if value["applied_by"] is None:
                pending[partition][key] = alarm
                holds.hold("cells", key, partition)
            else:
                applied[partition][value["applied_by"]].append((key, alarm.ts))

    index = RebalanceCache(app, rebuild)

    async def apply(cell: str, alarm: Alarm) -> None:
        now = datetime.now(timezone.utc)
        for prefix, model, params in _RULES:
            stored = bursts[f"{prefix}:{cell}"]
            state = CellBurst.model_validate(stored) if stored else None
            state, situations = model.apply_alarm(state, alarm, params, now, locale=locale)
            if state is not None:
                bursts[f"{prefix}:{cell}"] = state.model_dump(mode="json")
            await pipeline.emit(situations)
        stream_time = pipeline.clock.now() or alarm.ts
        horizon = minute_of(stream_time - 2 * pipeline.lateness - timedelta(minutes=1))
        new_counts, row = count_alarm(counts[cell] or {}, alarm, cell, horizon)
        counts[cell] = new_counts
        await pipeline.row("alarm_counts_1m", row)

    async def reapply(partition: int, offset: int) -> None:
        """The record at `offset` was delivered again: apply again what it let through."""
        for key, _ in list(applied[partition].get(offset, ())):
            stored = pending_table[key]
            if stored is not None:
                await apply(key.split("|", 1)[0], Alarm.model_validate(stored["alarm"]))

    async def apply_due(partition: int, offset: int) -> None:
        if len(marks[partition]) < n:
            return  # not every alarms partition has spoken yet
        passed = min(marks[partition].values())
        due = sorted((a.ts, a.alarm_id, key) for key, a in pending[partition].items() if a.ts <= passed)
        for _, _, key in due:
            alarm = pending[partition].pop(key)
            holds.release("cells", key)
            await apply(key.split("|", 1)[0], alarm)
            pending_table[key] = {"alarm": alarm.model_dump(mode="json", exclude_none=True), "applied_by": offset}
            applied[partition][offset].append((key, alarm.ts))
        forget_before = passed - 2 * pipeline.lateness
        for old_offset in [o for o in applied[partition] if o < offset]:
            kept = []
            for key, ts in applied[partition][old_offset]:
                if ts < forget_before:
                    pending_table.pop(key, None)
                else:
                    kept.append((key, ts))
            if kept:
                applied[partition][old_offset] = kept
            else:
                del applied[partition][old_offset]

    @app.agent(pipeline.alarms_by_cell, name="cells")
    async def cell_agent(stream):
        # Alarms reach this agent in whatever order the alarms partitions were consumed;
        # the burst rules are applied in event-time order (held until every alarms
        # partition's watermark passed them), so a replay or a restart finds the same
        # hotspots as the live run.
        async for event in stream.events():
            try:
                index.fresh()
                partition, offset = event.message.partition, event.message.offset
                await reapply(partition, offset)
                message = orjson.loads(event.message.value)
                if message.get("kind") == "watermark":
                    marks[partition][message["source"]] = datetime.fromisoformat(message["ts"])
                else:
                    cell = event.message.key.decode()
                    alarm = Alarm.model_validate(message)
                    key = f"{cell}|{alarm.alarm_id}"
                    if pending_table[key] is None:
                        pending_table[key] = {"alarm": alarm.model_dump(mode="json", exclude_none=True),
                                              "applied_by": None}
                        pending[partition][key] = alarm
                        holds.hold("cells", key, partition)
                await apply_due(partition, offset)
            except Exception as exc:
                await pipeline.failed(event, exc)

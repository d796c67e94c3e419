"""Alarm agent: the lifecycle of every alarm (研交办督结), `alarm_lifecycle` rows and
`response_overdue` — plus routing of received alarms to their grid cell.

Inputs: `alarms` (key alarm_id) and `<app>-alarm-signals` (co-partitioned: ticks sent to a
partition by this worker's timer, later arrival signals keyed by alarm_id). The table
`alarm-lifecycle` is keyed by alarm_id. Deadlines are judged on stream time at each tick;
the in-memory deadline index is a cache of the table, rebuilt after every rebalance.
"""

from __future__ import annotations

from datetime import datetime, timezone

import orjson

from streams import signals
from streams.agents._cache import RebalanceCache
from streams.partitioning import partition_of
from streams.sectors import sector_of
from streams.situations import response_overdue as overdue
from streams.situations.suspect_near_incident import SuspectNearIncidentParams
from streams.situations._common import alarm_cell
from topics.districts import Districts
from topics.pii import pseudonym
from topics.records import Alarm

__all__ = ["register", "lifecycle_row"]

SUSPECT_PARAMS = SuspectNearIncidentParams()


def lifecycle_row(state: overdue.AlarmLifecycle, caller_token: str) -> dict:
    row = state.row()
    return {
        **{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()},
        "district": row["district"] or "",
        "first_unit_id": row["first_unit_id"] or "",
        "caller_token": caller_token,
    }


def register(pipeline) -> None:
    app, settings = pipeline.app, pipeline.settings
    n = settings.topic_partitions
    lifecycles = pipeline.table("alarm-lifecycle")
    params = overdue.ResponseOverdueParams()
    districts = Districts.from_geojson(settings.districts_file)
    pii_key = pipeline.pii_key
    deadlines: dict[int, dict[str, datetime]] = {}  # partition -> alarm_id -> deadline

    def load(alarm_id: str) -> tuple[overdue.AlarmLifecycle | None, str]:
        stored = lifecycles[alarm_id]
        if not stored:
            return None, ""
        return overdue.AlarmLifecycle.model_validate(stored["lifecycle"]), stored["caller_token"]

    async def save(state: overdue.AlarmLifecycle, caller_token: str, changed: bool) -> None:
        lifecycles[state.alarm_id] = {"lifecycle": state.model_dump(mode="json"), "caller_token": caller_token}
        # The row is absolute (its version orders it): sent again for a re-delivered record,
        # whose first row a crash may have lost while the table kept the state.
        if changed and state.received_at is not None:
            await pipeline.row("alarm_lifecycle", lifecycle_row(state, caller_token))
        due = overdue.next_deadline(state, params)
        bucket = deadlines.setdefault(partition_of(state.alarm_id, n), {})
        if due is None:
            bucket.pop(state.alarm_id, None)
        else:
            bucket[state.alarm_id] = due

    def rebuild_index() -> None:
        deadlines.clear()
        for alarm_id, stored in lifecycles.items():
            state = overdue.AlarmLifecycle.model_validate(stored["lifecycle"])
            due = overdue.next_deadline(state, params)
            if due is not None:
                deadlines.setdefault(partition_of(alarm_id, n), {})[alarm_id] = due

    index = RebalanceCache(app, rebuild_index)

    async def on_alarm(alarm: Alarm) -> None:
        if alarm.status == "received" and alarm.district is None:
            # Contract §1: the district comes from the city's polygons unless the producer sent one.
            alarm = alarm.model_copy(update={"district": districts.district_of(alarm.lat, alarm.lon)})
        state, token = load(alarm.alarm_id)
        if alarm.status == "received" and alarm.caller_phone:
            token = pseudonym(alarm.caller_phone, pii_key)
        new = overdue.apply_alarm(state, alarm)
        await save(new, token, changed=True)
        if alarm.status in ("dispatched", "arrived"):
            # The unit's side judges arrivals: forward the record with the alarm's site.
            site = new.site()
            await pipeline.unit_signals.send(key=alarm.unit_id.encode(), value=signals.signal(
                "alarm", alarm=alarm.model_dump(mode="json", exclude_none=True, exclude={"caller_phone"}),
                site=site.model_dump(mode="json") if site else None,
            ))
        if alarm.status == "received" and state is not None and state.site() is None:
            # Units were assigned before the alarm's site was known: tell them now.
            for mark in (new.first_dispatch, new.first_arrival):
                if mark is not None:
                    await pipeline.unit_signals.send(key=mark.by.encode(), value=signals.signal(
                        "site", site=new.site().model_dump(mode="json")))
        if alarm.status == "received":
            # The fleet join happens in the alarm's sector (streams/agents/sectors.py).
            await pipeline.sectors.send(key=sector_of(alarm.lat, alarm.lon).encode(), value=signals.signal(
                "alarm", alarm=alarm.model_dump(mode="json", exclude_none=True, exclude={"caller_phone"})))
            if alarm.category in SUSPECT_PARAMS.categories:
                # Watch-listed vehicles passing near it are found in its sector.
                await pipeline.suspects.send(key=sector_of(alarm.lat, alarm.lon).encode(), value=signals.signal(
                    "alarm", alarm=alarm.model_dump(mode="json", exclude_none=True, exclude={"caller_phone"}),
                    stream_time=pipeline.forwarded_at()))
            # Repartition by cell: the per-cell models and counts live there.
            await pipeline.alarms_by_cell.send(
                key=alarm_cell(alarm).encode(),
                value=orjson.dumps(alarm.model_dump(mode="json", exclude_none=True, exclude={"caller_phone"})),
            )

    async def on_tick(partition: int, stream_time: datetime) -> None:
        # Lets the sector and unit agents forget pings no alarm still to come can need.
        await pipeline.send_feed_watermark("alarms", partition, to=(pipeline.unit_signals, pipeline.alarms_by_cell))
        index.fresh()
        now = datetime.now(timezone.utc)
        for alarm_id, due in sorted(deadlines.get(partition, {}).items()):
            if due >= stream_time:
                continue
            state, token = load(alarm_id)
            if state is None:
                deadlines[partition].pop(alarm_id, None)
                continue
            checked, situations = overdue.check_overdue(state, stream_time, params, now, locale=settings.locale)
            await save(checked, token, changed=False)
            await pipeline.emit(situations)

    @app.agent(app.topic(settings.topic("alarms"), pipeline.alarm_signals.get_topic_name()), name="alarms")
    async def alarm_agent(stream):
        async for event in stream.events():
            try:
                if event.message.topic == pipeline.alarm_signals.get_topic_name():
                    await on_signal(event.message.partition, signals.parse(event.message.value))
                    continue
                alarm = await pipeline.admit(event, "alarms", Alarm)
                if alarm is not None:
                    await on_alarm(alarm)
            except Exception as exc:  # the worker never dies of a record
                await pipeline.failed(event, exc)

    async def on_signal(partition: int, message: dict) -> None:
        kind = message["kind"]
        if kind == "tick":
            await on_tick(partition, signals.tick_time(message))
            return
        state, token = load(message["alarm_id"])
        if state is None:
            return
        if kind == "arrival":  # from the unit agent's arrival_detected
            new = overdue.note_arrival(state, message["unit_id"], datetime.fromisoformat(message["ts"]))
            await save(new, token, changed=True)
        elif kind == "site_request" and state.site() is not None:  # a ping named this alarm
            await pipeline.unit_signals.send(
                key=message["unit_id"].encode(),
                value=signals.signal("site", site=state.site().model_dump(mode="json")),
            )

    signals.start_ticks(pipeline, pipeline.alarm_signals)

"""Unit agent: per patrol/auxiliary unit — arrival_detected, arrival_mismatch, unit_offline,
and the first sighting of each unit per (minute, cell, type, status) for `unit_presence_1m`.

Inputs: `patrol-gps` (key unit_id) and `<app>-unit-signals` (co-partitioned: ticks,
alarm records of this unit forwarded by the alarm agent with the alarm's site, and sites
answered to a ping that named an alarm). Table `unit-tracks` is keyed by unit_id.

Input is taken a batch at a time (up to `BATCH_RECORDS`, or what came within
`BATCH_WAIT_S`) so the positions bound for the sector join go out as one record per
sector per batch (`_batch.SectorOutbox`); the records are still handled one by one, in
order.
"""

from __future__ import annotations

from datetime import datetime, timezone

from streams import signals
from streams.agents._batch import SectorOutbox, as_current
from streams.agents._cache import RebalanceCache
from streams.agents.sectors import HALO_KM
from streams.partitioning import partition_of
from streams.sectors import sectors_near
from streams.situations.fleet import UnitPosition
from streams.situations import units as rules_
from streams.situations.unit_track import AlarmSite, UnitTrack
from topics.geo import geohash
from topics.records import Alarm, PatrolPing

__all__ = ["register", "BATCH_RECORDS", "BATCH_WAIT_S"]

BATCH_RECORDS = 500
BATCH_WAIT_S = 0.05  # added to the latency of a lone ping (the target is 1 s end to end)


def register(pipeline) -> None:
    app, settings = pipeline.app, pipeline.settings
    n = settings.topic_partitions
    tracks = pipeline.table("unit-tracks")
    sightings = pipeline.table("unit-sightings")  # unit_id -> presence key last reported, and by which ping
    rules = rules_.UnitRules()
    locale = settings.locale
    known: dict[int, set[str]] = {}  # partition -> unit ids with a track (cache of the table)
    # unit_id -> its track as last loaded or stored (cache of the table): validating a track
    # of a few dozen pings on every ping and tick of the unit was a tenth of the worker's CPU.
    decoded: dict[str, UnitTrack] = {}
    alarm_marks: dict[int, dict[int, datetime]] = {}  # partition -> alarms partition -> mark

    def rebuild_known() -> None:
        known.clear()
        decoded.clear()
        for unit_id in tracks.keys():
            known.setdefault(partition_of(unit_id, n), set()).add(unit_id)

    index = RebalanceCache(app, rebuild_known)
    outbox = SectorOutbox(pipeline.sectors)

    def load(unit_id: str) -> UnitTrack | None:
        track = decoded.get(unit_id)
        if track is None:
            stored = tracks[unit_id]
            if stored:
                track = decoded[unit_id] = UnitTrack.model_validate(stored)
        return track

    async def store(unit_id: str, result) -> None:
        track, situations = result
        if track is None:
            tracks.pop(unit_id, None)
            decoded.pop(unit_id, None)
            known.get(partition_of(unit_id, n), set()).discard(unit_id)
        else:
            tracks[unit_id] = track.model_dump(mode="json")
            decoded[unit_id] = track
            known.setdefault(partition_of(unit_id, n), set()).add(unit_id)
        for situation in situations:
            if situation.type == "arrival_detected":
                # The alarm's lifecycle counts a detected arrival as an arrival.
                alarm_id = situation.evidence[0]
                await pipeline.alarm_signals.send(key=alarm_id.encode(), value=signals.signal(
                    "arrival", alarm_id=alarm_id, unit_id=unit_id, ts=situation.event_time.isoformat()))
        await pipeline.emit(situations)

    async def report_presence(ping: PatrolPing) -> None:
        minute = ping.ts.astimezone(timezone.utc).replace(second=0, microsecond=0)
        key = "|".join((minute.isoformat(), geohash(ping.lat, ping.lon), ping.unit_type, ping.status))
        first = sightings[ping.unit_id]
        if first and first["key"] == key and first["ts"] != ping.ts.isoformat():
            return  # already reported for this minute, cell, type and status
        # A new sighting — or the ping that made it, re-delivered: what it sent may have
        # been lost in a crash while this table kept it (the presence agent dedupes).
        sightings[ping.unit_id] = {"key": key, "ts": ping.ts.isoformat()}
        await pipeline.presence.send(key=key.encode(), value=ping.unit_id.encode())

    def unit_time(partition: int, stream_time: datetime | None) -> datetime | None:
        """The time the per-unit rules run at: stream time, held back to what the alarms
        feed has delivered here. Alarm records reach this agent through an internal topic
        and may trail the pings by many minutes (a backlog replayed fast, a restart); the
        tracks must keep the pings those records are judged by. Until every alarms
        partition has reported its watermark to this partition (after a start or a
        rebalance) no time can be vouched for: None, and the rules drop nothing.
        """
        marks = alarm_marks.get(partition, {})
        if stream_time is None or len(marks) < n:
            return None
        return min(stream_time, min(marks.values()))

    async def on_ping(ping: PatrolPing, stream_time: datetime | None) -> None:
        track = load(ping.unit_id)
        site = None
        if ping.alarm_id and (track is None or track.assignment(ping.alarm_id) is None):
            # The ping names an alarm this unit side has no site for: ask its agent.
            await pipeline.alarm_signals.send(key=ping.alarm_id.encode(), value=signals.signal(
                "site_request", alarm_id=ping.alarm_id, unit_id=ping.unit_id))
        result = rules_.on_ping(track, ping, stream_time, rules, _now(), site=site, locale=locale)
        await store(ping.unit_id, result)
        await report_presence(ping)
        outbox.add(sectors_near(ping.lat, ping.lon, HALO_KM), UnitPosition.from_ping(ping).model_dump(mode="json"))

    async def on_signal(key: bytes | None, partition: int, offset: int, message: dict) -> None:
        kind = message["kind"]
        if kind == "watermark":
            alarm_marks.setdefault(partition, {})[message["source"]] = datetime.fromisoformat(message["ts"])
            return
        if kind == "tick":
            # The sector join needs this partition's GPS watermark whatever the unit rules do.
            await pipeline.send_feed_watermark("patrol-gps", partition)
            sent_at = signals.tick_time(message)
            # The rules run at unit time, which depends on marks held in memory. The tick
            # record itself names what it sent, so that a re-delivered tick re-sends it and
            # a new tick does not: while stream time stands still (a rebalance, a quiet
            # start) every tick carries the same stream time, and naming them by it re-sent
            # a unit_offline once a second.
            stream_time, cause = unit_time(partition, sent_at), f"tick:{partition}:{offset}"
            for unit_id in sorted(known.get(partition, ())):
                track = load(unit_id)
                result = rules_.on_tick(track, stream_time, rules, _now(), locale=locale, cause=cause)
                if result[0] != track or result[1]:
                    await store(unit_id, result)
            return
        unit_id = key.decode()
        stream_time = unit_time(partition, pipeline.clock.now())
        if kind == "alarm":
            alarm = Alarm.model_validate(message["alarm"])
            site = AlarmSite.model_validate(message["site"]) if message["site"] else None
            result = rules_.on_alarm(load(unit_id), alarm, site, stream_time, rules, _now(), locale=locale)
        else:  # "site"
            site = AlarmSite.model_validate(message["site"])
            result = rules_.on_site(load(unit_id), site, stream_time, rules, _now(), locale=locale)
        await store(unit_id, result)

    signals_topic = pipeline.unit_signals.get_topic_name()

    @app.agent(app.topic(settings.topic("patrol-gps"), signals_topic), name="units")
    async def unit_agent(stream):
        async for events in stream.take_events(BATCH_RECORDS, within=BATCH_WAIT_S):
            for event in as_current(events):
                index.fresh()  # after a rebalance the tables may hold what another worker wrote
                try:
                    if event.message.topic == signals_topic:
                        await outbox.flush()  # a tick sends the GPS watermark: pings first
                        await on_signal(event.message.key, event.message.partition, event.message.offset,
                                        signals.parse(event.message.value))
                        continue
                    ping = await pipeline.admit(event, "patrol-gps", PatrolPing)
                    if ping is not None:
                        await on_ping(ping, unit_time(event.message.partition, pipeline.clock.now()))
                except Exception as exc:  # the worker never dies of a record
                    await pipeline.failed(event, exc)
            await outbox.flush()

    signals.start_ticks(pipeline, pipeline.unit_signals)


def _now() -> datetime:
    return datetime.now(timezone.utc)

"""Checkpoint agent: per road checkpoint (卡口) — `checkpoint_flow_1m`, `flow_anomaly` and
`watchlist_hit`; and routing of each pass to the plate agent (cloned plates) and, for a
watch-listed vehicle, to the suspect sectors (suspect near an incident).

Input `checkpoint-passes` (key checkpoint_id). Table `checkpoint-flows`, keyed by
checkpoint_id: the per-minute counts still open to late passes, the 5-minute flow windows
(`flow_anomaly.CheckpointFlow`), the offset of the last pass applied and the anomalies
recently sent. Every pass of a checkpoint is in one partition, in offset order, so a pass
at or below the stored offset is a re-delivery: it is not counted again, and what its
first application sent is sent again (same event_ids).

Flow windows close on the partition's event time: the largest pass ts seen on it. A
partition with no passes at all closes nothing until its next pass.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone

import orjson

from streams.agents._cache import RebalanceCache
from streams.metrics import FLOW_PASSES_AFTER_CLOSE
from streams.partitioning import partition_of
from streams.sectors import sectors_near
from streams.situations import cloned_plate, flow_anomaly, suspect_near_incident, watchlist_hit
from topics.codec import Rejection
from topics.records import CheckpointPass, Situation

__all__ = ["register", "count_minute", "minute_row"]

FEED = "checkpoint-passes"
SENT_KEPT = 50  # anomalies remembered per checkpoint for re-delivery


def count_minute(minutes: dict, passage: CheckpointPass, horizon: datetime) -> tuple[dict, dict]:
    """Add one pass to its minute: {minute iso: [passes, speed sum, speed samples]}.
    Returns the kept minutes (those not before `horizon`) and the minute's absolute row."""
    minute = passage.ts.astimezone(timezone.utc).replace(second=0, microsecond=0)
    key = minute.isoformat()
    passes, speed_sum, samples = minutes.get(key, (0, 0.0, 0))
    if passage.speed_kmh is not None:
        speed_sum, samples = speed_sum + passage.speed_kmh, samples + 1
    kept = {k: v for k, v in minutes.items() if datetime.fromisoformat(k) >= horizon}
    kept[key] = [passes + 1, speed_sum, samples]
    return kept, minute_row(key, passage.checkpoint_id, kept[key])


def minute_row(minute: str, checkpoint_id: str, counted: list) -> dict:
    """The absolute `checkpoint_flow_1m` row of one minute (its passes are the version)."""
    passes, speed_sum, samples = counted
    return {"minute": minute, "checkpoint_id": checkpoint_id, "passes": passes,
            "speed_samples": samples, "avg_speed_kmh": speed_sum / samples if samples else 0.0}


def register(pipeline, reference) -> None:
    app, settings = pipeline.app, pipeline.settings
    n, locale = settings.topic_partitions, settings.locale
    flows = pipeline.table("checkpoint-flows")
    flow_params = flow_anomaly.FlowAnomalyParams()
    hit_params = watchlist_hit.WatchlistHitParams()
    suspect_radius_km = suspect_near_incident.SuspectNearIncidentParams().radius_km
    known: dict[int, set[str]] = defaultdict(set)  # partition -> checkpoint ids with state
    swept: dict[int, datetime] = {}  # partition -> watermark its windows were last closed at

    def rebuild() -> None:
        known.clear()
        for checkpoint_id in flows.keys():
            known[partition_of(checkpoint_id, n)].add(checkpoint_id)

    index = RebalanceCache(app, rebuild)

    async def on_pass(event, passage: CheckpointPass) -> None:
        message = event.message
        # Reference data as of admission: it may change while this pass awaits its sends.
        checkpoint = reference.checkpoints.get(passage.checkpoint_id)
        entry = reference.watchlist.get(passage.plate.upper())
        if checkpoint is None:
            await pipeline.reject(event, Rejection(
                "reference", "UnknownCheckpoint", "checkpoint_id: not in the checkpoints reference topic"))
            return
        stored = flows[passage.checkpoint_id] or {}
        if stored and message.offset <= stored["offset"]:
            # Re-delivered: the state counted it, but what it sent may have been lost in a crash.
            await pipeline.emit(_sent_for(message.partition, message.offset))
            await resend_minute(passage, checkpoint, stored)
        else:
            await count(passage, checkpoint, message.offset, stored)
        hits = watchlist_hit.detect_watchlist_hit(passage, entry, checkpoint, hit_params, _now(), locale=locale)
        await pipeline.emit(hits)
        await route(passage, checkpoint, entry if hits else None)
        await close_due(message.partition, message.offset)

    async def count(passage, checkpoint, offset: int, stored: dict) -> None:
        stream_time = pipeline.clock.now() or passage.ts
        horizon = stream_time - 2 * pipeline.lateness - timedelta(minutes=1)
        minutes, row = count_minute(stored.get("minutes", {}), passage, horizon)
        flow = flow_anomaly.CheckpointFlow.model_validate(stored["flow"]) if stored else None
        flow, counted = flow_anomaly.count_pass(flow, passage.checkpoint_id, passage.ts, flow_params)
        if not counted:
            FLOW_PASSES_AFTER_CLOSE.inc()
        flows[passage.checkpoint_id] = {**stored, "offset": offset, "minutes": minutes,
                                        "flow": flow.model_dump(mode="json"), "sent": stored.get("sent", [])}
        known[partition_of(passage.checkpoint_id, n)].add(passage.checkpoint_id)
        await pipeline.row("checkpoint_flow_1m", {**row, "district": checkpoint.district})

    async def resend_minute(passage, checkpoint, stored: dict) -> None:
        minute = passage.ts.astimezone(timezone.utc).replace(second=0, microsecond=0).isoformat()
        if minute in stored.get("minutes", {}):
            await pipeline.row("checkpoint_flow_1m", {
                **minute_row(minute, passage.checkpoint_id, stored["minutes"][minute]),
                "district": checkpoint.district})

    async def route(passage, checkpoint, watched) -> None:
        plate = passage.plate.upper()
        seen = cloned_plate.PlatePass.of(passage, checkpoint)
        forwarded_at = pipeline.forwarded_at()  # once per pass: it reads the clock
        await pipeline.passes_by_plate.send(
            key=f"{plate}|{passage.plate_color}".encode(),
            value=orjson.dumps({"plate": plate, "pass": seen.model_dump(mode="json"),
                                "stream_time": forwarded_at}))
        if watched is not None:
            suspect = suspect_near_incident.WatchedPass.of(passage, checkpoint, watched)
            value = orjson.dumps({"kind": "pass", "pass": suspect.model_dump(mode="json"),
                                  "stream_time": forwarded_at})
            for sector in sectors_near(checkpoint.lat, checkpoint.lon, suspect_radius_km):
                await pipeline.suspects.send(key=sector.encode(), value=value)

    async def close_due(partition: int, offset: int) -> None:
        """Close every window of this partition's checkpoints that its event time has passed."""
        watermark = pipeline.clock.partition_watermark(FEED, partition, release=False)
        step = flow_params.window
        if watermark is None:
            return
        due = _floor(watermark - flow_params.grace, step)
        if swept.get(partition) is not None and due <= swept[partition]:
            return
        swept[partition] = due
        index.fresh()
        for checkpoint_id in sorted(known[partition]):
            checkpoint = reference.checkpoints.get(checkpoint_id)
            stored = flows[checkpoint_id]
            if checkpoint is None or not stored:
                continue
            flow = flow_anomaly.CheckpointFlow.model_validate(stored["flow"])
            closed, anomalies = flow_anomaly.close_windows(flow, watermark, checkpoint, flow_params, _now(),
                                                           locale=locale)
            if closed == flow:
                continue
            sent = [*stored["sent"], *([offset, a.model_dump(mode="json")] for a in anomalies)][-SENT_KEPT:]
            flows[checkpoint_id] = {**stored, "flow": closed.model_dump(mode="json"), "sent": sent}
            await pipeline.emit(anomalies)

    def _sent_for(partition: int, offset: int) -> list[Situation]:
        """What closing windows at `offset` sent, for a re-delivered pass."""
        index.fresh()
        out = []
        for checkpoint_id in sorted(known[partition]):
            stored = flows[checkpoint_id] or {}
            out += [Situation.model_validate(s) for o, s in stored.get("sent", []) if o == offset]
        return out

    @app.agent(pipeline.checkpoint_passes, name="checkpoints")
    async def checkpoint_agent(stream):
        await reference.ready.wait()  # no pass is judged before the reference data is loaded
        async for event in stream.events():
            try:
                passage = await pipeline.admit(event, FEED, CheckpointPass)
                if passage is not None:
                    await on_pass(event, passage)
            except Exception as exc:  # the worker never dies of a record
                await pipeline.failed(event, exc)


def _floor(instant: datetime, step: timedelta) -> datetime:
    seconds = step.total_seconds()
    return datetime.fromtimestamp(instant.timestamp() // seconds * seconds, tz=timezone.utc)


def _now() -> datetime:
    return datetime.now(timezone.utc)

"""The worker's HTTP pages: `/health` and Prometheus `/metrics` (ours, and Faust's own
sensors when `SITAWARE_WORKER_FAUST_METRICS` is on)."""

from __future__ import annotations

import time

from aiohttp.web import Response
from faust.sensors.prometheus import setup_prometheus_sensors
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from streams.metrics import CONSUMER_LAG, HOLD_OLDEST, STREAM_TIME_BEHIND

__all__ = ["register_pages"]


def register_pages(pipeline) -> None:
    app = pipeline.app
    if pipeline.settings.worker_faust_metrics:
        setup_prometheus_sensors(app, pattern="/metrics", registry=REGISTRY, name_prefix="sitaware_faust")
    else:
        serve_metrics(app)
    register_gauges(pipeline)

    @app.page("/health")
    async def health(self, request):
        stream_time = pipeline.clock.now()
        assigned = sorted(f"{tp.topic}:{tp.partition}" for tp in app.assignor.assigned_actives())
        holds = pipeline.holds.describe()
        # A hold older than the setting is stuck: what waits on it (recommendations,
        # hotspots) is silently missing, so the worker is not healthy.
        stuck = [agent for agent, hold in holds.items() if hold["oldest_s"] > pipeline.settings.hold_degraded_s]
        body = {
            "status": "rebalancing" if app.rebalancing is not False else "degraded" if stuck else "ok",
            "assigned_partitions": len(assigned),
            "stream_time": stream_time.isoformat() if stream_time else None,
            "feeds": pipeline.clock.describe(),
            "reference": pipeline.reference.describe(),
            "holds": holds,
            "stuck_holds": stuck,
        }
        return self.json(body)


def serve_metrics(app) -> None:
    """/metrics with sitaware's metrics only (what `setup_prometheus_sensors` serves, minus
    Faust's per-event sensors)."""

    @app.page("/metrics")
    async def metrics(self, request):
        # As faust's own handler does: aiohttp refuses a charset in `content_type`.
        return Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})


_lag_children: set[tuple[str, str]] = set()  # (topic, partition) the lag gauge reports


def register_gauges(pipeline, interval: float = 5.0) -> None:
    """Every few seconds: how far stream time is behind the wall clock, and per assigned
    partition, its end offset minus what this worker has committed."""
    app = pipeline.app

    @app.timer(interval, name="gauges")
    async def measure() -> None:
        stream_time = pipeline.clock.now()
        if stream_time is not None:
            STREAM_TIME_BEHIND.set(max(0.0, time.time() - stream_time.timestamp()))
        for agent, age in pipeline.holds.oldest_s().items():
            HOLD_OLDEST.labels(agent).set(age)
        consumer = app.consumer
        reported = set()
        for tp in app.assignor.assigned_actives():
            if tp.topic.endswith("-changelog"):
                continue  # written by this worker's tables, not consumed: no lag to speak of
            committed = consumer._committed_offset.get(tp)  # the committed position (next offset)
            try:
                end = consumer.highwater(tp)
            except Exception:  # not fetched yet
                continue
            if end is not None:
                done = committed if committed is not None else (consumer._read_offset.get(tp) or 0)
                CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(0, end - done))
                reported.add((tp.topic, str(tp.partition)))
        # A partition another worker took over is that worker's to report.
        for labels in _lag_children - reported:
            CONSUMER_LAG.remove(*labels)
        _lag_children.clear()
        _lag_children.update(reported)

"""The worker's HTTP pages: `/health` and Prometheus `/metrics` (Faust's own and ours)."""

from __future__ import annotations

from faust.sensors.prometheus import setup_prometheus_sensors
from prometheus_client import REGISTRY

__all__ = ["register_pages"]


def register_pages(pipeline) -> None:
    app = pipeline.app
    setup_prometheus_sensors(app, pattern="/metrics", registry=REGISTRY, name_prefix="sitaware_faust")

    @app.page("/health")
    async def health(self, request):
        stream_time = pipeline.clock.now()
        assigned = sorted(f"{tp.topic}:{tp.partition}" for tp in app.assignor.assigned_actives())
        body = {
            "status": "ok" if app.rebalancing is False else "rebalancing",
            "assigned_partitions": len(assigned),
            "stream_time": stream_time.isoformat() if stream_time else None,
            "feeds": pipeline.clock.describe(),
        }
        return self.json(body)

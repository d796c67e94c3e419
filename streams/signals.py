"""Internal signal records between agents, and the stream-time ticks that drive timers.

Faust timers cannot write tables, so each worker's timer sends a tick record to every
partition it owns of a signals topic; the agent owning that partition runs its timers in
stream context. The tick carries the stream time it was sent at, so a re-delivered tick
re-runs the same check (the models then re-send, never invent, situations).
"""

from __future__ import annotations

from datetime import datetime

import orjson

__all__ = ["signal", "parse", "start_ticks"]


def signal(kind: str, **fields) -> bytes:
    return orjson.dumps({"kind": kind, **fields})


def parse(raw: bytes) -> dict:
    return orjson.loads(raw)


def start_ticks(pipeline, topic, interval: float = 1.0) -> None:
    app = pipeline.app
    name = topic.get_topic_name()

    @app.timer(interval, name=f"ticks-{name}")
    async def send_ticks() -> None:
        stream_time = pipeline.clock.now()
        if stream_time is None:
            return
        value = signal("tick", stream_time=stream_time.isoformat())
        for tp in app.assignor.assigned_actives():
            if tp.topic == name:
                await topic.send(value=value, partition=tp.partition)


def tick_time(message: dict) -> datetime:
    return datetime.fromisoformat(message["stream_time"])

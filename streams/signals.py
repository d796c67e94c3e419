"""Internal signal records between agents, and the stream-time ticks that drive timers.

Faust timers cannot write tables, so each worker's timer sends a tick record to every
partition it owns of a signals topic; the agent owning that partition runs its timers in
stream context. The tick carries the stream time it was sent at, so a re-delivered tick
re-runs the same check (the models then re-send, never invent, situations).
"""

from __future__ import annotations

import time
from datetime import datetime

import orjson

__all__ = ["signal", "parse", "start_ticks"]


def signal(kind: str, **fields) -> bytes:
    return orjson.dumps({"kind": kind, **fields})


def parse(raw: bytes) -> dict:
    return orjson.loads(raw)


# (signals topic, partition) -> when its last tick was sent, until the agent handles it.
# One tick per partition in flight: when the agent is behind (a backlog), ticks sent every
# second would queue up behind the records and each run every timer check again on a stale
# stream time, slowing the agent further; the next tick, sent once this one is handled,
# carries the stream time of then. A tick lost with a rebalance or restart stops holding
# the next one back after TICK_REPLACED_AFTER_S.
_in_flight: dict[tuple[str, int], float] = {}
TICK_REPLACED_AFTER_S = 10.0


def start_ticks(pipeline, topic, interval: float = 1.0) -> None:
    app = pipeline.app
    name = topic.get_topic_name()

    @app.timer(interval, name=f"ticks-{name}")
    async def send_ticks() -> None:
        stream_time = pipeline.clock.now()
        if stream_time is None:
            return
        for tp in app.assignor.assigned_actives():
            if tp.topic != name:
                continue
            sent = _in_flight.get((name, tp.partition))
            if sent is not None and time.monotonic() - sent < TICK_REPLACED_AFTER_S:
                continue
            _in_flight[(name, tp.partition)] = time.monotonic()
            value = signal("tick", stream_time=stream_time.isoformat(), topic=name, partition=tp.partition)
            await topic.send(value=value, partition=tp.partition)


def tick_time(message: dict) -> datetime:
    """The stream time a tick was sent at; also notes the tick as handled, so the timer
    sends the next one."""
    _in_flight.pop((message.get("topic"), message.get("partition")), None)
    return datetime.fromisoformat(message["stream_time"])

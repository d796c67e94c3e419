"""Issue 7 hot spots that must stay removed: debug log records built and dropped in every
Kafka call, tiny producer batches and buffer, and ticks that queue up behind a backlog."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
from faust.types import TP

from streams import signals


# A worker's app in a process of its own: an app registers its metrics in the process's
# global Prometheus registry, once.
_INSPECT = """
import json, logging, os, sys, tempfile
from pathlib import Path
from sitaware.settings import Settings
from streams.app import create_pipeline
from streams.worker import faust_worker

app = create_pipeline(Settings(), datadir=Path(tempfile.mkdtemp()), web_enabled=False).app
faust_worker(app, "warning")._setup_logging()
producer = app.producer
Path(sys.argv[1]).write_text(json.dumps({
    "debug_enabled": [n for n in ("aiokafka", "faust", "mode") if logging.getLogger(n).isEnabledFor(logging.DEBUG)],
    "linger_ms": producer.linger_ms, "max_batch_size": producer.max_batch_size,
    "buffer_max_messages": producer.buffer.max_messages,
}))
os._exit(0)  # the unstarted app's RocksDB handles do not survive interpreter teardown
"""


@pytest.fixture(scope="module")
def worker_app(stack_settings, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("inspect") / "app.json"
    result = subprocess.run([sys.executable, "-c", _INSPECT, str(out)], capture_output=True, text=True,
                            timeout=120, env={**os.environ, **stack_settings.as_env()})
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(out.read_text())


def test_the_worker_at_warning_level_builds_no_debug_records(worker_app):
    assert worker_app["debug_enabled"] == []


def test_the_producer_batches_and_buffers_bursts_of_sends(worker_app):
    assert worker_app["linger_ms"] >= 1
    assert worker_app["max_batch_size"] >= 64 * 1024
    assert worker_app["buffer_max_messages"] >= 1000


class _TimerApp:
    """What `signals.start_ticks` uses of a Faust app: timers and the assignment."""

    def __init__(self, assigned):
        self.timers = []
        self.assignor = SimpleNamespace(assigned_actives=lambda: set(assigned))

    def timer(self, interval, name):
        def register(function):
            self.timers.append(function)
            return function
        return register


class _Topic:
    def __init__(self, name):
        self.name, self.sent = name, []

    def get_topic_name(self):
        return self.name

    async def send(self, value, partition):
        self.sent.append((partition, signals.parse(value)))


def test_one_tick_per_partition_is_in_flight_until_the_agent_handles_it(monkeypatch):
    topic = _Topic("app-unit-signals")
    app = _TimerApp([TP(topic.name, 0), TP(topic.name, 1), TP("other", 0)])
    stream_time = datetime(2026, 3, 2, tzinfo=timezone.utc)
    pipeline = SimpleNamespace(app=app, clock=SimpleNamespace(now=lambda: stream_time))
    signals.start_ticks(pipeline, topic)
    tick = app.timers[0]
    wall = [1000.0]
    monkeypatch.setattr(signals.time, "monotonic", lambda: wall[0])

    asyncio.run(tick())
    assert sorted(p for p, _ in topic.sent) == [0, 1]
    first = dict(topic.sent)
    topic.sent.clear()

    wall[0] += 1
    asyncio.run(tick())  # the agent is behind: no second tick queues up behind the first
    assert topic.sent == []

    assert signals.tick_time(first[0]) == stream_time  # the agent handled partition 0's tick
    wall[0] += 1
    asyncio.run(tick())
    assert [p for p, _ in topic.sent] == [0]
    topic.sent.clear()

    wall[0] += signals.TICK_REPLACED_AFTER_S
    asyncio.run(tick())  # a tick lost (rebalance, restart) does not stop partition 1's timers
    assert sorted(p for p, _ in topic.sent) == [0, 1]


def test_the_sector_join_hands_the_models_each_units_latest_position_with_the_same_answer():
    """The sector agent passes each unit's latest position at or before A.ts instead of
    every held ping: recommendations and coverage gaps must not change."""
    import random
    from datetime import timedelta

    from streams.agents._fleet import latest_at
    from streams.situations import coverage_gap, dispatch_recommendation
    from streams.situations.fleet import UnitPosition
    from topics.records import Alarm

    rng = random.Random(7)
    at = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
    now = at + timedelta(seconds=5)
    kinds = ["police_car", "foot_patrol", "security_guard", "grid_worker"]
    statuses = ["available", "available", "dispatched", "off_duty"]
    compared = 0
    for round_ in range(40):
        held = {}
        for u in range(30):
            times = sorted(rng.sample(range(-400, 120), 12))  # some after A.ts, some stale
            kind = rng.choice(kinds)
            held[f"U{u}"] = [UnitPosition(
                unit_id=f"U{u}", unit_type=kind, status=rng.choice(statuses),
                lat=31.2 + rng.uniform(-0.05, 0.05), lon=121.45 + rng.uniform(-0.05, 0.05),
                ts=at + timedelta(seconds=s)) for s in times]
        alarm = Alarm(alarm_id=f"A{round_}", status="received", ts=at, lat=31.2, lon=121.45,
                      category="theft", priority=rng.randint(1, 4))
        every = [p for pings in held.values() for p in pings]
        latest = [p for pings in held.values() if (p := latest_at(pings, at))]
        for model, params in ((dispatch_recommendation.recommend_dispatch,
                               dispatch_recommendation.DispatchRecommendationParams()),
                              (coverage_gap.detect_coverage_gap, coverage_gap.CoverageGapParams())):
            expected = model(alarm, every, params, now)
            assert model(alarm, latest, params, now) == expected
            compared += len(expected)
    assert compared > 10  # the rounds did produce situations to compare

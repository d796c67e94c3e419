"""Run a simulation into Kafka: pace it, show progress, write the ground truth.

Pacing: event time advances `speed` times faster than wall time, measured from the run's
start (record at event time start + t is sent t / speed after sending began); a record
is never sent early, and a producer that falls behind simply catches up without waiting.
`speed` 0 or infinity sends as fast as the broker takes them. Reference records
(`checkpoints`, `watchlist`) go first, unpaced.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO

from sitaware.progress import ProgressBar
from sitaware.settings import Settings

from .config import DEFAULT_START, SCALES, CityScale, SimulationConfig, parse_duration
from .errors import ScenarioError, SimulationError
from .generator import CitySimulation, live_start
from .jsonl import RecordFiles, encode_value

__all__ = ["run_simulation", "Pacer", "resolve_start", "truth_file", "DEFAULT_TRUTH_PATH"]

DEFAULT_TRUTH_PATH = Path("sitaware-truth.json")


class Pacer:
    """Waits until a record's event time is due on the wall clock."""

    def __init__(self, speed: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        if speed < 0 or math.isnan(speed):
            raise ScenarioError("speed must be >= 0 (0 or inf: as fast as possible)")
        self.unpaced = speed == 0 or math.isinf(speed)
        self.speed, self.clock, self.sleep = speed, clock, sleep
        self.origin: float | None = None

    def wait(self, t_ms: int) -> None:
        if self.unpaced:
            return
        if self.origin is None:
            self.origin = self.clock()
        delay = self.origin + t_ms / 1000 / self.speed - self.clock()
        if delay > 0.001:  # below a millisecond a sleep costs more than it paces
            self.sleep(delay)


def resolve_start(start: datetime | str | None) -> datetime:
    """None: the fixed default; "now": live; else an RFC 3339 instant with an offset."""
    if start is None:
        return DEFAULT_START
    if isinstance(start, datetime):
        return start
    if start.strip().lower() == "now":
        return live_start()
    try:
        return datetime.fromisoformat(start.strip())
    except ValueError:
        raise ScenarioError(f"bad --start {start!r}: use RFC 3339 like 2026-03-02T08:00:00+08:00, or now") from None


def truth_file(output_dir: str | Path | None, truth_path: str | Path | None) -> Path:
    if truth_path:
        return Path(truth_path)
    return Path(output_dir) / "truth.json" if output_dir is not None else DEFAULT_TRUTH_PATH


def _kafka_producer(settings: Settings):
    from kafka import KafkaProducer
    from kafka.errors import KafkaError
    from kafka.serializer import DefaultSerializer, Serializer

    class CompactJson(Serializer):
        def serialize(self, topic, headers, data):
            return encode_value(data)

    try:
        return KafkaProducer(
            **settings.kafka_python_config(),
            client_id="sitaware-simulator",
            acks="all",
            linger_ms=20,
            key_serializer=DefaultSerializer("utf-8"),
            value_serializer=CompactJson(),
        )
    except KafkaError as exc:
        raise SimulationError(f"cannot reach Kafka at {settings.kafka_bootstrap}: {exc}") from exc


def run_simulation(
    settings: Settings,
    seed: int = 0,
    speed: float = 1.0,
    duration: str | float | timedelta = "30m",
    scenario: str = "all",
    start: datetime | str | None = None,
    output_dir: str | Path | None = None,
    truth_path: str | Path | None = None,
    *,
    scale: str | CityScale = "demo",
    producer=None,
    progress: TextIO | None = sys.stderr,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict:
    """Produce one simulated run to Kafka; return the ground truth (also written to
    `truth_path`, default <output_dir>/truth.json or ./sitaware-truth.json).

    `producer` is anything with kafka-python's `send(topic, key=, value=)` (returning a
    future with `add_errback`), `flush()` and `close()`; by default a KafkaProducer with
    acks=all and linger 20 ms. Topic names get the settings' prefix.
    """
    if isinstance(scale, str):
        if scale not in SCALES:
            raise ScenarioError(f"unknown scale {scale!r}: use {', '.join(SCALES)}")
        scale = SCALES[scale]
    config = SimulationConfig(seed=seed, start=resolve_start(start), duration=parse_duration(duration),
                              scale=scale, scenario=scenario)
    simulation = CitySimulation(config)
    pacer = Pacer(speed, clock, sleep)
    files = RecordFiles(output_dir) if output_dir is not None else None
    bar = ProgressBar(progress, config.start, config.duration_ms, clock=clock) if progress else None
    failures: list[BaseException] = []
    sink = producer if producer is not None else _kafka_producer(settings)
    sent, last_t = 0, 0
    try:
        for t, record in simulation.timed_records():
            if t is not None:
                pacer.wait(t)
                last_t = t
            future = sink.send(settings.topic(record.topic), key=record.key, value=record.value)
            future.add_errback(failures.append)
            if files:
                files.write(record.topic, record.value)
            sent += 1
            if bar:
                bar.update(last_t, sent)
        sink.flush()
    finally:
        if producer is None:
            sink.close()
        if files:
            files.close()
    if bar:
        bar.finish(config.duration_ms, sent)
    simulation.write_truth(truth_file(output_dir, truth_path))
    if failures:
        raise SimulationError(f"{len(failures)} of {sent} records were not delivered; first: {failures[0]!r}")
    return simulation.truth

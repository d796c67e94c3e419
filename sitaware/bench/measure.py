"""What a benchmark run measures, and how.

- Throughput and lag: each worker's `/metrics` (`sitaware_records_in_total` of the input
  feeds, `sitaware_consumer_lag` of every partition it owns), sampled every second or
  two; a step's throughput is the records-in increase over its measurement window.
- CPU and memory of the workers: `/proc/<pid>/stat` (user + system time) and
  `/proc/<pid>/status` (VmRSS, VmHWM).
- ClickHouse sink: `sitaware_sink_rows_total` and the `sitaware_sink_insert_seconds`
  histogram's sum, so rows per second of insert time as well as per wall second.
- End-to-end latency: from the produce time of a `received` alarm (recorded by the load
  generator) to the arrival of the `dispatch_recommendation` about it (subject = alarm_id)
  on `situations`, read by a consumer thread here.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

from sitaware.settings import Settings
from topics.specs import ALARMS, CHECKPOINT_PASSES, PATROL_GPS, SITUATIONS

__all__ = ["Sample", "Probe", "SituationWatch", "percentile", "window", "FEEDS"]

FEEDS = (ALARMS, PATROL_GPS, CHECKPOINT_PASSES)
_CLOCK_TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Sample:
    t: float  # time.monotonic()
    records_in: float  # input feed records consumed, all workers
    lag_feeds: float  # consumer lag of the input feeds
    lag_total: float  # consumer lag of every topic the workers consume (internal ones too)
    sink_rows: float
    sink_seconds: float  # time spent in ClickHouse inserts
    sink_batches: float
    cpu_s: float  # user + system CPU seconds of the workers
    rss_mb: float
    peak_rss_mb: float


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICK  # utime, stime


def _memory_mb(pid: int) -> tuple[float, float]:
    rss = hwm = 0.0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
    return rss, hwm


class Probe:
    """Samples the workers (anything with `.pid` and `.metrics()`)."""

    def __init__(self, settings: Settings, workers):
        self.workers = workers
        self.feeds = {settings.topic(name) for name in FEEDS}

    def sample(self) -> Sample:
        totals = dict(records_in=0.0, lag_feeds=0.0, lag_total=0.0, sink_rows=0.0, sink_seconds=0.0,
                      sink_batches=0.0, cpu_s=0.0, rss_mb=0.0, peak_rss_mb=0.0)
        for worker in self.workers:
            for family in text_string_to_metric_families(worker.metrics()):
                for s in family.samples:
                    if s.name == "sitaware_records_in_total" and s.labels.get("topic") in self.feeds:
                        totals["records_in"] += s.value
                    elif s.name == "sitaware_consumer_lag":
                        totals["lag_total"] += s.value
                        if s.labels.get("topic") in self.feeds:
                            totals["lag_feeds"] += s.value
                    elif s.name == "sitaware_sink_rows_total":
                        totals["sink_rows"] += s.value
                    elif s.name == "sitaware_sink_batches_total":
                        totals["sink_batches"] += s.value
                    elif s.name == "sitaware_sink_insert_seconds_sum":
                        totals["sink_seconds"] += s.value
            totals["cpu_s"] += _cpu_seconds(worker.pid)
            rss, hwm = _memory_mb(worker.pid)
            totals["rss_mb"] += rss
            totals["peak_rss_mb"] += hwm
        return Sample(t=time.monotonic(), **totals)


def window(samples: list[Sample], start: float, end: float) -> dict:
    """Rates and lag over the samples taken in [start, end] (monotonic seconds)."""
    inside = [s for s in samples if start <= s.t <= end]
    if len(inside) < 2:
        return {}
    a, b = inside[0], inside[-1]
    span = b.t - a.t
    cpu = (b.cpu_s - a.cpu_s) / span
    consumed = (b.records_in - a.records_in) / span
    return {
        "seconds": span,
        "consumed_per_s": consumed,
        "lag_start": a.lag_total,
        "lag_end": b.lag_total,
        "lag_max": max(s.lag_total for s in inside),
        "feed_lag_start": a.lag_feeds,
        "feed_lag_end": b.lag_feeds,
        "worker_cores": cpu,
        "events_per_s_per_core": consumed / cpu if cpu > 0 else 0.0,
        "sink_rows_per_s": (b.sink_rows - a.sink_rows) / span,
        "rss_mb": b.rss_mb,
    }


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100), nearest-rank."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


class SituationWatch:
    """Reads `situations` from the start in a thread; remembers when the first
    `dispatch_recommendation` for each alarm arrived (wall clock) and counts every type."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.recommended: dict[str, float] = {}
        self.by_type: dict[str, int] = {}
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="bench-situations", daemon=True)

    def start(self) -> "SituationWatch":
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("could not start reading the situations topic")
        if self._error:
            raise RuntimeError(f"reading situations failed: {self._error!r}")
        return self

    def _run(self) -> None:
        from kafka import KafkaConsumer, TopicPartition

        try:
            name = self.settings.topic(SITUATIONS)
            consumer = KafkaConsumer(**self.settings.kafka_python_config(), group_id=None,
                                     enable_auto_commit=False, fetch_max_wait_ms=20)
            parts = [TopicPartition(name, p) for p in sorted(consumer.partitions_for_topic(name) or [])]
            consumer.assign(parts)
            consumer.seek_to_beginning(*parts)
        except BaseException as exc:  # reported by start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            while not self._stop.is_set():
                for batch in consumer.poll(timeout_ms=100).values():
                    arrived = time.time()
                    for record in batch:
                        situation = json.loads(record.value)
                        kind = situation.get("type", "?")
                        self.by_type[kind] = self.by_type.get(kind, 0) + 1
                        if kind == "dispatch_recommendation":
                            self.recommended.setdefault(situation.get("subject"), arrived)
        except BaseException as exc:
            self._error = exc
        finally:
            consumer.close()

    def latencies_ms(self, alarms: dict[str, float]) -> tuple[list[float], int]:
        """(latencies of the alarms that got a recommendation, how many did not)."""
        found = [(self.recommended[a] - t) * 1000 for a, t in alarms.items() if a in self.recommended]
        return found, len(alarms) - len(found)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        if self._error:
            raise RuntimeError(f"reading situations failed: {self._error!r}")

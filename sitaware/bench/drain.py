"""Saturated throughput, less noisy than an open-loop step: produce a fixed backlog of the
benchmark city (its own topics, the simulator's own event times), then start one worker
and time how long it takes to consume every feed record and drain every topic it reads
(internal ones too: the work a feed record causes is done only then).

    python -m sitaware.bench.drain --records 10000 [--partitions 4] [--profile out.svg]

`--profile` records the worker with py-spy (not a project dependency: `pip install py-spy`)
from its first record to the end of the drain, idle time included (`--idle`), so waiting
shows as well as CPU.

Prints one JSON line: records, seconds (to within the second the worker takes to commit
what it did), events/s, worker CPU cores, peak RSS, ClickHouse rows and inserts.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import orjson

from sitaware.settings import Settings

from .command import _service_settings
from .load import build_pool
from .measure import FEEDS, Probe
from .workers import WorkerProcess, wait_all_ready

__all__ = ["produce_backlog", "drain"]


def produce_backlog(settings: Settings, records: int, minutes: float) -> int:
    """The reference records, then the first `records` feed records of the pool, as simulated."""
    from kafka import KafkaProducer

    reference, feed = build_pool("bench", 7, minutes)
    if len(feed) < records:
        raise SystemExit(f"the {minutes}-minute pool has only {len(feed)} feed records")
    producer = KafkaProducer(**settings.kafka_python_config(), acks=1, linger_ms=5, batch_size=256 * 1024)
    try:
        for record in [*reference, *feed[:records]]:
            producer.send(settings.topic(record.topic), key=record.key.encode(),
                          value=orjson.dumps(record.value))
        producer.flush()
    finally:
        producer.close(timeout=10)
    return records


def drain(settings: Settings, records: int, partitions: int, timeout: float, workdir: Path,
          profile: Path | None = None) -> dict:
    from kafka import KafkaAdminClient

    from topics.admin import ensure_topics
    from topics.specs import contract_topics

    settings = settings.model_copy(update={
        "topic_prefix": f"drain{uuid.uuid4().hex[:8]}.", "topic_partitions": partitions})
    admin = KafkaAdminClient(**settings.kafka_python_config())
    try:
        ensure_topics(admin, contract_topics(settings), settings.topic_replication)
        produce_backlog(settings, records, minutes=max(10.0, records / 40 / 60))
        worker = WorkerProcess(settings, workdir).start()
        probe = Probe(settings, [worker])
        lag = GroupLag(settings, admin)
        try:
            wait_all_ready([worker], timeout=120)
            spy = _profiler(worker.pid, profile) if profile else None
            first = last = probe.sample()
            started = consumed_at = None
            # The ticks and watermarks of an idle pipeline keep a little lag in the
            # internal topics (the gauge is end minus committed, refreshed every 5 s).
            settle = 50 * partitions
            while time.monotonic() - first.t < timeout:
                time.sleep(1.0)
                sample = probe.sample()
                if started is None and sample.records_in > 0:
                    started = last  # the sample before the first record was read
                last = sample
                if consumed_at is None and sample.records_in >= records:
                    consumed_at = sample.t
                backlog = lag.records()
                if int(sample.t) % 10 == 0:
                    print(f"drain: {sample.records_in:.0f}/{records} in, work lag {backlog:.0f}", file=sys.stderr)
                if consumed_at is not None and backlog <= settle:
                    break
            else:
                print(f"drain: timed out with {last.records_in:.0f}/{records} records in", file=sys.stderr)
            if spy is not None:
                spy.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
                spy.wait(timeout=60)
            started = started or first
            seconds = last.t - started.t
            return {
                "records": records, "records_in": last.records_in, "seconds": round(seconds, 1),
                "feeds_read_s": round((consumed_at or last.t) - started.t, 1),
                "events_per_s": round(last.records_in / seconds, 1),
                "worker_cores": round((last.cpu_s - started.cpu_s) / seconds, 2),
                "peak_rss_mb": round(last.peak_rss_mb), "sink_rows": last.sink_rows,
                "sink_batches": last.sink_batches,
            }
        finally:
            lag.close()
            worker.stop()
    finally:
        mine = [t for t in admin.list_topics() if t.startswith(settings.topic_prefix)]
        if mine:
            admin.delete_topics(mine)
        admin.close()


class GroupLag:
    """Records the worker's group has yet to finish in the topics its agents read: feeds,
    `situations` and the internal topics (changelogs are only replayed on recovery), as end
    offsets minus the group's committed offsets, asked of the broker (the worker's own lag
    gauge refreshes every 5 s: too coarse to time a drain by)."""

    def __init__(self, settings: Settings, admin) -> None:
        from kafka import KafkaConsumer

        from topics.specs import SITUATIONS, app_id

        self.admin, self.group = admin, app_id(settings)
        self.topics = [settings.topic(t) for t in (*FEEDS, SITUATIONS)]
        self.internal_prefix = f"{self.group}-"
        self.consumer = KafkaConsumer(**settings.kafka_python_config(), enable_auto_commit=False)

    def records(self) -> float:
        from kafka import TopicPartition

        topics = [*self.topics, *(t for t in self.admin.list_topics() if t.startswith(self.internal_prefix)
                                   and not t.endswith("-changelog") and "__assignor" not in t)]
        parts = [TopicPartition(t, p) for t in topics for p in (self.consumer.partitions_for_topic(t) or ())]
        ends = self.consumer.end_offsets(parts)
        committed = self.admin.list_group_offsets({self.group: parts})[self.group]
        done = {tp: o.offset for tp, o in committed.items() if o is not None and o.offset >= 0}
        return float(sum(max(0, end - done.get(tp, 0)) for tp, end in ends.items()))

    def close(self) -> None:
        self.consumer.close()


def _profiler(pid: int, output: Path) -> subprocess.Popen:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    # .txt: collapsed stacks per thread (for scripts), else an SVG flame graph.
    raw = ["--format", "raw", "--threads"] if output.suffix == ".txt" else []
    return subprocess.Popen([spy, "record", "--pid", str(pid), "--idle", "--rate", "50", *raw,
                             "--output", str(output)], stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--profile", type=Path, help="py-spy flame graph (SVG) of the worker during the drain")
    args = parser.parse_args()
    settings = _service_settings(Settings())
    with tempfile.TemporaryDirectory(prefix="sitaware-drain-") as tmp:
        result = drain(settings, args.records, args.partitions, args.timeout, Path(tmp), args.profile)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

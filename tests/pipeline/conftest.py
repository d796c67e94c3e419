"""A real worker process on the real stack, on topics of its own (a unique topic prefix)."""

from __future__ import annotations

import json
import signal
import time

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from sitaware.bench.workers import WorkerProcess, free_port
from tests.conftest import isolated_topics


_free_port = free_port  # one for every test module


def poll(condition, timeout: float = 60.0, interval: float = 0.5, message: str = "condition"):
    """Return condition()'s first truthy value; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {message}")
        time.sleep(interval)


class Worker(WorkerProcess):
    """A worker for a test: started when ready, and faults to inject."""

    def start(self) -> "Worker":
        super().start()
        poll(self.ready, timeout=90, message=f"worker on :{self.port} to be assigned partitions")
        return self

    def stream_time(self):
        """The worker's stream time (/health), or None before it has one."""
        from datetime import datetime

        value = (self.health() or {}).get("stream_time")
        return datetime.fromisoformat(value) if value else None

    def pause(self) -> None:
        """SIGSTOP: the process, its heartbeats included, freezes where it is."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)


class Feed:
    """Produce to and read back from the run's topics."""

    def __init__(self, settings):
        self.settings = settings
        self.producer = KafkaProducer(**settings.kafka_python_config(), acks="all", linger_ms=5)

    def send(self, topic: str, key: str | None, value: bytes | dict | None):
        """Send one record (None: a tombstone); returns the send's future (RecordMetadata)."""
        raw = value if isinstance(value, bytes | None) else json.dumps(value, ensure_ascii=False).encode()
        return self.producer.send(self.settings.topic(topic), key=key.encode() if key else None, value=raw)

    def flush(self) -> None:
        self.producer.flush()

    def read_all(self, topic: str) -> list:
        """Every record currently on the topic (all partitions), in partition/offset order."""
        consumer = KafkaConsumer(**self.settings.kafka_python_config(),
                                 enable_auto_commit=False, consumer_timeout_ms=2000)
        name = self.settings.topic(topic)
        parts = [TopicPartition(name, p) for p in consumer.partitions_for_topic(name) or []]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        records = []
        while any(consumer.position(tp) < ends[tp] for tp in parts):
            for batch in consumer.poll(timeout_ms=1000).values():
                records.extend(batch)
        consumer.close()
        return records

    def close(self) -> None:
        self.producer.close()


@pytest.fixture
def run_settings(stack_settings):
    """Settings for one isolated run: its own topic prefix (and so its own Faust app id)."""
    with isolated_topics(stack_settings, "t", topic_partitions=4, feed_idle_s=3.0) as settings:
        yield settings


@pytest.fixture
def worker_factory(run_settings, tmp_path):
    workers: list[Worker] = []

    def start(settings=None) -> Worker:
        worker = Worker(settings or run_settings, tmp_path)
        workers.append(worker)  # stopped at teardown even if it never gets ready
        return worker.start()

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def feed(run_settings):
    f = Feed(run_settings)
    yield f
    f.close()

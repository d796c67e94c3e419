"""A real worker process on the real stack, on topics of its own (a unique topic prefix)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from tests.conftest import isolated_topics


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


class Worker:
    def __init__(self, settings, tmp_path):
        self.settings = settings
        self.port = _free_port()
        self.datadir = tmp_path / f"worker-{self.port}"
        self.log = tmp_path / f"worker-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def env(self) -> dict[str, str]:
        return {**os.environ, **self.settings.as_env()}

    def start(self) -> "Worker":
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sitaware.cli", "worker", "--web-port", str(self.port),
             "--datadir", str(self.datadir), "--loglevel", "warning"],
            env=self.env(), stdout=open(self.log, "ab"), stderr=subprocess.STDOUT,
        )
        poll(self.ready, timeout=90, message=f"worker on :{self.port} to be assigned partitions")
        return self

    def health(self) -> dict | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as r:
                return json.loads(r.read())
        except OSError:
            return None

    def ready(self) -> bool:
        assert self.proc.poll() is None, f"worker exited:\n{self.log.read_text()[-3000:]}"
        health = self.health()
        return bool(health and health["status"] == "ok" and health["assigned_partitions"] > 0)

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            return r.read().decode()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

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

    def kill(self) -> None:
        """kill -9: no shutdown, no final commit."""
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


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
        worker = Worker(settings or run_settings, tmp_path).start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def feed(run_settings):
    f = Feed(run_settings)
    yield f
    f.close()

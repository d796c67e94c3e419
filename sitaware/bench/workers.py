"""Worker subprocesses: `python -m sitaware.cli worker` on a run's settings (its own topic
prefix), each with its own web port and state directory. Used by the benchmarks and, with
fault injection added, by the tests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from sitaware.settings import Settings

__all__ = ["WorkerProcess", "delete_run_topics", "free_port", "wait_all_ready"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class WorkerProcess:
    def __init__(self, settings: Settings, workdir: Path, extra_env: dict[str, str] | None = None):
        self.settings = settings
        self.extra_env = extra_env or {}  # e.g. faust settings by their environment names
        self.port = free_port()
        self.datadir = workdir / f"worker-{self.port}"
        self.log = workdir / f"worker-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def start(self) -> "WorkerProcess":
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "sitaware.cli", "worker", "--web-port", str(self.port),
                 "--datadir", str(self.datadir), "--loglevel", "warning"],
                env={**os.environ, **self.settings.as_env(), **self.extra_env}, stdout=log, stderr=subprocess.STDOUT,
            )
        return self

    def get(self, path: str, timeout: float = 5) -> bytes:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=timeout) as answer:
            return answer.read()

    def health(self) -> dict | None:
        """The worker's /health, or None while it does not answer."""
        try:
            return json.loads(self.get("/health", timeout=2))
        except (OSError, ValueError):
            return None

    def ready(self) -> bool:
        """Up and holding partitions; raises if the process has exited."""
        if self.proc.poll() is not None:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"worker on :{self.port} exited ({self.proc.returncode}):\n{tail}")
        health = self.health()
        return bool(health and health.get("status") in ("ok", "degraded") and health.get("assigned_partitions", 0) > 0)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def metrics(self) -> str:
        return self.get("/metrics").decode()

    def kill(self) -> None:
        """kill -9: no shutdown, no final commit."""
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        if not self.alive():
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def wait_all_ready(workers: list[WorkerProcess], timeout: float) -> float:
    """Poll every worker's /health until all own partitions; return the seconds it took."""
    started = time.monotonic()
    while not all(w.ready() for w in workers):
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"workers not ready after {timeout:.0f} s (logs: {workers[0].log.parent})")
        time.sleep(0.5)
    return time.monotonic() - started


def delete_run_topics(settings: Settings) -> int:
    """Delete a run's topics (those of its prefix); return how many there were."""
    from kafka import KafkaAdminClient

    from topics.admin import delete_topics_with_prefix

    admin = KafkaAdminClient(**settings.kafka_python_config())
    try:
        return len(delete_topics_with_prefix(admin, settings.topic_prefix))
    finally:
        admin.close()

"""A real `sitaware api` process on the real stack, on topics of its own (a unique prefix),
with a tokens file of actors unique to the run (so audit rows can be told apart)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid

import pytest
from kafka import KafkaProducer

from sitaware.api.auth import create_token
from sitaware.bench.workers import free_port as _free_port
from tests.conftest import isolated_topics, writer_client
from tests.pipeline.conftest import poll

# key -> (role, districts); each becomes the actor "<key>-<run id>"
ACTORS = {
    "viewer": ("viewer", []),
    "dispatcher": ("dispatcher", ["Nanhu"]),
    "admin": ("admin", []),
    "streamer": ("viewer", ["Nanhu"]),
    "page": ("dispatcher", []),
}


class Api:
    """The API subprocess, its tokens and plain-HTTP calls to it."""

    def __init__(self, settings, tmp_path):
        self.settings = settings
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / "api.log"
        self.tokens_file = tmp_path / "tokens.json"
        run = uuid.uuid4().hex[:8]
        self.actors = {key: f"{key}-{run}" for key in ACTORS}
        self.tokens = {key: create_token(self.tokens_file, self.actors[key], role, districts)
                       for key, (role, districts) in ACTORS.items()}
        self.proc: subprocess.Popen | None = None

    def env(self) -> dict[str, str]:
        return {**os.environ, **self.settings.as_env(), "SITAWARE_WEBHOOK_ALLOW_PRIVATE": "false",
                "SITAWARE_API_TOKENS_FILE": str(self.tokens_file)}

    def start(self) -> "Api":
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sitaware.cli", "api", "--port", str(self.port)],
            env=self.env(), stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        poll(self.ready, timeout=60, message=f"the API on :{self.port} to be healthy")
        return self

    def ready(self) -> bool:
        assert self.proc.poll() is None, f"the API exited:\n{self.log.read_text()[-3000:]}"
        status, body = self.call("GET", "/health")
        return status == 200 and body["status"] == "ok"

    def call(self, method: str, path: str, token: str | None = None, body=None):
        """(status, decoded JSON body or None); HTTP errors are answers, not exceptions."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        except OSError:
            return None, None
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module")
def api_settings(stack_settings):
    with isolated_topics(stack_settings, "a", topic_partitions=2) as settings:
        yield settings


@pytest.fixture(scope="module")
def api(api_settings, tmp_path_factory):
    server = Api(api_settings, tmp_path_factory.mktemp("api")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def producer(api_settings):
    p = KafkaProducer(**api_settings.kafka_python_config(), acks="all", linger_ms=0)
    yield p
    p.close()


@pytest.fixture
def publish(api_settings, producer):
    """publish(contract topic, key, value dict): one record on the run's topic, flushed."""

    def send(topic: str, key: str, value: dict) -> None:
        producer.send(api_settings.topic(topic), key=key.encode(),
                      value=json.dumps(value, ensure_ascii=False).encode())
        producer.flush()

    return send


@pytest.fixture(scope="module")
def clickhouse(api_settings):
    """A writer-user client (the API's tests read the audit log and seed situations)."""
    client = writer_client(api_settings)
    yield client
    client.disconnect()


# Points inside two districts of the simulated city (sitaware/simulator/data/districts.geojson).
PLACES = {"Nanhu": (31.15, 121.30), "Dongping": (31.15, 121.50)}


def situation_record(event_id: str, district: str, summary: str, type: str = "alarm_hotspot",
                     when: str | None = None) -> dict:
    """A contract situation (§3) located in `district`."""
    from datetime import datetime, timezone

    when = when or datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    lat, lon = PLACES[district]
    return {"event_id": event_id, "type": type, "severity": "high", "event_time": when,
            "detected_at": when, "lat": lat, "lon": lon, "cell": "wtw3sj", "district": district,
            "subject": "AL-1", "metrics": {"count": 5}, "evidence": ["AL-1"], "summary": summary,
            "model_version": "test/1"}

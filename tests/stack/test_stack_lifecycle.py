"""`sitaware stack ...` behaviour: idempotent up, status, env, and errors that name their cause."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
from clickhouse_driver import Client
from kafka import KafkaAdminClient

from sitaware.bench.workers import free_port as _free_port
from sitaware.errors import StackError
from sitaware.settings import load_settings
from sitaware.stack.kafka import KafkaBroker
from sitaware.stack.local import LocalStack
from sitaware.stack.process import port_is_free


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sitaware.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def test_second_up_is_a_no_op(local_stack):
    pids = (local_stack.kafka.process.pid(), local_stack.clickhouse.process.pid())
    messages: list[str] = []
    LocalStack(local_stack.settings, log=messages.append).up()
    assert (local_stack.kafka.process.pid(), local_stack.clickhouse.process.pid()) == pids
    assert local_stack.create_topics() == []
    assert local_stack.migrate() == []
    # Nothing downloaded, installed, created or applied: only the timing line.
    assert len(messages) == 1 and messages[0].startswith("stack up in"), messages


def test_env_exports_settings_that_clients_connect_with(local_stack):
    result = run_cli("stack", "env")
    assert result.returncode == 0, result.stderr
    script = result.stdout + '\npython -c "import os,json; print(json.dumps({k:v for k,v in os.environ.items() if k.startswith(\'SITAWARE_\')}))"'
    exported = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    env = __import__("json").loads(exported.stdout)
    settings = load_settings(**{k.removeprefix("SITAWARE_").lower(): v for k, v in env.items()})
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    assert admin.describe_cluster()["brokers"]
    admin.close()
    client = Client(
        settings.clickhouse_host,
        port=settings.clickhouse_port,
        user=settings.clickhouse_user,
        password=settings.clickhouse_password.get_secret_value(),
        database=settings.clickhouse_database,
    )
    assert client.execute("SELECT count() FROM alarm_counts_1m FINAL")[0][0] >= 0


def test_status_reports_healthy_stack(local_stack):
    result = run_cli("stack", "status")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("healthy") == 2


def test_status_notices_a_stopped_broker(tmp_path):
    # A second, private broker: stopping the shared one would disturb other tests.
    settings = load_settings(
        stack_dir=tmp_path / "stack",
        stack_kafka_port=_free_port(),
        stack_kafka_controller_port=_free_port(),
    )
    broker = KafkaBroker(settings)
    broker.ensure_jars()
    broker.start()
    try:
        broker.wait_healthy()
        assert LocalStack(settings).status()[0].healthy
        pid = broker.process.pid()
        os.kill(pid, 9)
        # SIGKILL is delivered asynchronously: wait until the kernel has ended the process.
        deadline = time.monotonic() + 30
        while broker.process.pid() is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        kafka_status = LocalStack(settings).status()[0]
        assert not kafka_status.healthy and not kafka_status.running
        assert "down" in kafka_status.line()
    finally:
        broker.stop()


def test_port_in_use_is_named(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        assert not port_is_free(port)
        result = run_cli(
            "stack", "up",
            env={
                "SITAWARE_STACK_DIR": str(tmp_path),
                "SITAWARE_STACK_KAFKA_PORT": str(port),
                "SITAWARE_STACK_KAFKA_CONTROLLER_PORT": str(_free_port()),
            },
        )
    assert result.returncode == 2
    assert f"port {port}" in result.stderr and "SITAWARE_STACK_KAFKA_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_java_is_named(tmp_path):
    result = run_cli(
        "stack", "up",
        env={
            "SITAWARE_STACK_DIR": str(tmp_path / "stack"),
            "SITAWARE_CACHE_DIR": str(tmp_path / "cache"),
            "SITAWARE_STACK_JAVA": "/nonexistent/java",
        },
    )
    assert result.returncode == 2
    assert "Java" in result.stderr and "SITAWARE_STACK_JAVA" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_registry_is_named(tmp_path):
    # An empty local Maven repository forces a download; the mirror refuses at once.
    result = run_cli(
        "stack", "up",
        env={
            "SITAWARE_STACK_DIR": str(tmp_path / "stack"),
            "SITAWARE_CACHE_DIR": str(tmp_path / "cache"),
            "SITAWARE_STACK_MAVEN_REPOSITORY": "http://127.0.0.1:9/maven2",
            "MAVEN_OPTS": f"-Dmaven.repo.local={tmp_path / 'm2'}",
        },
    )
    assert result.returncode == 2
    assert "could not download the Kafka" in result.stderr
    assert "http://127.0.0.1:9/maven2" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_setting_fails_fast_naming_it():
    result = run_cli("stack", "status", env={"SITAWARE_CLICKHOUSE_PORT": "not-a-port"})
    assert result.returncode == 2
    assert "SITAWARE_CLICKHOUSE_PORT" in result.stderr and "Traceback" not in result.stderr


def test_stack_error_is_raised_not_exit(tmp_path):
    settings = load_settings(stack_dir=tmp_path, cache_dir=tmp_path / "c", stack_java="/nope/java")
    with pytest.raises(StackError, match="Java"):
        KafkaBroker(settings).ensure_jars()

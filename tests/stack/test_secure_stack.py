"""Secure mode on a private stack (`sitaware stack up --secure`, own folder and ports): Kafka
only over SASL_SSL with SCRAM, secrets handed to clients as files, ClickHouse users scoped."""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
from clickhouse_driver import Client
from clickhouse_driver.errors import ErrorCodes, ServerException
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaTimeoutError
from pydantic import SecretStr

from sitaware.bench.workers import free_port as _free_port
from sitaware.errors import StackError
from sitaware.settings import Settings, load_settings
from sitaware.stack.local import LocalStack
from tests.conftest import isolated_topics
from tests.pipeline.conftest import Feed, Worker, poll

pytestmark = pytest.mark.stack

# A refused client must give up quickly: kafka-python retries its bootstrap until this.
REFUSAL_MS = 3000


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sitaware.cli", "stack", *args], capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=400)


@pytest.fixture(scope="module")
def secure_stack(tmp_path_factory):
    """The private secure stack's environment (folder and ports) and `stack env`'s settings."""
    folder = tmp_path_factory.mktemp("secure")
    env = {
        "SITAWARE_STACK_DIR": str(folder / "stack"),
        "SITAWARE_STACK_KAFKA_PORT": str(_free_port()),
        "SITAWARE_STACK_KAFKA_CONTROLLER_PORT": str(_free_port()),
        "SITAWARE_STACK_CLICKHOUSE_PORT": str(_free_port()),
        "SITAWARE_STACK_CLICKHOUSE_HTTP_PORT": str(_free_port()),
    }
    up = _cli(env, "up", "--secure")
    try:
        assert up.returncode == 0, up.stderr
        exported = _cli(env, "env")
        assert exported.returncode == 0, exported.stderr
        values = dict(shlex.split(line.removeprefix("export "))[0].split("=", 1)
                      for line in exported.stdout.splitlines())
        settings = load_settings(**{k.removeprefix("SITAWARE_").lower(): v for k, v in values.items()})
        yield env, values, settings
    finally:
        _cli(env, "down")


def test_env_hands_out_secret_files_and_status_shows_the_mode(secure_stack):
    env, values, settings = secure_stack
    assert values["SITAWARE_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    # Secrets are exported as 0600 files, never as values.
    assert not {"SITAWARE_KAFKA_SASL_PASSWORD", "SITAWARE_CLICKHOUSE_PASSWORD", "SITAWARE_PII_KEY"} & values.keys()
    for name in ("KAFKA_SASL_PASSWORD_FILE", "CLICKHOUSE_PASSWORD_FILE", "CLICKHOUSE_READER_PASSWORD_FILE", "PII_KEY_FILE"):
        assert os.stat(values[f"SITAWARE_{name}"]).st_mode & 0o077 == 0, name
    assert settings.kafka_sasl_password.get_secret_value()  # read from its file
    status = _cli(env, "status")
    assert status.returncode == 0 and "SASL_SSL" in status.stdout, status.stdout + status.stderr
    # The folder keeps its mode: a plain `up` brings back the secure broker (a no-op here).
    assert _cli(env, "up").returncode == 0
    assert _cli(env, "env").stdout == "\n".join(f"export {k}={shlex.quote(v)}" for k, v in values.items()) + "\n"


def test_a_plaintext_stack_folder_is_not_turned_secure(tmp_path):
    (tmp_path / "kafka" / "data").mkdir(parents=True)
    (tmp_path / "kafka" / "data" / "meta.properties").write_text("")  # formatted without SCRAM users
    with pytest.raises(StackError, match="without --secure.*SITAWARE_STACK_DIR"):
        LocalStack(load_settings(stack_dir=tmp_path, stack_secure=True))


@pytest.fixture(scope="module")
def scratch_topic(secure_stack):
    settings = secure_stack[2]
    name = f"secure-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(**settings.kafka_python_config())
    admin.create_topics([NewTopic(name, 1, 1)])
    yield name
    admin.delete_topics([name])
    admin.close()


def test_kafka_python_round_trips_with_credentials(secure_stack, scratch_topic):
    settings = secure_stack[2]
    producer = KafkaProducer(**settings.kafka_python_config(), acks="all")
    producer.send(scratch_topic, key=b"kp", value="警情 over TLS".encode()).get(timeout=30)
    producer.close()
    consumer = KafkaConsumer(scratch_topic, **settings.kafka_python_config(), auto_offset_reset="earliest",
                             consumer_timeout_ms=15000)
    record = next((r for r in consumer if r.key == b"kp"), None)
    consumer.close()
    assert record is not None and record.value.decode() == "警情 over TLS"


def test_aiokafka_round_trips_with_credentials(secure_stack, scratch_topic):
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    settings = secure_stack[2]

    async def round_trip():
        producer = AIOKafkaProducer(**settings.aiokafka_config())
        await producer.start()
        try:
            await producer.send_and_wait(scratch_topic, b"ai", key=b"ai")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(scratch_topic, **settings.aiokafka_config(), auto_offset_reset="earliest")
        await consumer.start()
        try:
            while (message := await asyncio.wait_for(consumer.getone(), timeout=15)).key != b"ai":
                pass
        finally:
            await consumer.stop()
        return message.value

    assert asyncio.run(round_trip()) == b"ai"


def _wrong_password(settings: Settings) -> Settings:
    return settings.model_copy(update={"kafka_sasl_password": SecretStr("not-the-password")})


def test_a_wrong_password_is_refused(secure_stack, caplog):
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaConnectionError

    env, _, settings = secure_stack
    wrong = _wrong_password(settings)

    async def start():
        producer = AIOKafkaProducer(**wrong.aiokafka_config(), request_timeout_ms=REFUSAL_MS)
        try:
            await producer.start()
        finally:
            await producer.stop()

    # kafka-python only sees the broker close the connection after the login: it never
    # gets metadata, and the broker's log records the failed authentication.
    server_log = Path(env["SITAWARE_STACK_DIR"]) / "kafka" / "server.log"
    logged_before = server_log.read_text().count("Failed authentication")
    started = time.monotonic()
    with pytest.raises(KafkaTimeoutError):
        KafkaAdminClient(**wrong.kafka_python_config(), bootstrap_timeout_ms=REFUSAL_MS)
    assert time.monotonic() - started < REFUSAL_MS / 1000 + 10
    poll(lambda: server_log.read_text().count("Failed authentication") > logged_before, timeout=15,
         message="the broker to log the failed authentication")
    assert "invalid credentials with SASL mechanism SCRAM-SHA-512" in server_log.read_text()

    with caplog.at_level(logging.ERROR, logger="aiokafka"), pytest.raises(KafkaConnectionError):
        asyncio.run(start())
    # aiokafka reads the broker's answer to the login: SCRAM authentication failed (error 58).
    assert "SaslAuthenticationFailed" in caplog.text and "invalid credentials" in caplog.text


def test_a_plaintext_client_gets_no_metadata(secure_stack):
    settings = secure_stack[2]
    plaintext = {"bootstrap_servers": settings.bootstrap_servers}
    started = time.monotonic()
    with pytest.raises(KafkaTimeoutError):
        KafkaConsumer(**plaintext, bootstrap_timeout_ms=REFUSAL_MS).topics()
    assert time.monotonic() - started < REFUSAL_MS / 1000 + 10
    # TLS without the SCRAM login is refused as well.
    tls_only = {**plaintext, "security_protocol": "SSL", "ssl_cafile": str(settings.kafka_ssl_cafile)}
    with pytest.raises(KafkaTimeoutError):
        KafkaConsumer(**tls_only, bootstrap_timeout_ms=REFUSAL_MS).topics()


def test_a_worker_with_secrets_from_files_processes_alarms(secure_stack, tmp_path):
    env, values, settings = secure_stack
    assert settings.as_env()["SITAWARE_KAFKA_SASL_PASSWORD_FILE"] == values["SITAWARE_KAFKA_SASL_PASSWORD_FILE"]
    assert "SITAWARE_KAFKA_SASL_PASSWORD" not in settings.as_env()  # the worker reads the file itself
    alarm_id = f"SEC{uuid.uuid4().hex[:8]}"
    received = {"alarm_id": alarm_id, "status": "received", "ts": "2026-03-02T09:00:00.000+08:00",
                "lat": 31.2, "lon": 121.45, "category": "theft", "priority": 3}
    with isolated_topics(settings, "s", topic_partitions=1, feed_idle_s=3.0) as run:
        worker = Worker(run, tmp_path).start()
        feed = Feed(run)
        try:
            feed.send("alarms", "bad", b"not json")
            feed.send("alarms", alarm_id, received)
            feed.flush()
            # Kafka both ways: the worker consumed the bad record and produced its dead letter.
            dead = poll(lambda: feed.read_all("dead-letters"), timeout=60, message="the dead letter")
            assert [r.value for r in dead] == [b"not json"]
            # ClickHouse with the writer password from its file: the alarm's lifecycle row.
            reader = Client(run.clickhouse_host, port=run.clickhouse_port, user=run.clickhouse_reader_user,
                            password=run.clickhouse_reader_password.get_secret_value(),
                            database=run.clickhouse_database)
            rows = poll(lambda: reader.execute(
                "SELECT alarm_id, received_at FROM alarm_lifecycle FINAL WHERE alarm_id = %(id)s", {"id": alarm_id}),
                timeout=90, message="the alarm_lifecycle row")
            assert rows == [(alarm_id, datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc))]
        finally:
            feed.close()
            worker.stop()
    assert "Traceback" not in worker.log.read_text()


def _clickhouse(settings: Settings, user: str, password: str) -> Client:
    return Client(settings.clickhouse_host, port=settings.clickhouse_port, user=user, password=password)


def test_clickhouse_refuses_wrong_passwords_and_the_reader_cannot_write(secure_stack):
    settings = secure_stack[2]
    db = settings.clickhouse_database
    for user, password, code in (
        (settings.clickhouse_user, "not-the-password", ErrorCodes.WRONG_PASSWORD),
        (settings.clickhouse_reader_user, "", ErrorCodes.REQUIRED_PASSWORD),
        ("default", "", ErrorCodes.REQUIRED_PASSWORD),
    ):
        with pytest.raises(ServerException) as refused:
            _clickhouse(settings, user, password).execute("SELECT 1")
        assert refused.value.code == code, (user, refused.value)

    marker = f"secure-{uuid.uuid4().hex[:8]}"
    writer = _clickhouse(settings, settings.clickhouse_user, settings.clickhouse_password.get_secret_value())
    writer.execute(f"INSERT INTO {db}.audit_log (ts, actor, action, target, outcome, detail) VALUES",
                   [(datetime(2026, 1, 1), marker, "probe", "audit_log", "ok", "")])
    reader = _clickhouse(settings, settings.clickhouse_reader_user,
                         settings.clickhouse_reader_password.get_secret_value())
    count = f"SELECT count() FROM {db}.audit_log WHERE actor = '{marker}'"
    assert reader.execute(count) == [(1,)]
    for statement in (
        f"INSERT INTO {db}.audit_log (ts, actor, action, target, outcome, detail) "
        f"VALUES ('2026-01-01 00:00:00', '{marker}', 'x', 'x', 'x', '')",
        f"ALTER TABLE {db}.audit_log DELETE WHERE actor = '{marker}'",
        f"ALTER TABLE {db}.audit_log ADD COLUMN sneaky String",
        f"DROP TABLE {db}.audit_log",
        f"CREATE TABLE {db}.sneaky (a UInt8) ENGINE = Memory",
        "SET readonly = 0",
    ):
        with pytest.raises(ServerException) as refused:
            reader.execute(statement)
        assert refused.value.code == ErrorCodes.READONLY, statement
    # Nothing changed: the row is still there, once, and the table has its contract columns only.
    assert writer.execute(count) == [(1,)]
    columns = {name for name, *_ in writer.execute(f"DESCRIBE TABLE {db}.audit_log")}
    assert columns == {"ts", "actor", "action", "target", "outcome", "detail"}

"""The running stack: contract topics and tables exist, records round-trip, users are scoped."""

from __future__ import annotations

import asyncio

import pytest
from clickhouse_driver import Client
from clickhouse_driver.errors import ServerException
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic

from sinks.clickhouse.schema import CONTRACT_TABLES
from topics.admin import describe_topics
from topics.specs import contract_topics


@pytest.fixture
def admin(stack_settings):
    client = KafkaAdminClient(bootstrap_servers=stack_settings.bootstrap_servers)
    yield client
    client.close()


def test_every_contract_topic_exists_with_partitions_and_configs(stack_settings, admin):
    specs = contract_topics(stack_settings)
    actual = describe_topics(admin, [s.name for s in specs])
    for spec in specs:
        assert spec.name in actual, f"topic {spec.name} missing"
        assert actual[spec.name]["partitions"] == spec.partitions, spec.name
        for key, value in spec.configs.items():
            assert actual[spec.name]["configs"][key] == value, (spec.name, key)
    compacted = {s.name for s in specs if s.compacted}
    assert compacted == {stack_settings.topic(n) for n in ("checkpoints", "watchlist", "subscriptions")}


@pytest.fixture
def scratch_topic(admin, unique_name):
    admin.create_topics([NewTopic(unique_name, 1, 1)])
    yield unique_name
    admin.delete_topics([unique_name])


def test_record_round_trips_with_kafka_python(stack_settings, scratch_topic):
    producer = KafkaProducer(bootstrap_servers=stack_settings.bootstrap_servers, acks="all")
    producer.send(scratch_topic, key=b"A-1", value='{"alarm_id":"A-1","城市":"上海"}'.encode())
    producer.flush()
    producer.close()
    consumer = KafkaConsumer(
        scratch_topic,
        bootstrap_servers=stack_settings.bootstrap_servers,
        auto_offset_reset="earliest",
        consumer_timeout_ms=15000,
    )
    records = [(r.key, r.value) for r in consumer]
    consumer.close()
    assert records == [(b"A-1", '{"alarm_id":"A-1","城市":"上海"}'.encode())]


def test_record_round_trips_with_aiokafka(stack_settings, scratch_topic):
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    async def round_trip():
        producer = AIOKafkaProducer(bootstrap_servers=stack_settings.kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(scratch_topic, b"v1", key=b"k1")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            scratch_topic, bootstrap_servers=stack_settings.kafka_bootstrap, auto_offset_reset="earliest"
        )
        await consumer.start()
        try:
            message = await asyncio.wait_for(consumer.getone(), timeout=15)
        finally:
            await consumer.stop()
        return message.key, message.value

    assert asyncio.run(round_trip()) == (b"k1", b"v1")


def test_every_contract_table_exists(stack_settings, clickhouse_admin):
    rows = clickhouse_admin.execute(
        "SELECT name FROM system.tables WHERE database = %(db)s",
        {"db": stack_settings.clickhouse_database},
    )
    assert set(CONTRACT_TABLES) <= {r[0] for r in rows}


def _client(settings, user, password):
    return Client(settings.clickhouse_host, port=settings.clickhouse_port, user=user, password=password)


def test_writer_writes_reader_only_reads_default_needs_password(stack_settings, local_stack):
    db = stack_settings.clickhouse_database
    writer = _client(stack_settings, "sitaware_writer", stack_settings.clickhouse_password.get_secret_value())
    reader = _client(stack_settings, "sitaware_reader", local_stack.secrets.clickhouse_reader_password)
    writer.execute(
        f"INSERT INTO {db}.audit_log (ts, actor, action, target, outcome, detail) VALUES",
        [(__import__("datetime").datetime(2026, 1, 1), "test", "probe", "audit_log", "ok", "")],
    )
    assert reader.execute(f"SELECT count() FROM {db}.audit_log WHERE actor = 'test'")[0][0] >= 1
    for statement in (
        f"INSERT INTO {db}.audit_log (actor) VALUES ('x')",
        f"ALTER TABLE {db}.audit_log DELETE WHERE 1",
        f"DROP TABLE {db}.audit_log",
    ):
        with pytest.raises(ServerException):
            reader.execute(statement)
    with pytest.raises(ServerException, match="[Pp]assword"):
        _client(stack_settings, "default", "").execute("SELECT 1")

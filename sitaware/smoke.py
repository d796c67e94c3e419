"""A smoke round trip through the running stack: one record through Kafka, one row through ClickHouse."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

from sitaware.settings import Settings

__all__ = ["smoke_round_trip"]


def smoke_round_trip(settings: Settings, reader_password: str, log=print) -> None:
    from clickhouse_driver import Client
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
    from kafka.admin import NewTopic

    topic = settings.topic(f"smoke.{uuid.uuid4().hex[:8]}")
    admin = KafkaAdminClient(**settings.kafka_python_config())
    admin.create_topics([NewTopic(topic, 1, 1)])
    try:
        record = {"probe": topic, "ts": datetime.now(timezone.utc).isoformat()}
        producer = KafkaProducer(**settings.kafka_python_config(), acks="all")
        producer.send(topic, json.dumps(record).encode()).get(timeout=30)
        producer.close()
        consumer = KafkaConsumer(
            topic, **settings.kafka_python_config(),
            auto_offset_reset="earliest", consumer_timeout_ms=20000,
        )
        got = [json.loads(m.value) for m in consumer]
        consumer.close()
        if got != [record]:
            raise RuntimeError(f"kafka round trip returned {got!r}")
        log(f"kafka: record round-tripped through {topic}")
    finally:
        admin.delete_topics([topic])
        admin.close()

    db = settings.clickhouse_database
    writer = Client(settings.clickhouse_host, port=settings.clickhouse_port,
                    user=settings.clickhouse_user, password=settings.clickhouse_password.get_secret_value())
    reader = Client(settings.clickhouse_host, port=settings.clickhouse_port,
                    user=settings.clickhouse_reader_user, password=reader_password)
    now = datetime.now(timezone.utc).replace(microsecond=0, tzinfo=None)
    writer.execute(
        f"INSERT INTO {db}.audit_log (ts, actor, action, target, outcome, detail) VALUES",
        [(now, "sitaware-demo", "smoke", topic, "ok", "")],
    )
    count = reader.execute(
        f"SELECT count() FROM {db}.audit_log WHERE action = 'smoke' AND target = %(t)s", {"t": topic}
    )[0][0]
    if count != 1:
        raise RuntimeError(f"clickhouse round trip found {count} rows")
    log("clickhouse: row written as sitaware_writer and read back as sitaware_reader")

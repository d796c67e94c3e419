"""What the pipeline is compared with: the same work done bare.

- `bare_consume`: an aiokafka consumer reading the run's input feeds from the beginning
  with `getmany`, no decoding, no group: what one Python process gets out of Kafka here.
- `bare_insert`: clickhouse-driver columnar inserts of `alarm_counts_1m`-shaped rows in
  blocks of 1,000 into a scratch table of the sitaware database (created and dropped here).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from datetime import datetime, timedelta

from sitaware.settings import Settings

__all__ = ["bare_consume", "bare_insert"]


def bare_consume(settings: Settings, topics: list[str], max_seconds: float = 20.0) -> dict:
    """Records/s of a bare getmany loop over every partition of `topics`, up to their end
    offsets at the start (or `max_seconds`)."""
    return asyncio.run(_consume(settings, topics, max_seconds))


def _partitions(settings: Settings, topics: list[str]) -> dict[str, list[int]]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(**settings.kafka_python_config())
    try:
        return {t: sorted(consumer.partitions_for_topic(t) or []) for t in topics}
    finally:
        consumer.close()


async def _consume(settings: Settings, topics: list[str], max_seconds: float) -> dict:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    parts = [TopicPartition(t, p) for t, ps in _partitions(settings, topics).items() for p in ps]
    consumer = AIOKafkaConsumer(**settings.aiokafka_config(), group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        total_available = sum(ends.values())
        remaining = {tp for tp, end in ends.items() if end > 0}
        count, started = 0, time.perf_counter()
        while remaining and time.perf_counter() - started < max_seconds:
            batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for tp, records in batches.items():
                count += len(records)
                if records and records[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
        elapsed = time.perf_counter() - started
    finally:
        await consumer.stop()
    return {"records": count, "available": total_available, "seconds": elapsed,
            "events_per_s": count / elapsed if elapsed > 0 else 0.0}


_DDL = """CREATE TABLE {table}
(
    minute   DateTime('UTC'),
    cell     String,
    district String,
    category String,
    priority UInt8,
    alarms   UInt64
)
ENGINE = ReplacingMergeTree(alarms)
PARTITION BY toYYYYMM(minute)
ORDER BY (minute, cell, district, category, priority)"""

_CATEGORIES = ("violent", "theft", "fraud", "dispute", "gathering", "traffic", "fire", "medical", "other")
_DISTRICTS = ("Dongping", "Xicheng", "Nanhu", "Beiyuan", "Zhongshan", "Gangkou")


def _columns(rows: int, rng: random.Random) -> list[list]:
    start = datetime(2026, 3, 2, 0, 0)
    return [
        [start + timedelta(minutes=i // 50) for i in range(rows)],
        ["wtw" + "".join(rng.choice("0123456789bcdefghjkmnpqrstuvwxyz") for _ in range(3)) for _ in range(rows)],
        [rng.choice(_DISTRICTS) for _ in range(rows)],
        [rng.choice(_CATEGORIES) for _ in range(rows)],
        [rng.randint(1, 4) for _ in range(rows)],
        [rng.randint(1, 20) for _ in range(rows)],
    ]


def bare_insert(settings: Settings, rows: int, block: int = 1000) -> dict:
    """Rows/s of insert time for `rows` rows in columnar blocks of `block` rows."""
    from clickhouse_driver import Client

    client = Client(settings.clickhouse_host, port=settings.clickhouse_port, user=settings.clickhouse_user,
                    password=settings.clickhouse_password.get_secret_value(),
                    database=settings.clickhouse_database, connect_timeout=5, send_receive_timeout=60)
    table = f"{settings.clickhouse_database}.bench_scratch_{uuid.uuid4().hex[:10]}"
    columns = _columns(rows, random.Random(7))  # built before the clock starts
    names = "minute, cell, district, category, priority, alarms"
    try:
        client.execute(_DDL.format(table=table))
        elapsed = 0.0
        for first in range(0, rows, block):
            chunk = [c[first:first + block] for c in columns]
            started = time.perf_counter()
            client.execute(f"INSERT INTO {table} ({names}) VALUES", chunk, columnar=True)
            elapsed += time.perf_counter() - started
    finally:
        try:
            client.execute(f"DROP TABLE IF EXISTS {table}")
        finally:
            client.disconnect()
    return {"rows": rows, "block": block, "seconds": elapsed,
            "rows_per_s": rows / elapsed if elapsed > 0 else 0.0}

"""What a run wrote to Kafka, from the broker: end offsets (records) and log sizes (bytes)
of every topic of the run's prefix, taken before and after, so that the records a worker
produced per record it read are counted where they land, whatever produced them.

Log sizes are the broker's own (`DescribeLogDirs`): record batches with their headers, as
they sit on disk. Nothing is compacted within a run (segments roll after an hour or 1 GiB).
"""

from __future__ import annotations

from dataclasses import dataclass

from sitaware.settings import Settings

__all__ = ["TopicSnapshot", "snapshot", "written"]


@dataclass(frozen=True)
class TopicSnapshot:
    records: dict[str, int]  # topic -> sum of end offsets
    bytes: dict[str, int]  # topic -> bytes in the broker's log dirs


def snapshot(settings: Settings, admin, prefix: str) -> TopicSnapshot:
    from kafka import KafkaConsumer, TopicPartition

    topics = sorted(t for t in admin.list_topics() if t.startswith(prefix))
    consumer = KafkaConsumer(**settings.kafka_python_config(), enable_auto_commit=False)
    try:
        parts = [TopicPartition(t, p) for t in topics for p in (consumer.partitions_for_topic(t) or ())]
        ends = consumer.end_offsets(parts) if parts else {}
    finally:
        consumer.close()
    records = {t: 0 for t in topics}
    for tp, end in ends.items():
        records[tp.topic] += end
    sizes = {t: 0 for t in topics}
    for broker in admin.describe_log_dirs(topics) if topics else ():
        for log_dir in broker.get("log_dirs", ()):
            for topic in log_dir.get("topics", ()):
                if topic["name"] in sizes:
                    sizes[topic["name"]] += sum(p["partition_size"] for p in topic["partitions"])
    return TopicSnapshot(records, sizes)


def written(before: TopicSnapshot, after: TopicSnapshot) -> dict[str, dict[str, int]]:
    """topic -> {records, bytes} written between the two snapshots."""
    return {t: {"records": n - before.records.get(t, 0), "bytes": after.bytes.get(t, 0) - before.bytes.get(t, 0)}
            for t, n in after.records.items()}

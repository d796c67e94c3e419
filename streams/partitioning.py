"""Which partition a key lands in: Kafka's default partitioner (murmur2), as every client uses."""

from __future__ import annotations

from kafka.partitioner.default import murmur2

__all__ = ["partition_of"]


def partition_of(key: str, partitions: int) -> int:
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions

"""Reference data: the compacted `checkpoints`, `watchlist` and `subscriptions` topics, held
whole by every worker.

Passes are keyed by checkpoint and need any checkpoint's site (cloned plates compare two)
and any plate's watch-list entry, so each worker reads both topics entirely — all
partitions, no consumer group — like a Kafka Streams GlobalKTable: first to their end
offsets before any pass is judged (`ready`), then live, so an added, changed or deleted
(null value) entry takes effect without a restart, on the passes processed after the
worker has read it (within a fetch, well under a second). A pass processed before that is
judged on the entry as it was. Expiry (`expires_at`) is judged by the models in event time.

An invalid reference record is dead-lettered (stage `validate`) by every worker that reads
it — one copy per worker, identified by its origin headers — and the key's previous entry
is kept.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.metrics import REFERENCE_ENTRIES
from topics import specs
from topics.codec import Rejection, decode_record
from topics.records import Checkpoint, Subscription, WatchlistEntry

__all__ = ["ReferenceData"]

log = logging.getLogger(__name__)


class ReferenceData:
    def __init__(self, pipeline) -> None:
        self.pipeline = pipeline
        self.checkpoints: dict[str, Checkpoint] = {}
        self.watchlist: dict[str, WatchlistEntry] = {}  # upper-cased plate -> entry
        self.subscriptions: dict[str, Subscription] = {}
        self.ready = asyncio.Event()
        self._read_to: dict[tuple[str, int], int] = {}  # (topic, partition) -> next offset
        settings = pipeline.settings
        self._tables = {
            settings.topic(specs.CHECKPOINTS): (self.checkpoints, Checkpoint, "checkpoint_id", str),
            settings.topic(specs.WATCHLIST): (self.watchlist, WatchlistEntry, "plate", str.upper),
            settings.topic(specs.SUBSCRIPTIONS): (self.subscriptions, Subscription, "subscription_id", str),
        }

    def register(self) -> None:
        @self.pipeline.app.task
        async def follow_reference_topics() -> None:
            while True:
                try:
                    await self._follow()
                except asyncio.CancelledError:
                    raise
                except Exception:  # the broker went away: start over, the worker stays up
                    log.exception("reading the reference topics failed; retrying in 2 s")
                    await asyncio.sleep(2)

    async def _follow(self) -> None:
        consumer = AIOKafkaConsumer(
            **self.pipeline.settings.aiokafka_config(),
            group_id=None, enable_auto_commit=False, auto_offset_reset="earliest",
            fetch_max_wait_ms=100,
        )
        await consumer.start()
        try:
            cluster = await consumer._client.fetch_all_metadata()  # what `consumer.topics()` reads
            parts = [TopicPartition(topic, p) for topic in self._tables
                     for p in sorted(cluster.partitions_for_topic(topic) or ())]
            if not parts:
                raise LookupError(f"reference topics {sorted(self._tables)} not found")
            consumer.assign(parts)
            await consumer.seek_to_beginning(*parts)
            ends = await consumer.end_offsets(parts)
            while True:
                if not self.ready.is_set() and await self._reached(consumer, ends):
                    self.ready.set()
                batches = await consumer.getmany(timeout_ms=500, max_records=5000)
                for tp, records in batches.items():
                    for record in records:
                        try:
                            await self._apply(record)
                        except Exception as exc:
                            # Never let one record end the loop: following would start over
                            # from the beginning and meet (and dead-letter) it again, forever.
                            log.exception("reference record %s[%s]@%s failed", record.topic,
                                          record.partition, record.offset)
                            await self._reject(record, Rejection(
                                "process", type(exc).__name__, "processing failed; see worker log"))
        finally:
            await consumer.stop()

    @staticmethod
    async def _reached(consumer, ends: dict) -> bool:
        """Has every partition been read up to the end offset it had when reading began?"""
        for tp, end in ends.items():
            if await consumer.position(tp) < end:
                return False
        return True

    def describe(self) -> dict:
        """For /health: whether loaded, entries held and how far each partition was read."""
        out: dict = {"ready": self.ready.is_set()}
        for topic, (table, *_rest) in self._tables.items():
            read_to = {str(p): o for (t, p), o in sorted(self._read_to.items()) if t == topic}
            out[topic] = {"entries": len(table), "read_to": read_to}
        return out

    async def _apply(self, record) -> None:
        self._read_to[(record.topic, record.partition)] = record.offset + 1
        table, model, key_field, normal = self._tables[record.topic]
        try:
            key = normal(record.key.decode()) if record.key else None
        except UnicodeDecodeError:
            return await self._reject(record, Rejection("validate", "InvalidKey", "record key is not UTF-8"))
        if key is None:
            return await self._reject(record, Rejection("validate", "MissingKey", "reference record has no key"))
        if record.value is None:  # tombstone: the entry is deleted
            table.pop(key, None)
        else:
            decoded = decode_record(record.value, model)
            if decoded.rejection is not None:
                return await self._reject(record, decoded.rejection)
            if normal(getattr(decoded.record, key_field)) != key:
                return await self._reject(record, Rejection(
                    "validate", "KeyMismatch", f"record key does not match {key_field}"))
            table[key] = decoded.record
        REFERENCE_ENTRIES.labels(record.topic).set(len(table))

    async def _reject(self, record, rejection: Rejection) -> None:
        from streams.deadletters import reject_record

        p = self.pipeline
        await reject_record(p.dead_letters, p.late_events, record.topic, record.partition, record.offset,
                            record.key, record.value, rejection)

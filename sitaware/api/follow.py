"""Following one Kafka topic in the API process: every partition, no consumer group.

The API keeps views of topics in memory (the live situations, unit positions, the
subscriptions). Each view reads all partitions itself — no group, no committed offsets —
so any number of API processes can run side by side, each with the whole picture. A view
chooses where to start (`position`), then `apply` sees every record from there on.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition

from sitaware.api.metrics import FEED_RECORDS
from sitaware.errors import ConfigError
from sitaware.settings import Settings

__all__ = ["TopicFollower"]

log = logging.getLogger(__name__)


class TopicFollower:
    """Base of the in-memory topic views; subclasses write `position` and `apply`."""

    contract_name: str = ""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.topic = settings.topic(self.contract_name)
        self.consumer: AIOKafkaConsumer | None = None
        self.partitions: list[TopicPartition] = []
        self._task: asyncio.Task | None = None

    async def position(self) -> None:
        """Seek every partition to where this view starts (default: the end)."""
        await self.consumer.seek_to_end(*self.partitions)

    def apply(self, record) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        self.consumer = AIOKafkaConsumer(
            **self.settings.aiokafka_config(), group_id=None,
            enable_auto_commit=False, auto_offset_reset="latest", client_id=f"sitaware-api-{self.contract_name}")
        await self.consumer.start()
        try:
            numbers = await self._partition_numbers()
            self.partitions = [TopicPartition(self.topic, p) for p in sorted(numbers)]
            self.consumer.assign(self.partitions)
            await self.position()
            for tp in self.partitions:  # resolve lazy seeks now: nothing after start is missed
                await self.consumer.position(tp)
            await self.catch_up()
        except BaseException:
            await self.consumer.stop()
            raise
        self._task = asyncio.create_task(self._follow(), name=f"follow-{self.contract_name}")

    async def _partition_numbers(self, wait_s: float = 10.0) -> set[int]:
        # A topic created a moment ago may not be in every broker's metadata yet.
        deadline = asyncio.get_running_loop().time() + wait_s
        while True:
            # The consumer's own metadata only tracks assigned topics; ask for the cluster's.
            cluster = await self.consumer._client.fetch_all_metadata()
            numbers = cluster.partitions_for_topic(self.topic)
            if numbers:
                return numbers
            if asyncio.get_running_loop().time() > deadline:
                raise ConfigError(
                    f"topic {self.topic!r} does not exist on {self.settings.kafka_bootstrap} "
                    "(create the contract's topics: `sitaware topics create`)")
            await asyncio.sleep(0.5)

    async def catch_up(self) -> None:
        """Optionally read up to the end offsets as of start before serving (default: no)."""

    async def read_to_end(self) -> None:
        ends = await self.consumer.end_offsets(self.partitions)
        while True:
            behind = [tp for tp in self.partitions if await self.consumer.position(tp) < ends[tp]]
            if not behind:
                return
            await self._poll()

    async def _poll(self) -> None:
        batches = await self.consumer.getmany(timeout_ms=500, max_records=2000)
        for records in batches.values():
            for record in records:
                FEED_RECORDS.labels(self.contract_name).inc()
                try:
                    self.apply(record)
                except Exception:  # one bad record must not stop the view
                    log.exception("%s: record at offset %s not applied", self.topic, record.offset)

    async def _follow(self) -> None:
        while True:
            try:
                await self._poll()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker may be away for a while: keep trying
                log.warning("%s: fetch failed (%s); retrying", self.topic, type(exc).__name__)
                await asyncio.sleep(1.0)

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self.consumer is not None:
            await self.consumer.stop()

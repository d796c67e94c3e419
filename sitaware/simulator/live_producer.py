"""Offer a `LiveCity` to Kafka, live-paced (event time = now) or as fast as it goes.

aiokafka, not kafka-python: kafka-python's `send` tops out near 4,000 records/s in one process,
under a large city's peak. Sends are queued without awaiting their delivery (a failure is
counted by a callback and reported at the end), into large batches with a long linger; the
partition of a unit or checkpoint key is computed once (murmur2, as every Kafka client does),
values are encoded with orjson.

    load = LiveLoad(settings, SCALES["metro"])
    await load.start(); await load.reference(); result = await load.offer(600); await load.stop()
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone

import orjson

from sitaware.settings import Settings
from topics.specs import ALARMS, CHECKPOINT_PASSES, PATROL_GPS

from .config import CityScale
from .errors import SimulationError
from .live import LiveCity

__all__ = ["LiveLoad", "OfferResult", "PRODUCER_CONFIG"]

PRODUCER_CONFIG = {"acks": 1, "linger_ms": 50, "max_batch_size": 1024 * 1024,
                   "max_request_size": 8 * 1024 * 1024, "request_timeout_ms": 60_000}
_CHUNK = 500  # records sent between two looks at the clock (and one `ts`)


@dataclass
class OfferResult:
    pace: float  # 1: live; 0: as fast as possible
    seconds: float
    started_at: float = 0.0  # wall clock
    ended_at: float = 0.0
    sent: dict[str, int] = field(default_factory=dict)  # per contract topic
    failed: int = 0
    first_failure: str | None = None
    alarms: dict[str, float] = field(default_factory=dict)  # received alarm_id -> produce wall time

    @property
    def total(self) -> int:
        return sum(self.sent.values())

    @property
    def records_per_s(self) -> float:
        return self.total / max(self.ended_at - self.started_at, 1e-9)


def _now_rfc3339() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class LiveLoad:
    def __init__(self, settings: Settings, scale: CityScale, seed: int = 7, tag: str | None = None):
        self.settings = settings
        # Ids carry a tag of the load's start, so two loads into one broker never collide.
        self.city = LiveCity(scale, seed, tag or f"{int(time.time()) % 1_000_000:06d}")
        self.producer = None
        self._partitions: dict[str, int] = {}
        self._key_partition: dict[tuple[str, str], int] = {}
        self._failures: list[BaseException] = []
        self._t0: float | None = None  # the city's clock (lifecycles) runs across offers

    async def start(self) -> "LiveLoad":
        from aiokafka import AIOKafkaProducer
        from aiokafka.errors import KafkaError

        self.producer = AIOKafkaProducer(**self.settings.aiokafka_config(), client_id="sitaware-live-load",
                                         **PRODUCER_CONFIG)
        try:
            await self.producer.start()
        except KafkaError as exc:
            raise SimulationError(f"cannot reach Kafka at {self.settings.kafka_bootstrap}: {exc}") from exc
        return self

    async def stop(self) -> None:
        if self.producer is not None:
            await self.producer.stop()
            self.producer = None

    def _done(self, future: asyncio.Future) -> None:
        if not future.cancelled() and future.exception() is not None:
            self._failures.append(future.exception())

    async def _partition(self, topic: str, key: str, cache: bool) -> int:
        from aiokafka.partitioner import murmur2

        cached = self._key_partition.get((topic, key))
        if cached is not None:
            return cached
        if topic not in self._partitions:
            self._partitions[topic] = len(await self.producer.partitions_for(topic))
        partition = (murmur2(key.encode()) & 0x7FFFFFFF) % self._partitions[topic]
        if cache:
            self._key_partition[(topic, key)] = partition
        return partition

    async def _send(self, topic: str, key: str, value: dict, cache: bool = True) -> None:
        name = self.settings.topic(topic)
        partition = await self._partition(name, key, cache)
        future = await self.producer.send(name, orjson.dumps(value), key.encode(), partition=partition)
        future.add_done_callback(self._done)

    async def reference(self) -> int:
        """The checkpoints and the watch list, delivered before any pass refers to them."""
        records = self.city.reference_records(datetime.now(timezone.utc))
        for topic, key, value in records:
            await self._send(topic, key, value, cache=False)
        await self.producer.flush()
        self._raise_failures(len(records))
        return len(records)

    def _raise_failures(self, sent: int) -> None:
        if self._failures:
            first, count = self._failures[0], len(self._failures)
            self._failures.clear()
            raise SimulationError(f"{count} of {sent} records were not delivered; first: {first!r}")

    async def offer(self, seconds: float, pace: float = 1.0) -> OfferResult:
        """Send for `seconds` of wall time at `pace` x the city's rates (0: as fast as possible)."""
        city = self.city
        rates = (city.rates[PATROL_GPS], city.rates[CHECKPOINT_PASSES], city.scale.alarms_per_hour / 3600)
        total_rate = sum(rates)
        result = OfferResult(pace, seconds, started_at=time.time())
        sent, done = Counter(), [0, 0, 0]  # pings, passes, received alarms
        send = self._send
        t0 = time.monotonic()
        if self._t0 is None:
            self._t0 = t0
        while True:
            now = time.monotonic()
            elapsed, city_s = now - t0, now - self._t0
            if elapsed >= seconds:
                break
            if pace > 0:
                due = [max(int(elapsed * rate * pace) - n, 0) for rate, n in zip(rates, done)]
            else:  # as fast as possible, in the city's mix
                due = [round(_CHUNK * rate / total_rate) or 1 for rate in rates]
            while sum(due) > _CHUNK:  # a late start catches up chunk by chunk
                due = [d // 2 for d in due]
            ts, wall = _now_rfc3339(), time.time()
            for topic, key, value in city.batch(city_s, ts, *due):
                # Unit and checkpoint keys come back; alarm ids do not (no partition cache).
                await send(topic, key, value, cache=topic != ALARMS)
                sent[topic] += 1
                if topic == ALARMS and value["status"] == "received":
                    result.alarms[key] = wall
            done = [n + d for n, d in zip(done, due)]
            if pace > 0 and sum(due) <= 0:
                await asyncio.sleep(0.005)
            else:
                await asyncio.sleep(0)  # the producer's sender task runs on this loop
        await self.producer.flush()
        result.ended_at = time.time()
        result.sent = dict(sent)
        if self._failures:
            result.failed, result.first_failure = len(self._failures), repr(self._failures[0])
            self._failures.clear()
        return result

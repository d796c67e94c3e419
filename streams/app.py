"""The Faust application: topics, tables and the shared services every agent uses.

Co-partitioning plan (docs/architecture.md): every topic below has
`SITAWARE_TOPIC_PARTITIONS` partitions and every table lives with the agent whose input is
keyed like the table:

    alarms (key alarm_id) + <app>-alarm-signals (ticks)   -> alarm agent, table alarm-lifecycle
    patrol-gps (key unit_id) + <app>-unit-signals          -> unit agent, table unit-tracks
    <app>-alarms-by-cell (key cell)                        -> cell agent, tables cell-bursts, alarm-counts
    <app>-unit-presence (key minute|cell|type|status)      -> presence agent, table presence
    <app>-sectors (key sector)                             -> sector agent, tables fleet, sector-alarms
    checkpoint-passes (key checkpoint_id)                  -> checkpoint agent, table checkpoint-flows
    <app>-passes-by-plate (key PLATE|colour)               -> plate agent, table plate-trails
    <app>-suspects (key sector)                            -> suspect agent, table suspect-sectors
    situations (key event_id)                              -> matcher agent (no table)
    <app>-alert-candidates (key subscription_id)           -> alerts agent, table alert-state
    checkpoints, watchlist, subscriptions (compacted)      -> read whole by every worker (streams/reference.py)
    <app>-clickhouse-rows (key row identity)               -> ClickHouse sink agent (no table)
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import faust
import orjson
from faust.types import TP

from sitaware.settings import Settings
from streams import commits
from streams.clock import StreamClock
from streams.holds import Holds
from streams.deadletters import reject
from streams.metrics import SITUATIONS, records_in
from topics import specs
from topics.codec import Decoded, Rejection, decode_record
from topics.pii import pseudonym
from topics.records import Situation
from topics.specs import TopicSpec

__all__ = ["Pipeline", "create_pipeline", "row_message"]

PRODUCER_LINGER_S = 0.005
PRODUCER_MAX_BATCH_BYTES = 256 * 1024
PRODUCER_BUFFER_MESSAGES = 2000


@dataclass
class Pipeline:
    """The app plus what agents share. Agents are registered by `streams.agents.register`."""

    settings: Settings
    app: faust.App
    def __post_init__(self) -> None:
        s, app = self.settings, self.app
        self.clock = StreamClock(idle_after=timedelta(seconds=s.feed_idle_s), backlog=self._backlog,
                                 max_ahead=timedelta(seconds=s.max_ahead_s) if s.max_ahead_s else None)
        self.lateness = timedelta(seconds=s.allowed_lateness_s)
        self.holds = Holds()
        n = s.topic_partitions
        self.alarms = app.topic(s.topic(specs.ALARMS), partitions=n)
        self.checkpoint_passes = app.topic(s.topic(specs.CHECKPOINT_PASSES), partitions=n)
        self.situations = app.topic(s.topic(specs.SITUATIONS), partitions=n)
        self.dead_letters = app.topic(s.topic(specs.DEAD_LETTERS), partitions=n)
        self.late_events = app.topic(s.topic(specs.LATE_EVENTS), partitions=n)
        self.alarm_signals = self.internal_topic("alarm-signals")
        self.alarms_by_cell = self.internal_topic("alarms-by-cell")
        self.unit_signals = self.internal_topic("unit-signals")
        self.presence = self.internal_topic("unit-presence")
        self.sectors = self.internal_topic("sectors")
        self.clickhouse_rows = self.internal_topic(specs.CLICKHOUSE_ROWS)
        self.passes_by_plate = self.internal_topic("passes-by-plate")
        self.suspects = self.internal_topic("suspects")
        self.alert_candidates = self.internal_topic("alert-candidates")
        self.subscriptions = app.topic(s.topic(specs.SUBSCRIPTIONS), partitions=n)
        self.pii_key = s.pii_key.get_secret_value().encode() if s.pii_key else b""
        feeds = {s.topic(name): name for name in (specs.ALARMS, specs.PATROL_GPS, specs.CHECKPOINT_PASSES)}
        self._feed_topics = frozenset(feeds)
        self.feed_ends: dict[TP, int] = {}  # broker end offsets, refreshed every tick

        @app.timer(1.0, name="feed-ends")
        async def _confirm_feed_ends() -> None:
            try:
                await self.confirm_feed_ends()
            except Exception:  # the broker is away: no partition is released meanwhile
                self.feed_ends = {}

        @app.on_partitions_assigned.connect
        async def _track_feeds(sender, assigned, **kwargs) -> None:
            mine = [tp for tp in assigned if tp.topic in feeds]
            for tp in mine:
                self.clock.track(feeds[tp.topic], tp.partition)
            if mine:
                asyncio.ensure_future(self._seed_from_log(mine, feeds))

        @app.on_partitions_revoked.connect
        async def _forget_feeds(sender, revoked, **kwargs) -> None:
            for tp in revoked:
                if tp.topic in feeds:
                    self.clock.forget(feeds[tp.topic], tp.partition)

    async def _seed_from_log(self, tps, feeds: dict[str, str]) -> None:
        """A feed partition this worker takes over with nothing left to read (a restart after
        everything was processed) would never give a watermark: take the ts of its last
        record, which the group has already processed, so stream time and timers go on."""
        from aiokafka import AIOKafkaConsumer, TopicPartition

        consumer = AIOKafkaConsumer(**self.settings.aiokafka_config(), group_id=None,
                                    enable_auto_commit=False)
        try:
            await consumer.start()
            parts = [TopicPartition(tp.topic, tp.partition) for tp in tps]
            consumer.assign(parts)
            ends = await consumer.end_offsets(parts)
            # The consumer learns its committed positions (where it reads from) just after
            # the assignment: wait for them (a partition never committed has none).
            read = self.app.consumer._read_offset
            for _ in range(60):
                if all(read.get(TP(tp.topic, tp.partition)) is not None for tp in parts if ends[tp]):
                    break
                await asyncio.sleep(0.5)
            for tp in parts:
                end = ends[tp]
                if end == 0 or not self.consumed_up_to(TP(tp.topic, tp.partition), None, end):
                    continue  # empty, or records wait for this worker: they will set it
                consumer.seek(tp, end - 1)
                records = (await consumer.getmany(tp, timeout_ms=5000)).get(tp, [])
                try:
                    ts = datetime.fromisoformat(orjson.loads(records[-1].value)["ts"])
                except (IndexError, ValueError, TypeError, KeyError, orjson.JSONDecodeError):
                    continue  # an invalid last record: it was dead-lettered, nothing to learn
                self.clock.seed(feeds[tp.topic], tp.partition, ts)
        except Exception:  # the broker is away: records, when they come, set the watermark
            self.app.log.exception("seeding stream time from the feeds' last records failed")
        finally:
            await consumer.stop()

    def _backlog(self, feed: str, partition: int, offset: int | None) -> bool:
        """May records wait in this feed partition past `offset` (the last one the agent
        admitted, or None before the first: then past the start position)? Yes if the
        consumer knows of some, and also if it has not fetched the partition yet: a worker
        that takes partitions over recovers their tables first, and a partition it cannot
        see yet is not idle (released after FEED_IDLE_S, stream time ran past its records
        and a fault test saw a received alarm dropped as late)."""
        return self.consumed_up_to(TP(self.settings.topic(feed), partition), offset, None) is not True

    async def send_feed_watermark(self, feed: str, partition: int, to=()) -> None:
        """Tell every partition of the sectors topic (and of the topics in `to`): no more
        `feed` records from `partition` older than the mark will follow what this worker
        already forwarded.

        Released to stream time only when the broker confirms the partition was read to
        its end (a partition the clock thinks idle may just not be fetched yet).
        """
        tp = TP(self.settings.topic(feed), partition)
        last = self.clock.last_offset(feed, partition)
        # The highwater of the last fetch only grows: if it already shows unread records the
        # partition is not drained. Otherwise the broker's end offset decides, as asked by
        # `confirm_feed_ends` at most a tick ago (asking here, on every tick of every
        # partition, made each agent wait a broker round trip per tick: under load the
        # ticks queued up and held the joins back by minutes).
        drained = self.consumed_up_to(tp, last, None)
        if drained is not False:
            end = self.feed_ends.get(tp)
            drained = None if end is None else self.consumed_up_to(tp, last, end)
        mark = self.clock.partition_watermark(feed, partition, release=bool(drained))
        if mark is None:
            return
        value = orjson.dumps({"kind": "watermark", "feed": feed, "source": partition, "ts": mark.isoformat()})
        for topic in (self.sectors, *to):
            for target in range(self.settings.topic_partitions):
                await topic.send(value=value, partition=target)

    async def confirm_feed_ends(self) -> None:
        """Ask the broker, in one request, for the end offsets of the feed partitions this
        worker owns (`send_feed_watermark` releases a partition to stream time only when
        the broker has confirmed it was read to its end)."""
        mine = [tp for tp in self.app.assignor.assigned_actives() if tp.topic in self._feed_topics]
        if not mine:
            return
        ends = await self.app.consumer.highwaters(*mine)
        self.feed_ends = {tp: end for tp, end in ends.items() if end is not None}

    def consumed_up_to(self, tp, offset: int | None, end_offset: int | None) -> bool | None:
        """True if the agent has read everything before `end_offset` (default: the highwater
        the consumer last fetched, or the broker's end offset when it has fetched nothing
        yet), False if not, None if that is not known yet."""
        consumer = self.app.consumer
        end = end_offset
        if end is None:
            try:
                end = consumer.highwater(tp)
            except Exception:  # not assigned (any more)
                end = None
            if end is None:
                # Not fetched yet (a partition taken over while tables recover, or one the
                # fetcher has not polled): the broker's end offset, confirmed every second,
                # decides. Without it such a partition counted as a backlog for as long as
                # it stayed unfetched, and held stream time (and every join) where it was.
                end = self.feed_ends.get(tp)
        if end is None:
            return None
        if offset is not None:
            return offset + 1 >= end
        # Nothing admitted yet: the start is the group's committed position (everything
        # before it was processed), else where the consumer reads from, else the log start
        # of a new group (taken as 0: a fully expired log then counts as a backlog until a
        # record or the idle timeout comes — the safe side).
        start = consumer._committed_offset.get(tp)
        if start is None:
            start = consumer._read_offset.get(tp)
        return (start or 0) >= end

    def internal_topic(self, name: str) -> faust.TopicT:
        full_name = f"{self.app.conf.id}-{name}"
        retention_ms = specs.internal_retention_ms(self.settings, name)
        self.internal_specs = [*getattr(self, "internal_specs", []), TopicSpec(
            full_name, "internal", self.settings.topic_partitions,
            {"cleanup.policy": "delete", "retention.ms": str(retention_ms)},
        )]
        return self.app.topic(
            f"{self.app.conf.id}-{name}",
            partitions=self.settings.topic_partitions,
            internal=True,
            retention=timedelta(milliseconds=retention_ms),
        )

    def declare_topics(self) -> list[str]:
        """Create the contract's and the internal topics this app reads (idempotent).

        An agent reading several topics at once does not declare them itself, and the
        broker does not auto-create topics: so the worker creates them before it starts.
        """
        from kafka import KafkaAdminClient

        from topics.admin import ensure_topics

        admin = KafkaAdminClient(**self.settings.kafka_python_config())
        try:
            specs_ = [*specs.contract_topics(self.settings), *self.internal_specs]
            return ensure_topics(admin, specs_, self.settings.topic_replication)
        finally:
            admin.close()

    def table(self, name: str) -> faust.Table:
        return self.app.Table(
            name, default=lambda: None, partitions=self.settings.topic_partitions,
            schema=faust.Schema(key_type=str, key_serializer="raw", value_serializer="json"),
        )

    # --- what every agent does with an input record --------------------------------
    async def admit(self, event: faust.types.EventT, feed: str, model) -> object | None:
        """Decode, validate and check lateness; a rejected record goes to its topic."""
        message = event.message
        records_in(message.topic).inc()
        decoded: Decoded = decode_record(message.value, model)
        if decoded.rejection is not None:
            await self.reject(event, decoded.rejection)
            return None
        record = decoded.record
        if self.clock.is_ahead(record.ts):
            await self.reject(event, Rejection(
                "validate", "TimestampAhead", f"ts is more than {self.settings.max_ahead_s:g} s ahead of the worker's clock"))
            return None
        if self.clock.is_late(record.ts, self.lateness):
            await self.reject(event, Rejection(
                "late", "LateRecord", f"ts is more than {self.lateness} behind stream time"))
            return None
        self.clock.observe(feed, message.partition, record.ts, message.offset)
        return record

    def forwarded_at(self) -> str | None:
        """Stream time now, to carry with a record forwarded to another agent. That agent
        judges the record's lateness by it rather than by stream time when it gets there:
        the record was on time at intake, however far the feeds have been read since (an
        internal topic may trail them by minutes of event time when a backlog is read)."""
        now = self.clock.now()
        return now.isoformat() if now else None

    def stream_time_of(self, message: dict) -> datetime | None:
        """The stream time a forwarded record carries (`forwarded_at`); records from older
        workers carry none: stream time now."""
        at = message.get("stream_time")
        return datetime.fromisoformat(at) if at else self.clock.now()

    async def reject(self, event: faust.types.EventT, rejection: Rejection) -> None:
        """Send the input record, unchanged, to `dead-letters` (or `late-events`)."""
        await reject(self.dead_letters, self.late_events, event, rejection)

    async def failed(self, event: faust.types.EventT, exc: Exception) -> None:
        """A record whose processing raised: dead-letter it (stage process) and go on."""
        app_log = self.app.log
        app_log.exception("processing %s[%s]@%s failed", event.message.topic,
                          event.message.partition, event.message.offset)
        await self.reject(event, Rejection("process", type(exc).__name__, "processing failed; see worker log"))

    async def emit(self, situations: list[Situation]) -> None:
        for situation in situations:
            SITUATIONS.labels(situation.type).inc()
            value = orjson.dumps(situation.model_dump(mode="json"))
            await self.situations.send(key=situation.event_id.encode(), value=value)
            await self.row("situations", situation_row(situation, self.pii_key))

    async def row(self, table: str, row: dict) -> None:
        key, value = row_message(table, row)
        await self.clickhouse_rows.send(key=key, value=value)


def row_message(table: str, row: dict) -> tuple[bytes, bytes]:
    """A ClickHouse row as a record of `<app>-clickhouse-rows`: keyed by the row's identity,
    so every version of one row is in one partition, in order (`sitaware rebuild` relies on it)."""
    from sinks.clickhouse.tables import TABLES

    key = "|".join(str(v) for v in TABLES[table].identity(row)).encode()
    return key, orjson.dumps({"table": table, "row": row})


# Situations about a vehicle: their subject is the clear plate (command centers act on it);
# ClickHouse gets its pseudonym instead, in `subject` and in the summary.
PLATE_SUBJECT_TYPES = frozenset({"watchlist_hit", "suspect_near_incident", "cloned_plate"})


def situation_row(situation: Situation, pii_key: bytes) -> dict:
    data = situation.model_dump(mode="json")
    if situation.type in PLATE_SUBJECT_TYPES and situation.subject:
        token = pseudonym(situation.subject, pii_key)
        data["subject"] = token
        data["summary"] = data["summary"].replace(situation.subject, f"[{token[:16]}]")
    return {
        **{k: data.get(k) for k in ("event_id", "type", "severity", "event_time", "detected_at",
                                     "window_start", "window_end", "lat", "lon", "model_version")},
        **{k: data.get(k) or "" for k in ("cell", "district", "subject", "summary")},
        "metrics": orjson.dumps(data["metrics"]).decode(),
        "evidence": orjson.dumps(data["evidence"]).decode(),
    }


def create_pipeline(
    settings: Settings,
    *,
    datadir: Path | None = None,
    web_port: int | None = None,
    store: str = "rocksdb://",
    web_enabled: bool = True,
) -> Pipeline:
    app_id = specs.app_id(settings)
    datadir = datadir or settings.stack_dir / "worker" / app_id
    datadir.mkdir(parents=True, exist_ok=True)
    commits.install()
    app = faust.App(
        app_id,
        **settings.faust_broker_config(),
        store=store,
        datadir=str(datadir),
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        key_serializer="raw",
        value_serializer="raw",
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        web_enabled=web_enabled,
        web_port=web_port or settings.worker_web_port,
        web_bind=settings.worker_web_bind,
        web_host=settings.worker_web_bind,
        web_tables_enabled=False,  # the built-in /table view would expose state
        broker_commit_interval=1.0,
        # One record in makes several records out (changelogs, internal topics, rows), and
        # aiokafka has one produce request in flight per broker: a batch per partition
        # bigger than the 16 KiB default keeps sends from waiting for that request, and a
        # few ms of linger fills the batches (latency target is 1 s).
        producer_linger=PRODUCER_LINGER_S,
        producer_max_batch_size=PRODUCER_MAX_BATCH_BYTES,
        broker_session_timeout=settings.worker_session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.worker_session_timeout_s / 4),
        topic_allow_declare=True,
        autodiscover=False,
    )
    # Table writes queue their changelog records in the producer buffer; past this size
    # every stream waits until it drains (faust's default of 100 stalls the agents on each
    # burst of writes several times a second; "producer buffer full" in the log).
    app.producer.buffer.max_messages = PRODUCER_BUFFER_MESSAGES
    pipeline = Pipeline(settings=settings, app=app)
    from streams.agents import register
    from streams.web import register_pages

    register(pipeline)
    register_pages(pipeline)
    return pipeline

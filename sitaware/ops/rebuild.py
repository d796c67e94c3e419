"""`sitaware rebuild`: recompute ClickHouse tables from the rows the workers keep in Kafka.

Every row a worker writes to ClickHouse first travels through `<app>-clickhouse-rows`
(`Pipeline.row`), keyed by the row's identity: all versions of one row are in one
partition, in the order they were made. Aggregate rows carry their absolute value, which
is also their ReplacingMergeTree version, so the latest retained version of a key is its
exact value. Re-reading that topic from its earliest retained offset and inserting through
the sink's own code (collapse to the latest version, retry transient errors) therefore
gives back what `FINAL` read before — for every key whose latest row the topic still
retains (its retention is at least the input feeds', see `topics.specs`).

Nothing is re-detected and nothing is sent: no situation, no alert. No consumer group is
used and no offset is committed, so running workers are not disturbed. A dry run reads the
topic the same way and inserts nothing, truncates nothing: it reports the rows each table
holds now and the rows the topic would bring back.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, TextIO

import orjson

from sinks.clickhouse.sink import ClickHouseSink, PermanentInsertError, collapse
from sinks.clickhouse.tables import TABLES
from sitaware.ops.errors import OpsError, ServiceUnreachable, UnknownTable
from sitaware.ops.inventory import rows_as_read
from sitaware.ops.services import clickhouse_client, kafka_admin, kafka_consumer
from sitaware.settings import Settings
from topics import specs

__all__ = ["rebuild", "RebuildReport", "TableCount", "REBUILDABLE_TABLES"]

# Tables whose rows travel through the rows topic. `audit_log` is written by the API
# directly: only a backup brings it back.
REBUILDABLE_TABLES = tuple(name for name in TABLES if name != "audit_log")

BATCH_ROWS = 10_000
# How long to wait for a broker or ClickHouse that stopped answering mid-run.
STALL_TIMEOUT_S = 60.0


@dataclass
class TableCount:
    read: int = 0  # rows of this table read from the topic
    inserted: int = 0  # rows inserted (after collapsing each batch to the latest versions)
    refused: int = 0  # rows ClickHouse refuses (the live sink dead-lettered them too)
    held: int | None = None  # rows the table held (FINAL) before the run, in a dry run


@dataclass
class RebuildReport:
    topic: str
    partitions: int
    records: int = 0  # every record read, all tables
    oldest: datetime | None = None  # when the oldest record read was produced
    retention_ms: int | None = None
    tables: dict[str, TableCount] = field(default_factory=dict)
    dry_run: bool = False
    truncate: bool = False
    database: str = ""

    def lines(self) -> list[str]:
        oldest = self.oldest.isoformat(timespec="seconds") if self.oldest else "-"
        out = [f"read {self.records} records from {self.topic} ({self.partitions} partitions); "
               f"oldest produced at {oldest}"]
        if self.dry_run:
            out.insert(0, "dry run: nothing was truncated or inserted")
            for name, count in self.tables.items():
                now = f"{self.database}.{name} holds {count.held} rows"
                then = (f"would be truncated, then get the topic's {count.read} rows" if self.truncate
                        else f"would get the topic's {count.read} rows over them")
                out.append(f"{name}: {now}; {then} (versions of one key collapse to the latest)")
            return out
        for name, count in self.tables.items():
            out.append(f"{name}: read {count.read} rows, inserted {count.inserted}, refused {count.refused}")
        return out


def rebuild(settings: Settings, tables: list[str], *, truncate: bool = False, dry_run: bool = False,
            log: Callable[[str], None] = print, progress: TextIO | None = None,
            batch_rows: int = BATCH_ROWS) -> RebuildReport:
    """Rebuild `tables` (dry run: only read and count); `progress`, if given, gets a bar of
    the records read."""
    wanted = _check_tables(tables)
    database = settings.clickhouse_database
    client = clickhouse_client(settings)
    try:
        for table in wanted:
            if not client.execute(f"EXISTS TABLE {database}.{table}")[0][0]:
                raise OpsError(f"table {database}.{table} does not exist: apply the schema first (sitaware migrate)")
        topic = specs.internal_topic_name(settings, specs.CLICKHOUSE_ROWS)
        report = RebuildReport(topic, 0, tables={t: TableCount() for t in wanted}, dry_run=dry_run,
                               truncate=truncate, database=database)
        report.retention_ms = _retention_ms(settings, topic)
        feed_ms = settings.feed_retention_hours * 3_600_000
        if report.retention_ms is not None and report.retention_ms < feed_ms:
            log(f"warning: {topic} keeps rows for {report.retention_ms / 3_600_000:g} h, less than the "
                f"feeds' {settings.feed_retention_hours} h: raise its retention.ms")
        with kafka_consumer(settings) as consumer:
            partitions = _partitions(consumer, topic)
            report.partitions = len(partitions)
            # Truncate before the end offsets are taken: a row the live sink inserted just
            # before the truncation was produced before them, so this run re-inserts it.
            if dry_run:
                for table in wanted:
                    report.tables[table].held = rows_as_read(client, database, table)
            elif truncate:
                for table in wanted:
                    client.execute(f"TRUNCATE TABLE {database}.{table}")
                    log(f"{table}: truncated")
            _copy(settings, consumer, partitions, report, batch_rows, progress)
    finally:
        client.disconnect()
    return report


def _check_tables(tables: list[str]) -> list[str]:
    if not tables:
        raise UnknownTable(f"name at least one table to rebuild: {', '.join(REBUILDABLE_TABLES)}")
    for table in tables:
        if table == "audit_log":
            raise UnknownTable("audit_log is written by the API directly, not through Kafka: "
                               "it cannot be rebuilt (restore it from a backup)")
        if table not in REBUILDABLE_TABLES:
            raise UnknownTable(f"unknown table {table!r}; tables that can be rebuilt: "
                               f"{', '.join(REBUILDABLE_TABLES)}")
    return list(dict.fromkeys(tables))


def _retention_ms(settings: Settings, topic: str) -> int | None:
    from topics.admin import describe_topics

    with kafka_admin(settings) as admin:
        described = describe_topics(admin, [topic]).get(topic)
    value = (described or {}).get("configs", {}).get("retention.ms")
    return int(value) if value not in (None, "") else None


def _partitions(consumer, topic: str) -> list:
    from kafka import TopicPartition

    numbers = consumer.partitions_for_topic(topic)
    if not numbers:
        raise OpsError(f"topic {topic} does not exist: rows reach it once a worker of app "
                       f"{topic.removesuffix('-' + specs.CLICKHOUSE_ROWS)!r} has run "
                       "(SITAWARE_APP_ID, SITAWARE_TOPIC_PREFIX)")
    return [TopicPartition(topic, n) for n in sorted(numbers)]


def _copy(settings: Settings, consumer, partitions: list, report: RebuildReport, batch_rows: int,
          progress: TextIO | None) -> None:
    from sitaware.progress import Count

    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    # Rows produced after this point are the live sink's business, not this run's.
    ends = consumer.end_offsets(partitions)
    starts = consumer.beginning_offsets(partitions)
    pending = {tp for tp in partitions if consumer.position(tp) < ends[tp]}
    buffers: dict[str, list[dict]] = defaultdict(list)
    total = sum(ends[tp] - starts[tp] for tp in partitions)
    bar = Count(progress, total, f"{report.topic}", "records") if progress else None
    sink = None if report.dry_run else ClickHouseSink(settings)
    try:
        last_progress = time.monotonic()
        while pending:
            batches = consumer.poll(timeout_ms=1000, max_records=batch_rows)
            if batches:
                last_progress = time.monotonic()
            elif time.monotonic() - last_progress > STALL_TIMEOUT_S:
                raise ServiceUnreachable(f"Kafka stopped delivering {report.topic} for {STALL_TIMEOUT_S:.0f}s "
                                         f"(SITAWARE_KAFKA_BOOTSTRAP={settings.kafka_bootstrap})")
            for tp, records in batches.items():
                for record in records:
                    if record.offset >= ends[tp]:
                        break
                    _take(record, report, buffers)
            for table, rows in buffers.items():
                if len(rows) >= batch_rows or (sink is None and rows):
                    _insert(sink, table, rows, report.tables[table])
                    rows.clear()
            if bar:
                bar.update(report.records)
            for tp in list(pending):
                if consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
                    consumer.pause(tp)
        for table, rows in buffers.items():
            _insert(sink, table, rows, report.tables[table])
        if bar:
            bar.finish(report.records)
    finally:
        if sink is not None:
            sink.close()


def _take(record, report: RebuildReport, buffers: dict[str, list[dict]]) -> None:
    report.records += 1
    produced = datetime.fromtimestamp(record.timestamp / 1000, tz=timezone.utc)
    if report.oldest is None or produced < report.oldest:
        report.oldest = produced
    value = orjson.loads(record.value)
    table = value["table"]
    if table in report.tables:
        report.tables[table].read += 1
        buffers[table].append(value["row"])


def _insert(sink: ClickHouseSink | None, table: str, rows: list[dict], count: TableCount) -> None:
    if not rows or sink is None:  # a dry run only counts what it read
        return
    latest = collapse(table, rows)  # as the live sink does: one row per key, latest version
    try:
        _insert_or_fail(sink, table, latest)
        count.inserted += len(latest)
    except PermanentInsertError:
        # One row ClickHouse refuses must not keep the others out: row by row.
        for row in latest:
            try:
                _insert_or_fail(sink, table, [row])
                count.inserted += 1
            except PermanentInsertError:
                count.refused += 1


def _insert_or_fail(sink: ClickHouseSink, table: str, rows: list[dict]) -> None:
    try:
        sink.insert_blocking(table, rows, give_up_after_s=STALL_TIMEOUT_S)
    except PermanentInsertError:
        raise
    except Exception as exc:  # transient errors for longer than the sink's patience
        s = sink.settings
        raise ServiceUnreachable(
            f"ClickHouse at {s.clickhouse_host}:{s.clickhouse_port} kept failing for {STALL_TIMEOUT_S:.0f}s "
            f"while inserting into {table}: {type(exc).__name__}"
        ) from exc

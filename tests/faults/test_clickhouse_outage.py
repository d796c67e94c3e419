"""Issue 6, item 4: ClickHouse stops for 60 s mid-stream while the city keeps sending. The
sink retries; it acks nothing it has not written, so the rows wait in Kafka, not in the
worker's memory; once ClickHouse is back every FINAL value equals the ground truth."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from sitaware.simulator import load_records
from tests.faults.conftest import JUDGED_S, hold_outage, rss_mb, settled, wait_run_judged
from tests.pipeline.city import (
    assert_flows_exact,
    assert_matches_truth,
    city_rows,
    clickhouse,
    produce_city,
    situation_records,
    wait_for_city,
)
from tests.pipeline.conftest import poll

OUTAGE_S = 60.0
# The city produces its 30 simulated minutes over about 70 s of wall time: input keeps
# arriving through the whole outage.
SPEED = 25.0
# What the sink may hold while it cannot write is one capped batch plus Faust's stream
# buffer (a few thousand small rows): a few MiB. The bound leaves room for the rest of
# the worker doing its work (tables, producer buffers, allocator slack) and would be
# exceeded by a sink that kept every row of a long outage in memory. The city keeps
# flowing through the outage, so the tables grow too: a clean-clone run measured +66 MiB
# (122 -> 188) over the 60 s. This bound is a coarse guard; the frozen committed offsets
# are what show the rows wait in Kafka.
RSS_GROWTH_MB = 128.0


def _metric(worker, name: str, **labels) -> float:
    """Sum of a metric's samples on the worker's /metrics whose labels include `labels`."""
    total = 0.0
    for line in worker.metrics().splitlines():
        if not line.startswith((name + "{", name + " ")):
            continue
        head, _, value = line.rpartition(" ")
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total


class RowsTopic:
    """End offsets of `<app>-clickhouse-rows` and the worker group's committed offsets on it."""

    def __init__(self, settings):
        self.group = settings.app_id or f"{settings.topic_prefix}sitaware"
        self.topic = f"{self.group}-clickhouse-rows"
        self.parts = [TopicPartition(self.topic, p) for p in range(settings.topic_partitions)]
        self.admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
        self.consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False)

    def ends(self) -> dict[int, int]:
        return {tp.partition: n for tp, n in self.consumer.end_offsets(self.parts).items()}

    def committed(self) -> dict[int, int]:
        offsets = self.admin.list_group_offsets({self.group: self.parts})[self.group]
        return {tp.partition: (o.offset if o and o.offset >= 0 else 0) for tp, o in offsets.items()}

    def close(self) -> None:
        self.admin.close()
        self.consumer.close()


def _expected_lifecycle_heads(records) -> dict[str, tuple]:
    """alarm_id -> (received_at UTC, category, priority) of every received alarm."""
    heads = {}
    for topic, _, a in load_records(records):
        if topic == "alarms" and a["status"] == "received":
            ts = datetime.fromisoformat(a["ts"]).astimezone(timezone.utc)
            heads[a["alarm_id"]] = (ts.replace(microsecond=0), a["category"], a["priority"])
    return heads


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def test_sink_waits_out_a_clickhouse_outage_with_bounded_memory_and_no_loss(
        private_stack, fault_settings, worker, feed, tmp_path):
    records = tmp_path / "records"
    truth: dict = {}
    producing = threading.Thread(target=lambda: truth.update(
        produce_city(fault_settings, records, seed=37, speed=SPEED)))
    producing.start()
    rows = RowsTopic(fault_settings)
    try:
        poll(lambda: _metric(worker, "sitaware_sink_rows_total") > 0, timeout=180,
             message="the sink's first rows in ClickHouse (the run under way)")

        server = private_stack.clickhouse
        errors_before = _metric(worker, "sitaware_sink_errors_total", kind="transient")
        server.stop()  # SIGTERM: ClickHouse shuts down; the sink's inserts now fail
        since = time.monotonic()
        poll(lambda: _metric(worker, "sitaware_sink_errors_total", kind="transient") > errors_before,
             timeout=30, message="the sink to notice the outage (transient errors)")
        rss_start = rss_mb(worker.proc.pid)
        # Records of the rows topic the sink handled before ClickHouse went away (counted once
        # their inserts succeeded, before their ack). The failed batch and everything behind it
        # stay unacknowledged until written, so the group's commits on the rows topic never
        # pass that many records. (Its committed offsets themselves may still move during the
        # outage: a commit waits for the producer to flush, and under load lands seconds after
        # the acks it carries.)
        handled = settled(lambda: _metric(worker, "sitaware_sink_records_total"))
        ends_stuck = rows.ends()
        rss = hold_outage(OUTAGE_S, since, worker, sample=lambda: rss_mb(worker.proc.pid), every=5.0)
        committed_end, ends_end = rows.committed(), rows.ends()

        waiting = sum(ends_end.values()) - sum(committed_end.values())
        print(f"outage: rss {rss_start:.1f} MiB -> max {max(rss):.1f} MiB; rows waiting in Kafka {waiting}; "
              f"rows produced during the outage {sum(ends_end.values()) - sum(ends_stuck.values())}; "
              f"records written before it {handled:.0f}, committed at its end {sum(committed_end.values())}")
        assert _metric(worker, "sitaware_sink_records_total") == handled, "records written while ClickHouse was down"
        assert sum(committed_end.values()) <= handled, "the sink acknowledged rows ClickHouse never took"
        assert sum(ends_end.values()) > sum(ends_stuck.values()), \
            "the other agents kept working (rows kept coming) while the sink waited"
        assert max(rss) - rss_start < RSS_GROWTH_MB, (rss_start, rss)

        server.start()
        server.wait_healthy()
        producing.join(timeout=120)
        assert not producing.is_alive() and truth, "the city run did not finish"
        wait_run_judged(worker, truth)

        found = wait_for_city(feed, worker, truth, records, timeout=JUDGED_S)
        assert_matches_truth(found, truth)
        expected, snapshot = city_rows(fault_settings, records)
        client = clickhouse(fault_settings)
        poll(lambda: snapshot(client)["counts"] == dict(expected), timeout=120,
             message="alarm_counts_1m FINAL equal to the produced alarms")
        assert_flows_exact(fault_settings, records)

        heads = _expected_lifecycle_heads(records)
        lifecycle = client.execute(
            "SELECT alarm_id, received_at, category, priority FROM alarm_lifecycle FINAL "
            "WHERE alarm_id IN %(ids)s", {"ids": tuple(heads)})
        assert {a: (_utc(r), c, p) for a, r, c, p in lifecycle} == heads

        # Every situation the worker sent is in ClickHouse (FINAL keeps one row per id).
        sent = {s["event_id"] for s in situation_records(feed)}
        stored = poll(lambda: (got := {e for (e,) in client.execute(
            "SELECT event_id FROM situations FINAL WHERE event_id IN %(ids)s", {"ids": tuple(sent)})})
            >= sent and got, timeout=60, message="every sent situation in ClickHouse")
        assert stored == sent
        assert worker.alive()
    finally:
        rows.close()
        producing.join(timeout=180)

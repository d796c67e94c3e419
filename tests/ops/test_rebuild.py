"""`sitaware rebuild`: ClickHouse tables recomputed from `<app>-clickhouse-rows` read FINAL
exactly as before — after a truncation, and over damaged content with --truncate."""

from __future__ import annotations

from datetime import datetime

from kafka import KafkaProducer

from sinks.clickhouse.tables import TABLES
from sitaware.ops.rebuild import REBUILDABLE_TABLES, rebuild
from streams.app import row_message
from tests.ops.conftest import as_values, final_rows, free_port, history, insert_live, latest
from topics import specs
from topics.admin import ensure_topics
from topics.specs import TopicSpec


def _produce_rows(settings, rows, retention_ms: int | None = None) -> None:
    """The rows topic as the worker declares it, with the rows as `Pipeline.row` sends them."""
    from kafka import KafkaAdminClient

    name = specs.internal_topic_name(settings, specs.CLICKHOUSE_ROWS)
    admin = KafkaAdminClient(**settings.kafka_python_config())
    try:
        ensure_topics(admin, [TopicSpec(name, "internal", settings.topic_partitions, {
            "retention.ms": str(retention_ms or specs.internal_retention_ms(settings, specs.CLICKHOUSE_ROWS))})])
    finally:
        admin.close()
    producer = KafkaProducer(**settings.kafka_python_config(), acks="all", linger_ms=5)
    for table, row in rows:
        key, value = row_message(table, row)
        producer.send(name, key=key, value=value)
    producer.flush()
    producer.close()


def test_rebuild_after_truncation_and_over_damage_gives_the_same_final_values(
        ops_settings, clickhouse_admin, sitaware_cli):
    db, rows = ops_settings.clickhouse_database, history(seed=11)
    _produce_rows(ops_settings, rows)
    insert_live(ops_settings, rows, seed=11)  # what the live sink left in ClickHouse
    before = {t: final_rows(clickhouse_admin, db, t) for t in TABLES}
    assert before["alarm_counts_1m"] == as_values("alarm_counts_1m", latest(rows, "alarm_counts_1m"))
    assert before["alarm_lifecycle"] == as_values("alarm_lifecycle", latest(rows, "alarm_lifecycle"))
    assert sum(before["alarm_counts_1m"].values()) > 30

    # A lost table: truncated, then rebuilt.
    clickhouse_admin.execute(f"TRUNCATE TABLE {db}.alarm_counts_1m")
    assert not final_rows(clickhouse_admin, db, "alarm_counts_1m")
    status, out, err = sitaware_cli(ops_settings, "rebuild", "--table", "alarm_counts_1m")
    assert status == 0, err
    assert final_rows(clickhouse_admin, db, "alarm_counts_1m") == before["alarm_counts_1m"]
    read = sum(1 for table, _ in rows if table == "alarm_counts_1m")
    assert f"alarm_counts_1m: read {read} rows" in out and "refused 0" in out
    assert f"read {len(rows)} records from {specs.internal_topic_name(ops_settings, 'clickhouse-rows')}" in out

    # Damaged content (a count too high wins under FINAL): --truncate puts it right.
    clickhouse_admin.execute(
        f"INSERT INTO {db}.alarm_counts_1m SELECT minute, cell, district, category, priority, alarms + 100 "
        f"FROM {db}.alarm_counts_1m FINAL LIMIT 5")
    clickhouse_admin.execute(f"INSERT INTO {db}.alarm_lifecycle (alarm_id, received_at, version) VALUES",
                             [("AL-bogus", datetime(2041, 1, 1), 9)])
    assert final_rows(clickhouse_admin, db, "alarm_counts_1m") != before["alarm_counts_1m"]
    status, out, err = sitaware_cli(ops_settings, "rebuild", "--table", "alarm_counts_1m",
                                    "--table", "alarm_lifecycle", "--truncate")
    assert status == 0, err
    assert "alarm_counts_1m: truncated" in err and "alarm_lifecycle: truncated" in err
    for table in TABLES:  # the two rebuilt equal; the others untouched
        assert final_rows(clickhouse_admin, db, table) == before[table], table

    # Small batches: versions of one key split across inserts still end at the latest.
    report = rebuild(ops_settings, list(REBUILDABLE_TABLES), truncate=True, log=lambda m: None, batch_rows=7)
    assert report.records == len(rows) and all(c.refused == 0 for c in report.tables.values())
    for table in TABLES:
        assert final_rows(clickhouse_admin, db, table) == before[table], table


def test_rebuild_refuses_what_it_cannot_do(ops_settings, sitaware_cli):
    status, _, err = sitaware_cli(ops_settings, "rebuild", "--table", "alarm_count_1m")
    assert status == 2 and "unknown table 'alarm_count_1m'" in err and "alarm_counts_1m" in err
    status, _, err = sitaware_cli(ops_settings, "rebuild", "--table", "audit_log")
    assert status == 2 and "audit_log is written by the API directly" in err
    # No worker of this app has run: its rows topic does not exist.
    status, _, err = sitaware_cli(ops_settings, "rebuild", "--table", "situations")
    assert status == 2 and "clickhouse-rows does not exist" in err and "SITAWARE_APP_ID" in err
    # A rows topic created before its retention followed the feeds': said, not silently used.
    _produce_rows(ops_settings, [], retention_ms=3_600_000)
    status, out, err = sitaware_cli(ops_settings, "rebuild", "--table", "situations")
    assert status == 0 and "keeps rows for 1 h, less than the feeds' 168 h" in err
    assert "read 0 records" in out and "situations: read 0 rows, inserted 0" in out


def test_rebuild_names_the_service_it_cannot_reach(ops_settings, sitaware_cli):
    no_clickhouse = ops_settings.model_copy(update={"clickhouse_port": free_port()})
    status, _, err = sitaware_cli(no_clickhouse, "rebuild", "--table", "situations")
    assert status == 2 and "cannot reach ClickHouse" in err and "SITAWARE_CLICKHOUSE_PORT" in err
    no_kafka = ops_settings.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{free_port()}"})
    status, _, err = sitaware_cli(no_kafka, "rebuild", "--table", "situations")
    assert status == 2 and "cannot reach Kafka" in err and "SITAWARE_KAFKA_BOOTSTRAP" in err
    assert "Traceback" not in err


def test_a_dry_run_changes_nothing_and_says_what_would(ops_settings, clickhouse_admin, sitaware_cli):
    db, rows = ops_settings.clickhouse_database, history(seed=13)
    _produce_rows(ops_settings, rows)
    insert_live(ops_settings, rows, seed=13)
    # Damage a table, so that a real run would change it.
    clickhouse_admin.execute(f"INSERT INTO {db}.alarm_lifecycle (alarm_id, received_at, version) VALUES",
                             [("AL-bogus", datetime(2041, 1, 1), 9)])
    before = {t: final_rows(clickhouse_admin, db, t) for t in TABLES}
    held = sum(before["alarm_lifecycle"].values())
    read = sum(1 for table, _ in rows if table == "alarm_lifecycle")

    status, out, err = sitaware_cli(ops_settings, "rebuild", "--table", "alarm_lifecycle",
                                    "--table", "situations", "--truncate", "--dry-run")
    assert status == 0, err
    assert out.startswith("dry run: nothing was truncated or inserted")
    assert (f"alarm_lifecycle: {db}.alarm_lifecycle holds {held} rows; would be truncated, "
            f"then get the topic's {read} rows") in out
    assert "truncated" not in err and f"read {len(rows)} records" in out
    assert f"100% {specs.internal_topic_name(ops_settings, 'clickhouse-rows')}: {len(rows)} of {len(rows)} records" in err
    assert {t: final_rows(clickhouse_admin, db, t) for t in TABLES} == before

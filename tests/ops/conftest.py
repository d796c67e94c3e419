"""Fixtures for the operations commands: a ClickHouse database of the test's own on the
shared server, the rows the workers would write (several versions per key, re-sends), and
the CLI run in-process with the test's settings as its environment."""

from __future__ import annotations

import os
import random
import socket
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import SecretStr

from sinks.clickhouse.schema import apply_migrations
from sinks.clickhouse.sink import ClickHouseSink, collapse
from sinks.clickhouse.tables import TABLES
from sitaware.cli import main
from tests.conftest import isolated_topics


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def ops_settings(stack_settings, local_stack, clickhouse_admin, unique_name):
    """Isolated topics and an empty, migrated database of this test's own (admin user:
    the writer may only use the shared `sitaware` database)."""
    with isolated_topics(stack_settings, "o", topic_partitions=3) as settings:
        settings = settings.model_copy(update={
            "clickhouse_user": "default",
            "clickhouse_password": SecretStr(local_stack.secrets.clickhouse_admin_password),
            "clickhouse_database": unique_name,
        })
        apply_migrations(clickhouse_admin, unique_name)
        try:
            yield settings
        finally:
            clickhouse_admin.execute(f"DROP DATABASE IF EXISTS {unique_name}")


@pytest.fixture
def sitaware_cli(monkeypatch, capsys):
    """Run `sitaware ARGS` in-process with exactly `settings` as its SITAWARE_* environment;
    returns (exit status, stdout, stderr)."""

    def run(settings, *args: str) -> tuple[int, str, str]:
        for name in [k for k in os.environ if k.startswith("SITAWARE_")]:
            monkeypatch.delenv(name)
        for name, value in settings.as_env().items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        status = main(list(args))
        out, err = capsys.readouterr()
        return status, out, err

    return run


def history(seed: int) -> list[tuple[str, dict]]:
    """Rows as the agents send them, in the order they would: every aggregate key grows
    through several absolute versions, some are re-sent (a re-delivered input), lifecycles
    fill in over time; one row per situation and alert, some sent twice."""
    rng = random.Random(seed)
    base = datetime(2041, 3, 1, 8, 0, tzinfo=timezone.utc) + timedelta(days=rng.randrange(1000))
    iso = lambda t: t.isoformat()  # noqa: E731 - the agents' wire form
    sent: list[tuple[str, dict]] = []
    for i in range(40):
        minute = iso(base + timedelta(minutes=i % 13))
        for n in range(1, rng.randrange(2, 6)):
            sent.append(("alarm_counts_1m", {"minute": minute, "cell": f"wtw1r{i % 7}", "district": "南湖区",
                                             "category": rng.choice(["theft", "fraud"]), "priority": 1 + i % 4,
                                             "alarms": n}))
        sent.append(("unit_presence_1m", {"minute": minute, "cell": f"wtw1r{i % 5}", "unit_type": "police_car",
                                          "status": "available", "units": 1 + i % 3}))
        passes = 1 + i % 9
        sent.append(("checkpoint_flow_1m", {"minute": minute, "checkpoint_id": f"CP-{i % 6}", "district": "Nanhu",
                                            "passes": passes, "speed_samples": passes,
                                            "avg_speed_kmh": (0.1 + 0.2) * passes}))
    for i in range(15):
        received = base + timedelta(seconds=37 * i)
        row = {"alarm_id": f"AL-{seed}-{i}", "received_at": iso(received), "category": "violent",
               "priority": 1, "district": "", "cell": "wtw1rn", "caller_token": "ab" * 32,
               "dispatched_at": None, "arrived_at": None, "closed_at": None, "first_unit_id": "",
               "response_s": None, "version": 1}
        sent.append(("alarm_lifecycle", row))
        if i % 3:
            row = {**row, "dispatched_at": iso(received + timedelta(seconds=40)), "first_unit_id": f"U{i}",
                   "version": 2}
            sent.append(("alarm_lifecycle", row))
            sent.append(("alarm_lifecycle", row))  # re-sent after a crash
        if i % 3 == 2:
            sent.append(("alarm_lifecycle", {**row, "arrived_at": iso(received + timedelta(seconds=301)),
                                             "response_s": 301.125, "version": 3}))
    for i in range(10):
        t = base + timedelta(minutes=i)
        row = {"event_id": f"alarm_hotspot:{seed:04x}{i:020x}", "type": "alarm_hotspot", "severity": "medium",
               "event_time": iso(t), "detected_at": iso(t + timedelta(seconds=2)),
               "window_start": iso(t - timedelta(minutes=15)) if i % 2 else None,
               "window_end": iso(t) if i % 2 else None, "cell": "wtw1rn", "district": "南湖区",
               "lat": 31.192529 if i % 3 else None, "lon": 121.25056500000001 if i % 3 else None,
               "subject": "", "summary": "网格 wtw1rn 在 15 分钟内收到 5 起警情，形成警情热点。",
               "metrics": '{"count":5.0}', "evidence": '["AL-1","AL-2"]', "model_version": "alarm_hotspot/1"}
        sent.extend([("situations", row)] * (2 if i % 4 == 0 else 1))
        sent.append(("alert_deliveries", {"alert_id": f"a{seed}-{i}", "subscription_id": "east", "event_id": row["event_id"],
                                          "channel": "kafka", "status": "delivered", "attempts": 1,
                                          "matched_at": iso(t), "last_attempt_at": iso(t), "version": 1}))
    return sent


def latest(rows: list[tuple[str, dict]], table: str) -> list[dict]:
    """What FINAL must show for `table`: the latest version of each key."""
    return collapse(table, [row for name, row in rows if name == table])


def insert_live(settings, rows: list[tuple[str, dict]], seed: int) -> None:
    """Insert as the live sink does: batches of varying size, each collapsed, in order."""
    rng = random.Random(seed)
    sink = ClickHouseSink(settings)
    try:
        start = 0
        while start < len(rows):
            chunk = rows[start:start + rng.randrange(1, 30)]
            start += len(chunk)
            by_table = defaultdict(list)
            for table, row in chunk:
                by_table[table].append(row)
            for table, table_rows in by_table.items():
                sink.insert_blocking(table, collapse(table, table_rows))
    finally:
        sink.close()


def final_rows(client, database: str, table: str) -> Counter:
    """The table's content as readers see it (FINAL where the engine has it), as a multiset."""
    engine = client.execute(
        "SELECT engine FROM system.tables WHERE database = %(db)s AND name = %(t)s", {"db": database, "t": table})[0][0]
    rows = client.execute(f"SELECT * FROM {database}.{table}{'' if engine == 'MergeTree' else ' FINAL'}")
    return Counter(rows)


def as_values(table: str, rows: list[dict]) -> Counter:
    """Row dicts as the tuples ClickHouse returns them (naive UTC datetimes -> aware)."""
    spec = TABLES[table]
    out = []
    for row in rows:
        values = []
        for column, value in zip(spec.columns, spec.to_values(row)):
            if column in spec.datetimes and value is not None:
                value = value.replace(tzinfo=timezone.utc)
            values.append(value)
        out.append(tuple(values))
    return Counter(out)

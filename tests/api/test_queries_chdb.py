"""The API's ClickHouse queries on current ClickHouse (chdb, in-process), as STACK_NOTES.md
asks of every query; the API tests run them on the stack's 18.16."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from chdb import session as chdb_session

from sinks.clickhouse.schema import load_migrations
from sinks.clickhouse.tables import TABLES
from sitaware.api.situations import cells_query, situations_query

DB = "sitaware"
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=timezone.utc)


def _literal(value) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(_literal(v) for v in value) + ")"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _render(sql: str, params: dict) -> str:
    """clickhouse-driver's client-side parameter substitution, for the types used here."""
    return re.sub(r"%\((\w+)\)s", lambda m: _literal(params[m.group(1)]), sql)


def _insert(session, table: str, rows: list[dict]) -> None:
    spec = TABLES[table]

    def cell(value):
        return value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, datetime) else value

    lines = [json.dumps({c: cell(v) for c, v in zip(spec.columns, spec.to_values(r))}, ensure_ascii=False)
             for r in rows]
    session.query(f"INSERT INTO {DB}.{table} FORMAT JSONEachRow\n" + "\n".join(lines))


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    s = chdb_session.Session(str(tmp_path_factory.mktemp("chdb")))
    s.query(f"CREATE DATABASE IF NOT EXISTS {DB}")
    for migration in load_migrations():
        for statement in migration.statements(DB):
            s.query(statement)
    situations = [
        {"event_id": f"alarm_hotspot:{n}", "type": "alarm_hotspot", "severity": "high",
         "event_time": (T0 + timedelta(minutes=n)).isoformat(), "detected_at": T0.isoformat(),
         "cell": "wtw3sj", "district": district, "lat": 31.2, "lon": 121.4, "subject": "A1",
         "summary": "热点", "metrics": "{\"count\": 5}", "evidence": "[\"A1\"]", "model_version": "t/1"}
        for n, district in enumerate(["Nanhu", "Dongping", "Nanhu"])
    ]
    _insert(s, "situations", situations + situations[:1])  # a duplicate, collapsed by FINAL
    counts = [{"minute": (T0 + timedelta(minutes=m)).isoformat(), "cell": cell, "district": district,
               "category": "theft", "priority": 2, "alarms": alarms}
              for m, cell, district, alarms in [(0, "wtw3sj", "Nanhu", 2), (5, "wtw3sj", "Nanhu", 3),
                                                (5, "wtw3sk", "Dongping", 1), (40, "wtw3sj", "Nanhu", 9)]]
    _insert(s, "alarm_counts_1m", counts)
    yield s
    s.close()


def _rows(session, sql: str, params: dict) -> list[list]:
    return json.loads(session.query(_render(sql, params), "JSONCompact").bytes())["data"]


def test_situations_query_filters_and_scopes(session):
    sql, params = situations_query(DB, scope=frozenset({"Nanhu"}), type="alarm_hotspot",
                                   since=T0, until=T0 + timedelta(hours=1), limit=10)
    assert [r[0] for r in _rows(session, sql, params)] == ["alarm_hotspot:2", "alarm_hotspot:0"]
    sql, params = situations_query(DB, district="Dongping", limit=10)
    assert [r[0] for r in _rows(session, sql, params)] == ["alarm_hotspot:1"]


def test_cells_query_sums_the_window(session):
    sql, params = cells_query(DB, since=T0, until=T0 + timedelta(minutes=15))
    assert sorted(map(tuple, _rows(session, sql, params))) == [
        ("wtw3sj", "Nanhu", 5), ("wtw3sk", "Dongping", 1)]
    sql, params = cells_query(DB, scope=frozenset({"Dongping"}), since=T0, until=T0 + timedelta(minutes=15))
    assert [tuple(r) for r in _rows(session, sql, params)] == [("wtw3sk", "Dongping", 1)]

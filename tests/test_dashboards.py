"""Grafana dashboards: every ClickHouse panel's SQL runs on the stack's 18.16 and on current ClickHouse.

Grafana cannot run here, so each ClickHouse panel target is expanded the way
grafana-clickhouse-datasource expands its macros and then executed:

- on the local stack's ClickHouse 18.16 as the read-only `sitaware_reader` Grafana uses
  (whatever rows the end-to-end tests left there: it must run, rows optional);
- on chdb (current ClickHouse, in-process), in a database `sitaware` created from the
  migrations and filled with a few representative rows: there every panel must return
  rows, and a replay of those rows (stale versions and exact duplicates) must not change
  what any panel shows: that is what reading with FINAL buys.

Prometheus panels may only query metrics a worker exports (streams/metrics.py, Faust's
`sitaware_faust_*` sensors).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from chdb import session as chdb_session

from sinks.clickhouse.schema import CONTRACT_TABLES, load_migrations
from sinks.clickhouse.tables import TABLES

REPO = Path(__file__).resolve().parent.parent
DASHBOARDS = REPO / "deploy" / "grafana" / "dashboards"
CLICKHOUSE = "grafana-clickhouse-datasource"
PROMETHEUS = "prometheus"
DATABASE = "sitaware"  # the panels name it: the datasource's defaultDatabase (test_compose.py)

UTC = timezone.utc
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)  # the chdb rows sit around this instant
CHDB_RANGE = (T0 - timedelta(hours=1), T0 + timedelta(hours=1))
# The local server holds whatever earlier runs wrote, at any event time: cover it all.
STACK_RANGE = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


# --- dashboards and the macros of the ClickHouse plugin -------------------------------


@dataclass(frozen=True)
class Target:
    dashboard: str
    panel_id: int
    panel: str  # title
    ref_id: str
    datasource: str  # datasource type
    query: dict
    min_interval_s: int  # the panel's "interval" (Grafana's min interval), else 0

    @property
    def name(self) -> str:
        return f"{self.dashboard}:{self.panel_id}:{self.ref_id}"

    def __str__(self) -> str:
        return f"{self.name} ({self.panel})"


def _walk_panels(panels: list[dict]):
    for panel in panels:
        yield panel
        yield from _walk_panels(panel.get("panels") or [])


def _seconds(interval: str | None) -> int:
    if not interval:
        return 0
    m = re.fullmatch(r"(\d+)([smhd])", interval)
    assert m, f"panel interval {interval!r} is not N[smhd]"
    return int(m[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m[2]]


def _load_targets() -> list[Target]:
    out = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        dashboard = json.loads(path.read_text())
        for panel in _walk_panels(dashboard.get("panels") or []):
            if panel.get("type") in ("row", "text"):
                continue
            for target in panel.get("targets") or []:
                ds = target.get("datasource") or panel.get("datasource") or {}
                out.append(Target(path.stem, panel.get("id", 0), panel.get("title", ""), target.get("refId", "?"),
                                  ds.get("type", ""), target, _seconds(panel.get("interval"))))
    return out


TARGETS = _load_targets()
SQL_TARGETS = [t for t in TARGETS if t.datasource == CLICKHOUSE]
PROMQL_TARGETS = [t for t in TARGETS if t.datasource == PROMETHEUS]

_TIME_FILTER = re.compile(r"\$__timeFilter\(\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\)")


def expand_macros(sql: str, start: datetime, end: datetime, interval_s: int) -> str:
    """The query the plugin sends, for the macros these dashboards use (and no others)."""
    lo, hi = int(start.timestamp()), int(end.timestamp())
    sql = _TIME_FILTER.sub(lambda m: f"{m[1]} >= toDateTime({lo}) AND {m[1]} <= toDateTime({hi})", sql)
    sql = sql.replace("$__interval_s", str(interval_s))
    left = sorted(set(re.findall(r"\$\w+", sql)))
    assert not left, f"macros or variables this test does not expand: {left}"
    return sql


def _sql(target: Target, time_range: tuple[datetime, datetime]) -> str:
    # Grafana's interval for a panel is never below its min interval; a minute is the
    # tables' own resolution and what a 1-2 h range gives anyway.
    return expand_macros(target.query["rawSql"], *time_range, max(60, target.min_interval_s))


def _without_final(sql: str) -> str:
    return re.sub(r"\s+FINAL\b", "", sql)


# --- chdb: the schema from the migrations, a few rows, then a replay of them ----------


def _first_rows() -> dict[str, list[dict]]:
    m = timedelta(minutes=1)
    return {
        "alarm_counts_1m": [
            dict(minute=T0, cell="wtw3sq", district="黄浦区", category="theft", priority=2, alarms=3),
            dict(minute=T0 + m, cell="wtw3sq", district="黄浦区", category="dispute", priority=1, alarms=2),
            dict(minute=T0 + 2 * m, cell="wtw3st", district="静安区", category="gathering", priority=3, alarms=1),
        ],
        "unit_presence_1m": [
            dict(minute=T0, cell="wtw3sq", unit_type="police_car", status="available", units=4),
            dict(minute=T0, cell="wtw3sq", unit_type="police_car", status="dispatched", units=1),
            dict(minute=T0, cell="wtw3st", unit_type="foot_patrol", status="off_duty", units=3),
            dict(minute=T0 + m, cell="wtw3st", unit_type="grid_worker", status="available", units=2),
        ],
        "checkpoint_flow_1m": [
            _flow(T0, "KK001", "黄浦区", passes=30, speed_samples=28, avg_speed_kmh=42.5),
            _flow(T0 + m, "KK001", "黄浦区", passes=25, speed_samples=25, avg_speed_kmh=40.0),
            _flow(T0, "KK002", "静安区", passes=12, speed_samples=12, avg_speed_kmh=55.0),
        ],
        "alarm_lifecycle": [
            _lifecycle("A1", 0, "theft", 2, "黄浦区", response_s=300.0, version=3),
            _lifecycle("A2", 1, "dispute", 1, "黄浦区", response_s=240.0, version=3),
            _lifecycle("A3", 2, "gathering", 3, "静安区", response_s=600.0, version=3),
            _lifecycle("A4", 3, "fire", 1, "静安区", response_s=None, version=1),
        ],
        "situations": _situations(),
        "alert_deliveries": [
            dict(alert_id="AL1", subscription_id="sub-1", event_id="E1", channel="kafka", status="delivered",
                 attempts=1, matched_at=T0, last_attempt_at=T0, version=1),
        ],
        "audit_log": [
            dict(ts=T0, actor="tester", action="subscription.create", target="sub-1", outcome="ok", detail="{}"),
        ],
    }


def _stale_rows() -> dict[str, list[dict]]:
    """What a crashed worker re-sends: superseded versions of rows already written."""
    m = timedelta(minutes=1)
    return {
        "alarm_counts_1m": [
            dict(minute=T0, cell="wtw3sq", district="黄浦区", category="theft", priority=2, alarms=2),
            dict(minute=T0 + m, cell="wtw3sq", district="黄浦区", category="dispute", priority=1, alarms=1),
        ],
        "unit_presence_1m": [
            dict(minute=T0, cell="wtw3sq", unit_type="police_car", status="available", units=2),
            dict(minute=T0 + m, cell="wtw3st", unit_type="grid_worker", status="available", units=1),
        ],
        "checkpoint_flow_1m": [
            _flow(T0, "KK001", "黄浦区", passes=10, speed_samples=10, avg_speed_kmh=41.0),
            _flow(T0, "KK002", "静安区", passes=5, speed_samples=5, avg_speed_kmh=50.0),
        ],
        "alarm_lifecycle": [
            _lifecycle("A1", 0, "theft", 2, "黄浦区", response_s=420.0, version=2),
            _lifecycle("A3", 2, "gathering", 3, "静安区", response_s=900.0, version=2),
        ],
    }


def _flow(minute, checkpoint_id, district, **counts) -> dict:
    return dict(minute=minute, checkpoint_id=checkpoint_id, district=district, **counts)


def _lifecycle(alarm_id, minute, category, priority, district, *, response_s, version) -> dict:
    received = T0 + timedelta(minutes=minute)
    arrived = received + timedelta(seconds=response_s) if response_s is not None else None
    return dict(
        alarm_id=alarm_id, received_at=received, category=category, priority=priority,
        district=district, cell="wtw3sq", caller_token="", first_unit_id="U1" if arrived else "",
        dispatched_at=received + timedelta(seconds=30) if arrived else None, arrived_at=arrived,
        closed_at=None, response_s=response_s, version=version,
    )


def _situations() -> list[dict]:
    """Rows as the pipeline writes them: built by the situation builder, stored by situation_row."""
    from streams.app import situation_row
    from streams.situations._common import make_situation

    def situation(type_, n, severity, minutes, *, metrics, district="黄浦区", subject="A1",
                  lat=31.23, lon=121.47, **window):
        return situation_row(
            make_situation(
                type_, id_parts=(f"{type_}-{n}",), severity=severity,
                event_time=T0 + timedelta(minutes=minutes), detected_at=T0 + timedelta(minutes=minutes, seconds=2),
                model_version=f"{type_}@test", summary=f"测试 {type_} {n}",
                lat=lat, lon=lon, district=district, subject=subject, metrics=metrics,
                evidence=[subject], **window,
            ),
            b"dashboard-test-pii-key",
        )

    return [
        situation("alarm_hotspot", 1, "high", 4, metrics={"count": 5, "window_min": 15}),
        situation("crowd_gathering", 1, "high", 5, metrics={"count": 3, "window_min": 10}, district="静安区"),
        situation("coverage_gap", 1, "high", 3, subject="A4", district="静安区",
                  metrics={"auxiliary_units": 1, "nearest_police_km": 4.2, "auxiliary_1_distance_km": 0.6}),
        situation("coverage_gap", 2, "low", 6, subject="A3", district="静安区", lat=31.25, lon=121.45,
                  metrics={"auxiliary_units": 0}),  # no police unit at all: no nearest_police_km
        situation("response_overdue", 1, "high", 8, subject="A4", district="静安区",
                  metrics={"priority": 1, "sla_min": 5.0},
                  window_start=T0 + timedelta(minutes=3), window_end=T0 + timedelta(minutes=8)),
        situation("watchlist_hit", 1, "high", 7, subject="沪A12345", metrics={"level": 2}),
        situation("watchlist_hit", 2, "critical", 9, subject="沪B54321", district="静安区", metrics={"level": 3}),
    ]


def _json_value(value):
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return value


def _insert(session, table: str, rows: list[dict]) -> None:
    spec = TABLES[table]
    lines = [
        json.dumps({c: _json_value(v) for c, v in zip(spec.columns, spec.to_values(row))}, ensure_ascii=False)
        for row in rows
    ]
    session.query(f"INSERT INTO {DATABASE}.{table} FORMAT JSONEachRow\n" + "\n".join(lines))


def _chdb_rows(session, sql: str) -> tuple[list[str], list[list]]:
    result = json.loads(session.query(sql, "JSONCompact").bytes())
    return [c["name"] for c in result["meta"]], result["data"]


Result = tuple[list[str], list[list]]  # column names, rows


@dataclass
class ChdbRun:
    """Every panel's result on chdb at each stage; a panel's error is raised by its own tests."""

    first: dict[str, Result | Exception]  # after the first write
    replayed: dict[str, Result | Exception]  # after a replay of the same rows
    replayed_without_final: dict[str, Result | Exception]

    def result(self, stage: str, target: Target) -> Result:
        value = getattr(self, stage)[target.name]
        if isinstance(value, Exception):
            raise value
        return value


def _run_all(session, *, final: bool = True) -> dict[str, Result | Exception]:
    out: dict[str, Result | Exception] = {}
    for target in SQL_TARGETS:
        try:
            sql = _sql(target, CHDB_RANGE)
            out[target.name] = _chdb_rows(session, sql if final else _without_final(sql))
        except Exception as exc:  # noqa: BLE001 - reported by the panel's own test
            out[target.name] = exc
    return out


@pytest.fixture(scope="module")
def chdb_run(tmp_path_factory) -> ChdbRun:
    session = chdb_session.Session(str(tmp_path_factory.mktemp("chdb")))
    try:
        session.query(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
        for migration in load_migrations():
            for statement in migration.statements(DATABASE):
                session.query(statement)
        for table in CONTRACT_TABLES:
            # Keep every insert its own part, so duplicates stay until FINAL collapses them.
            session.query(f"SYSTEM STOP MERGES {DATABASE}.{table}")
        rows = _first_rows()
        assert set(rows) == set(CONTRACT_TABLES)
        for table, table_rows in rows.items():
            _insert(session, table, table_rows)
        first = _run_all(session)
        for table, table_rows in _stale_rows().items():
            _insert(session, table, table_rows)
        _insert(session, "situations", rows["situations"])  # re-sent as they were
        yield ChdbRun(first, _run_all(session), _run_all(session, final=False))
    finally:
        session.close()


# --- the stack's ClickHouse 18.16, as Grafana's read-only user ----------------------


@pytest.fixture(scope="module")
def stack_reader(stack_settings):
    from clickhouse_driver import Client

    client = Client(
        stack_settings.clickhouse_host,
        port=stack_settings.clickhouse_port,
        user=stack_settings.clickhouse_reader_user,
        password=stack_settings.clickhouse_reader_password.get_secret_value(),
        database=stack_settings.clickhouse_database,
        connect_timeout=3,
        send_receive_timeout=30,
    )
    yield client
    client.disconnect()


# --- tests ----------------------------------------------------------------------------


def test_dashboards_are_found():
    assert {t.dashboard for t in TARGETS} >= {"city-overview", "pipeline-health"}
    assert SQL_TARGETS and PROMQL_TARGETS
    unknown = {t.datasource for t in TARGETS} - {CLICKHOUSE, PROMETHEUS}
    assert not unknown, f"targets of datasource types this test cannot check: {unknown}"


@pytest.mark.parametrize("target", SQL_TARGETS, ids=lambda t: t.name)
def test_clickhouse_target_reads_final_over_the_time_range(target: Target):
    q = target.query
    assert q.get("editorType") == "sql" and q.get("format") in (0, 1), f"{target}: {q}"
    sql = q["rawSql"]
    tables = re.findall(r"\bFROM\s+([^\s()]+)(\s+FINAL\b)?", sql)
    assert tables, f"{target}: reads no table"
    for table, final in tables:
        assert table.removeprefix(f"{DATABASE}.") in CONTRACT_TABLES and table.startswith(f"{DATABASE}."), (
            f"{target}: reads {table}"
        )
        assert final, f"{target}: reads {table} without FINAL"
    assert len(_TIME_FILTER.findall(sql)) >= len(tables), f"{target}: a read without $__timeFilter"
    if q["format"] == 0:  # time series: the portable bucket (no $__timeInterval on 18.16)
        assert re.search(r"toDateTime\(intDiv\(toUInt32\((\w+)\), \$__interval_s\) \* \$__interval_s\) AS time", sql), (
            f"{target}: time series without the portable time bucket"
        )


@pytest.mark.parametrize("target", SQL_TARGETS, ids=lambda t: t.name)
def test_clickhouse_target_runs_on_both_engines(target: Target, stack_reader, chdb_run):
    columns, rows = chdb_run.result("first", target)
    assert rows, f"{target}: no rows on chdb for the representative rows"
    _, stack_columns = stack_reader.execute(_sql(target, STACK_RANGE), with_column_types=True)
    assert [name for name, _ in stack_columns] == columns, "columns differ between engines"


@pytest.mark.parametrize("target", SQL_TARGETS, ids=lambda t: t.name)
def test_clickhouse_target_is_unchanged_by_a_replay(target: Target, chdb_run):
    first = chdb_run.result("first", target)
    assert chdb_run.result("replayed", target) == first
    # Without FINAL the replay shows: proof that the rows above exercise it.
    assert chdb_run.result("replayed_without_final", target) != first


def _exported_metric_names() -> set[str]:
    import streams.metrics as metrics

    suffixes = {"counter": ("_total", "_created"), "gauge": ("",),
                "histogram": ("_bucket", "_sum", "_count", "_created"), "summary": ("", "_sum", "_count")}
    names = set()
    for attribute in metrics.__all__:
        for family in getattr(metrics, attribute).describe():
            names.update(family.name + s for s in suffixes[family.type])
    return names


def test_prometheus_targets_query_metrics_the_worker_exports():
    exported = _exported_metric_names()
    queried = set()
    for target in PROMQL_TARGETS:
        expr = target.query.get("expr", "")
        names = set(re.findall(r"\bsitaware_[a-z0-9_]+", expr))
        assert names, f"{target}: {expr!r} queries no sitaware metric"
        unknown = {n for n in names if n not in exported and not n.startswith("sitaware_faust_")}
        assert not unknown, f"{target}: metrics the worker does not export: {unknown}"
        queried |= names
    assert {"sitaware_consumer_lag", "sitaware_stream_time_behind_seconds"} <= queried

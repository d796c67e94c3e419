"""What the sink knows about each table: columns, row identity and version
(docs/surface.md, "ClickHouse tables").

Rows travel from the agents to the sink as JSON objects through an internal Kafka topic;
`TableSpec.to_values` turns one into the column tuple clickhouse-driver inserts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

__all__ = ["TableSpec", "TABLES"]


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]  # the row's identity (the ORDER BY of the Replacing table)
    version: str | None  # the column whose largest value wins under FINAL
    datetimes: frozenset[str] = frozenset()

    def identity(self, row: dict) -> tuple:
        return tuple(row[c] for c in self.key)

    def to_values(self, row: dict) -> tuple:
        return tuple(
            _utc_naive(row.get(c)) if c in self.datetimes else row.get(c) for c in self.columns
        )


def _utc_naive(value):
    # ClickHouse DateTime('UTC') columns take naive UTC datetimes from clickhouse-driver.
    if value is None or isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed


def _spec(name, columns, key, version, datetimes=()):
    return TableSpec(name, tuple(columns.split()), tuple(key.split()), version, frozenset(datetimes))


TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (
        _spec("alarm_counts_1m", "minute cell district category priority alarms",
              "minute cell district category priority", "alarms", ["minute"]),
        _spec("unit_presence_1m", "minute cell unit_type status units",
              "minute cell unit_type status", "units", ["minute"]),
        _spec("checkpoint_flow_1m", "minute checkpoint_id district passes speed_samples avg_speed_kmh",
              "minute checkpoint_id", "passes", ["minute"]),
        _spec("alarm_lifecycle",
              "alarm_id received_at category priority district cell caller_token dispatched_at "
              "arrived_at closed_at first_unit_id response_s version",
              "alarm_id", "version", ["received_at", "dispatched_at", "arrived_at", "closed_at"]),
        _spec("situations",
              "event_id type severity event_time detected_at window_start window_end cell district "
              "lat lon subject summary metrics evidence model_version",
              "type event_id", None, ["event_time", "detected_at", "window_start", "window_end"]),
        _spec("alert_deliveries",
              "alert_id subscription_id event_id channel status attempts matched_at last_attempt_at version",
              "subscription_id alert_id", "version", ["matched_at", "last_attempt_at"]),
        _spec("audit_log", "ts actor action target outcome detail", "ts actor action target", None, ["ts"]),
    )
}

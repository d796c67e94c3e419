"""Prometheus metrics of a worker, defined once at module level with a few fixed labels."""

from __future__ import annotations

from functools import cache

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "RECORDS_IN",
    "DEAD_LETTERS",
    "LATE_RECORDS",
    "SITUATIONS",
    "SINK_ROWS",
    "SINK_RECORDS",
    "SINK_BATCHES",
    "SINK_ERRORS",
    "SINK_LATENCY",
    "CONSUMER_LAG",
    "STREAM_TIME_BEHIND",
    "REFERENCE_ENTRIES",
    "FLOW_PASSES_AFTER_CLOSE",
    "ALERTS",
    "HOLD_OLDEST",
]

RECORDS_IN = Counter("sitaware_records_in_total", "Input records consumed", ["topic"])


@cache
def records_in(topic: str):
    """RECORDS_IN's child for a topic, looked up once (`labels()` per record showed in profiles)."""
    return RECORDS_IN.labels(topic)


DEAD_LETTERS = Counter("sitaware_dead_letters_total", "Records sent to dead-letters", ["topic", "stage"])
LATE_RECORDS = Counter("sitaware_late_records_total", "Records beyond the allowed lateness", ["topic"])
SITUATIONS = Counter("sitaware_situations_total", "Situations emitted", ["type"])
SINK_ROWS = Counter("sitaware_sink_rows_total", "Rows written to ClickHouse", ["table"])
# Rows are collapsed per key before an insert, so records taken outnumber rows written.
SINK_RECORDS = Counter("sitaware_sink_records_total",
                       "Records of the rows topic handled (written to ClickHouse or dead-lettered), before their ack")
SINK_BATCHES = Counter("sitaware_sink_batches_total", "Insert batches written to ClickHouse", ["table"])
SINK_ERRORS = Counter("sitaware_sink_errors_total", "Failed ClickHouse inserts (retried)", ["table", "kind"])
SINK_LATENCY = Histogram(
    "sitaware_sink_insert_seconds", "ClickHouse insert latency", ["table"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CONSUMER_LAG = Gauge("sitaware_consumer_lag", "End offset minus committed offset", ["topic", "partition"])
STREAM_TIME_BEHIND = Gauge("sitaware_stream_time_behind_seconds", "Wall clock minus stream time")
REFERENCE_ENTRIES = Gauge("sitaware_reference_entries", "Entries held from a reference topic", ["topic"])
FLOW_PASSES_AFTER_CLOSE = Counter(
    "sitaware_flow_passes_after_close_total",
    "Checkpoint passes counted per minute but too late for their closed 5-minute flow window",
)
ALERTS = Counter("sitaware_alerts_total", "Situations matched to a subscription, by outcome", ["outcome"])
HOLD_OLDEST = Gauge("sitaware_hold_oldest_seconds",
                    "Wall seconds the oldest record an agent holds back for the watermarks has waited", ["agent"])

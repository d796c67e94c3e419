"""Prometheus metrics of the API process, defined once with a few fixed labels."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

__all__ = ["REQUESTS", "STREAM_CLIENTS", "AUDIT_ROWS", "AUDIT_ERRORS", "AUDIT_DROPPED", "FEED_RECORDS"]

# `route` is the route pattern (/api/subscriptions/{subscription_id}), never a concrete path.
REQUESTS = Counter("sitaware_api_requests_total", "API calls", ["route", "outcome"])
STREAM_CLIENTS = Gauge("sitaware_api_stream_clients", "Open server-sent-event streams")
AUDIT_ROWS = Counter("sitaware_api_audit_rows_total", "Audit rows written to ClickHouse")
AUDIT_ERRORS = Counter("sitaware_api_audit_errors_total", "Failed audit inserts (retried)")
AUDIT_DROPPED = Counter("sitaware_api_audit_dropped_total", "Audit rows dropped: buffer full")
FEED_RECORDS = Counter("sitaware_api_feed_records_total", "Records read from a followed topic", ["topic"])

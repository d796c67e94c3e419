"""Batched, retried inserts into ClickHouse, off the event loop.

clickhouse-driver is synchronous with one connection per client, so every insert runs on
one dedicated thread that owns the client. Transient failures (network, server overload,
timeouts) are retried with capped exponential backoff until they succeed — the caller
does not ack its input meanwhile, so nothing is dropped and memory stays bounded by the
batch. Permanent failures (a row the schema refuses) are returned to the caller, which
dead-letters them.
"""

from __future__ import annotations

import asyncio
import random
import time
from concurrent.futures import ThreadPoolExecutor

from clickhouse_driver import Client
from clickhouse_driver import errors as ch_errors

from sinks.clickhouse.tables import TABLES
from sitaware.settings import Settings
from streams.metrics import SINK_BATCHES, SINK_ERRORS, SINK_LATENCY, SINK_ROWS

__all__ = ["ClickHouseSink", "PermanentInsertError", "collapse"]

# Server error codes worth retrying: timeouts, overload, memory, too many parts, readonly
# replica, network-ish. Anything else (unknown column, type mismatch) will not heal.
_TRANSIENT_CODES = {159, 160, 202, 203, 209, 210, 241, 242, 252, 285, 319, 425, 999}


class PermanentInsertError(Exception):
    def __init__(self, table: str, message: str):
        super().__init__(f"{table}: {message}")
        self.table = table


def collapse(table: str, rows: list[dict]) -> list[dict]:
    """Keep one row per identity: the one with the largest version (what FINAL keeps)."""
    spec = TABLES[table]
    best: dict[tuple, dict] = {}
    for row in rows:
        key = spec.identity(row)
        current = best.get(key)
        if current is None or (spec.version and row[spec.version] >= current[spec.version]):
            best[key] = row
    return list(best.values())


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, (ch_errors.NetworkError, ch_errors.SocketTimeoutError, OSError, EOFError)):
        return True
    return isinstance(exc, ch_errors.ServerException) and exc.code in _TRANSIENT_CODES


class ClickHouseSink:
    # A refused connection costs the server nothing, and a ClickHouse that comes back after
    # an outage should get its backlog within seconds, not half a minute later.
    def __init__(self, settings: Settings, max_backoff_s: float = 10.0):
        self.settings = settings
        self.max_backoff_s = max_backoff_s
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse-sink")
        self._client: Client | None = None

    def _connect(self) -> Client:
        if self._client is None:
            s = self.settings
            self._client = Client(
                s.clickhouse_host, port=s.clickhouse_port, user=s.clickhouse_user,
                password=s.clickhouse_password.get_secret_value(), database=s.clickhouse_database,
                connect_timeout=5, send_receive_timeout=60,
            )
        return self._client

    def _insert_once(self, table: str, rows: list[dict]) -> None:
        spec = TABLES[table]
        values = [spec.to_values(r) for r in rows]
        started = time.perf_counter()
        self._connect().execute(
            f"INSERT INTO {self.settings.clickhouse_database}.{table} ({', '.join(spec.columns)}) VALUES",
            values,
        )
        SINK_LATENCY.labels(table).observe(time.perf_counter() - started)
        SINK_ROWS.labels(table).inc(len(rows))
        SINK_BATCHES.labels(table).inc()

    def insert_blocking(self, table: str, rows: list[dict], give_up_after_s: float | None = None) -> None:
        """Insert, retrying transient errors; raises PermanentInsertError for bad rows."""
        attempt, started = 0, time.monotonic()
        while True:
            try:
                self._insert_once(table, rows)
                return
            except Exception as exc:  # classified below; nothing is swallowed silently
                if self._client is not None:
                    self._client.disconnect()
                    self._client = None
                if not _is_transient(exc):
                    SINK_ERRORS.labels(table, "permanent").inc()
                    raise PermanentInsertError(table, f"{type(exc).__name__}: {str(exc)[:300]}") from exc
                SINK_ERRORS.labels(table, "transient").inc()
                if give_up_after_s is not None and time.monotonic() - started > give_up_after_s:
                    raise
                attempt += 1
                delay = min(self.max_backoff_s, 0.2 * 2 ** min(attempt, 10))
                time.sleep(delay * random.uniform(0.5, 1.0))

    async def insert(self, table: str, rows: list[dict]) -> None:
        if rows:
            await asyncio.get_running_loop().run_in_executor(
                self._executor, self.insert_blocking, table, collapse(table, rows)
            )

    def close(self) -> None:
        self._executor.submit(lambda: self._client and self._client.disconnect()).result()
        self._executor.shutdown(wait=True)

"""The audit trail: one `audit_log` row per API call, written to ClickHouse
(docs/surface.md, "ClickHouse tables").

Handlers never wait for ClickHouse: `record()` only queues the row, and one thread with
its own clickhouse-driver client (synchronous: it must stay off the event loop) inserts
what has queued, about twice a second, as the writer user. When ClickHouse is down the
rows are kept and retried; only a full buffer drops rows, and that is counted.
Rows never hold a token or a plate: callers pass an action, a target (a district or a
subscription id) and a short detail of their own making.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from datetime import datetime, timezone

from aiohttp import web

from sitaware.api.auth import ANONYMOUS
from sitaware.api.metrics import AUDIT_DROPPED, AUDIT_ERRORS, AUDIT_ROWS, REQUESTS
from sitaware.settings import Settings

__all__ = ["AuditLog", "AUDIT", "OUTCOMES", "record_call", "outcome_of"]

log = logging.getLogger(__name__)
OUTCOMES = ("ok", "unauthorized", "forbidden", "error")
_STOP = object()
_COLUMNS = "ts, actor, action, target, outcome, detail"


class AuditLog:
    def __init__(self, settings: Settings, interval_s: float = 0.5, capacity: int = 100_000):
        self.settings = settings
        self.interval_s = interval_s
        self.capacity = capacity
        self._queue: queue.Queue = queue.Queue(maxsize=capacity)
        self._thread = threading.Thread(target=self._run, name="audit-log", daemon=True)
        self.pending = 0  # rows queued or awaiting a successful insert

    def start(self) -> None:
        self._thread.start()

    def record(self, actor: str, action: str, target: str, outcome: str, detail: str = "") -> None:
        """Queue one row; never blocks."""
        assert outcome in OUTCOMES, outcome
        row = (datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0),
               actor[:64], action[:120], (target or "")[:64], outcome, detail[:200])
        try:
            self._queue.put_nowait(row)
        except queue.Full:
            AUDIT_DROPPED.inc()

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued (trying for up to `timeout` seconds), then end the thread."""
        if self._thread.is_alive():
            try:
                self._queue.put(_STOP, timeout=timeout)
            except queue.Full:
                return  # a daemon thread stuck on a dead server: give up its rows
            self._thread.join(timeout)

    def _client(self):
        from clickhouse_driver import Client

        s = self.settings
        return Client(s.clickhouse_host, port=s.clickhouse_port, user=s.clickhouse_user,
                      password=s.clickhouse_password.get_secret_value(),
                      database=s.clickhouse_database, connect_timeout=5, send_receive_timeout=10)

    def _run(self) -> None:
        client = self._client()
        batch: list[tuple] = []
        stopping = False
        try:
            while True:
                stopping = self._take(batch) or stopping
                self.pending = len(batch) + self._queue.qsize()
                if batch:
                    if self._insert(client, batch):
                        batch = []
                        self.pending = self._queue.qsize()
                    elif not stopping:
                        time.sleep(1.0)  # ClickHouse is away: do not spin
                if stopping and (not batch or self._queue.empty()):
                    # On stop: a last attempt has been made; rows of a dead server are lost.
                    return
        finally:
            client.disconnect()

    def _take(self, batch: list) -> bool:
        """Move queued rows into `batch` (waiting up to the interval for the first one);
        True when the stop marker was among them."""
        try:
            item = self._queue.get(timeout=self.interval_s)
        except queue.Empty:
            return False
        while True:
            if item is _STOP:
                return True
            if len(batch) < self.capacity:
                batch.append(item)
            else:
                AUDIT_DROPPED.inc()
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return False

    def _insert(self, client, batch: list) -> bool:
        table = f"{self.settings.clickhouse_database}.audit_log"
        try:
            client.execute(f"INSERT INTO {table} ({_COLUMNS}) VALUES", batch)
        except Exception as exc:  # the driver's errors have no common transient class
            AUDIT_ERRORS.inc()
            log.warning("audit insert of %d rows failed (%s); retrying", len(batch), type(exc).__name__)
            client.disconnect()
            return False
        AUDIT_ROWS.inc(len(batch))
        return True


AUDIT = web.AppKey("audit_log", AuditLog)


def outcome_of(status: int) -> str:
    if status < 400:
        return "ok"
    return {401: "unauthorized", 403: "forbidden"}.get(status, "error")


def record_call(request: web.Request, outcome: str, detail: str = "") -> None:
    """Audit one call, once: actor, method and route, and the handler's notes.

    The action names the route pattern (`PUT /api/subscriptions/{subscription_id}`), the
    target says which one; the query string (which may hold a token) is never recorded.
    """
    if request.get("audited"):
        return
    request["audited"] = True
    principal = request.get("principal")
    route = request.match_info.route.resource
    pattern = route.canonical if route is not None else request.path
    REQUESTS.labels(pattern if route is not None else "(unmatched)", outcome).inc()
    # Refused calls never reach a handler's note: name the target from the URL.
    target = request.get("audit_target")
    if target is None:
        target = request.match_info.get("subscription_id") or request.query.get("district", "")
    request.app[AUDIT].record(
        principal.actor if principal else request.get("audit_actor", ANONYMOUS),
        f"{request.method} {pattern}",
        target,
        outcome,
        detail or request.get("audit_detail", ""),
    )

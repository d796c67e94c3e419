"""Situations and alarm cells from ClickHouse: `GET /api/situations` and `GET /api/cells`.

Queries run as the read-only user (SITAWARE_CLICKHOUSE_READER_USER), always with FINAL
(docs/surface.md), in a small thread pool with one clickhouse-driver client per thread: the
driver is synchronous and must never run on the event loop. The SQL keeps to the subset
that runs on ClickHouse 18.16 (STACK_NOTES.md). ClickHouse holds pseudonymised plates in
`subject` (and summaries), which is what this endpoint returns.
"""

from __future__ import annotations

import asyncio
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

from aiohttp import web

from sitaware.api.http import (caller, district_param, fail, iso, json_response, note, parse_instant,
                               unknown_name)
from sitaware.names import UnknownName, situation_type
from sitaware.settings import Settings
from topics.geo import geohash_bounds as cell_bounds  # the one decoder, next to the encoder

__all__ = ["ClickHouseReader", "READER", "situations_query", "cells_query", "cell_bounds",
           "get_situations", "get_cells"]

# ClickHouse answers that mean "busy or away, ask again later", not a bad query: memory
# limit, timeout, too many queries, no free connection, socket timeout, network error.
UNAVAILABLE_CODES = frozenset({241, 159, 202, 203, 209, 210})
RETRY_AFTER_S = 5


class ClickHouseReader:
    """Runs read-only queries off the event loop; rows come back as dicts."""

    def __init__(self, settings: Settings, threads: int = 4):
        self.settings = settings
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="clickhouse-reader")
        self._local = threading.local()
        self._clients: list = []

    async def rows(self, sql: str, params: dict) -> list[dict]:
        """The query's rows; 503 (with Retry-After) when ClickHouse is overloaded or away."""
        from clickhouse_driver import errors

        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, self._rows, sql, params)
        except (errors.NetworkError, errors.SocketTimeoutError, EOFError, OSError) as exc:
            raise _unavailable(f"ClickHouse is unreachable ({type(exc).__name__})") from exc
        except errors.ServerException as exc:
            if exc.code not in UNAVAILABLE_CODES:
                raise
            raise _unavailable(f"ClickHouse is overloaded (code {exc.code})") from exc

    def _rows(self, sql: str, params: dict) -> list[dict]:
        client = getattr(self._local, "client", None)
        if client is None:
            from clickhouse_driver import Client

            s = self.settings
            client = Client(s.clickhouse_host, port=s.clickhouse_port, user=s.clickhouse_reader_user,
                            password=s.clickhouse_reader_password.get_secret_value(),
                            connect_timeout=5, send_receive_timeout=30)
            self._local.client = client
            self._clients.append(client)
        data, columns = client.execute(sql, params, with_column_types=True)
        names = [c[0] for c in columns]
        return [dict(zip(names, row)) for row in data]

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        for client in self._clients:
            client.disconnect()


READER = web.AppKey("clickhouse_reader", ClickHouseReader)


def _unavailable(why: str) -> web.HTTPException:
    error = fail(503, f"{why}; retry later", retry_after_s=RETRY_AFTER_S)
    error.headers["Retry-After"] = str(RETRY_AFTER_S)
    return error


def _scope(district: str | None, scope: frozenset[str], params: dict) -> str:
    if district:
        params["district"] = district
        return " AND district = %(district)s"
    if scope:
        params["scope"] = tuple(sorted(scope))
        return " AND district IN %(scope)s"
    return ""


def situations_query(db: str, *, scope=frozenset(), type=None, district=None, since=None,
                     until=None, limit=100) -> tuple[str, dict]:
    params: dict = {"limit": int(limit)}
    where = "1"
    if type:
        where += " AND type = %(type)s"
        params["type"] = type
    # Instants travel as UNIX seconds: unambiguous whatever the server's time zone.
    if since:
        where += " AND event_time >= toDateTime(%(since)s)"
        params["since"] = int(since.timestamp())
    if until:
        where += " AND event_time < toDateTime(%(until)s)"
        params["until"] = int(until.timestamp())
    where += _scope(district, scope, params)
    sql = (f"SELECT event_id, type, severity, event_time, detected_at, window_start, window_end, "
           f"cell, district, lat, lon, subject, summary, metrics, evidence, model_version "
           f"FROM {db}.situations FINAL WHERE {where} "
           f"ORDER BY event_time DESC, event_id LIMIT %(limit)s")
    return sql, params


def cells_query(db: str, *, scope=frozenset(), district=None, since: datetime, until: datetime):
    params = {"since": int(since.timestamp()), "until": int(until.timestamp())}
    where = "minute >= toDateTime(%(since)s) AND minute < toDateTime(%(until)s)"
    where += _scope(district, scope, params)
    sql = (f"SELECT cell, district, sum(alarms) AS alarms FROM {db}.alarm_counts_1m FINAL "
           f"WHERE {where} GROUP BY cell, district ORDER BY alarms DESC, cell LIMIT 5000")
    return sql, params


def _situation(row: dict) -> dict:
    out = {k: (iso(v) if isinstance(v, datetime) else v) for k, v in row.items()}
    for key in ("cell", "district", "subject"):
        out[key] = out[key] or None
    out["metrics"] = json.loads(row["metrics"] or "{}")
    out["evidence"] = json.loads(row["evidence"] or "[]")
    return out


async def get_situations(request: web.Request) -> web.Response:
    district = district_param(request)
    kind = request.query.get("type") or None
    if kind:
        try:
            situation_type(kind)
        except UnknownName as exc:
            raise unknown_name(exc) from None
    try:
        limit = int(request.query.get("limit", "100"))
    except ValueError:
        raise fail(400, "limit must be an integer") from None
    if not 1 <= limit <= 1000:
        raise fail(400, "limit must be between 1 and 1000")
    sql, params = situations_query(
        request.app[READER].settings.clickhouse_database, scope=caller(request).districts,
        type=kind, district=district, limit=limit,
        since=parse_instant("since", request.query.get("since")),
        until=parse_instant("until", request.query.get("until")))
    rows = [_situation(r) for r in await request.app[READER].rows(sql, params)]
    note(request, detail=f"{len(rows)} situations")
    return json_response({"situations": rows, "count": len(rows)})


async def get_cells(request: web.Request) -> web.Response:
    """Received alarms per cell in the `minutes` (default 15) before `until` (default now)."""
    district = district_param(request)
    until = parse_instant("until", request.query.get("until")) or datetime.now(timezone.utc)
    try:
        minutes = int(request.query.get("minutes", "15"))
    except ValueError:
        raise fail(400, "minutes must be an integer") from None
    if not 1 <= minutes <= 1440:
        raise fail(400, "minutes must be between 1 and 1440")
    try:
        since = until - timedelta(minutes=minutes)
    except OverflowError:
        raise fail(400, "until is out of range") from None
    sql, params = cells_query(request.app[READER].settings.clickhouse_database,
                              scope=caller(request).districts, district=district,
                              since=since, until=until)
    rows = await request.app[READER].rows(sql, params)
    cells = [{**r, "bounds": cell_bounds(r["cell"])} for r in rows if cell_bounds(r["cell"])]
    note(request, detail=f"{len(cells)} cells")
    return json_response({"since": iso(since), "until": iso(until), "cells": cells})

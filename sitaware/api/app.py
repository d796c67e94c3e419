"""The `sitaware api` web application: routes, the bearer-token guard, and the components.

Everything under /api/ needs a token (header `Authorization: Bearer <token>`; the SSE
stream also takes `?token=`, since browsers' EventSource cannot send headers) and is
audited, including refusals (a revoked or expired token's refusal names its actor). /health and /metrics are open and not audited; the page
and its static files are open too (they hold no data; the page asks for a token).
aiohttp's access log is off: it would print query strings, which may hold a token —
the audit log is this process's record of calls.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from pathlib import Path

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from sitaware.api import live, page, situations, subscriptions, units
from sitaware.api.audit import AUDIT, AuditLog, outcome_of, record_call
from sitaware.api.auth import Principal, TokenBook, TokenWatch
from sitaware.api.http import DISTRICT_NAMES, json_response
from sitaware.names import district_names
from sitaware.settings import Settings
from topics.districts import Districts

__all__ = ["create_app", "run_api"]

log = logging.getLogger(__name__)
TOKENS = web.AppKey("tokens", TokenWatch)
_STREAM = "/api/stream"


def _token(request: web.Request) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if request.path == _STREAM:
        return request.query.get("token") or None
    return None


def _message(exc: web.HTTPException) -> str:
    try:
        return str(json.loads(exc.text or "{}").get("error", exc.reason))
    except ValueError:
        return exc.reason or ""


@web.middleware
async def guard(request: web.Request, handler):
    """Authenticate /api/ calls and audit each one, whatever its outcome."""
    if not request.path.startswith("/api/"):
        return await handler(request)
    principal = request.app[TOKENS].current().check(_token(request))
    if not isinstance(principal, Principal):
        request["audit_actor"] = principal.actor  # a revoked or expired token's owner
        record_call(request, "unauthorized", principal.reason)
        raise web.HTTPUnauthorized(
            text=json.dumps({"error": "a valid bearer token is required"}),
            content_type="application/json", headers={"WWW-Authenticate": 'Bearer realm="sitaware"'})
    request["principal"] = principal
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        record_call(request, outcome_of(exc.status), _message(exc))
        raise
    except Exception:
        record_call(request, "error", "internal error")
        log.exception("%s %s failed", request.method, request.match_info.route.resource)
        raise
    record_call(request, outcome_of(response.status))
    return response


async def health(request: web.Request) -> web.Response:
    app = request.app
    followers = {"situations": app[live.FEED], "patrol-gps": app[units.UNITS],
                 "subscriptions": app[subscriptions.SUBSCRIPTION_VIEW]}
    ok = all(f.alive for f in followers.values())
    return json_response({
        "status": "ok" if ok else "degraded",
        "followers": {name: f.alive for name, f in followers.items()},
        "stream_clients": len(app[live.FEED].listeners),
        "units": len(app[units.UNITS].latest),
        "subscriptions": len(app[subscriptions.SUBSCRIPTION_VIEW].current),
        "audit_pending": app[AUDIT].pending,
        "tokens": {"count": len(app[TOKENS].book), "active": app[TOKENS].book.active(),
                   "file_error": app[TOKENS].error},
    }, status=200 if ok else 503)


async def metrics(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _components(app: web.Application):
    """Start the audit writer and the topic views; stop them when the app stops."""
    app[AUDIT].start()
    followers = [app[live.FEED], app[units.UNITS], app[subscriptions.SUBSCRIPTION_VIEW]]
    try:
        await asyncio.gather(*(f.start() for f in followers))
        yield
    finally:
        await asyncio.gather(*(f.stop() for f in followers), return_exceptions=True)
        await asyncio.to_thread(app[situations.READER].close)
        await asyncio.to_thread(app[AUDIT].stop)


async def _reload_on_sighup(app: web.Application) -> None:
    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, app[TOKENS].reload)
    except (NotImplementedError, RuntimeError, ValueError):
        log.warning("SIGHUP cannot be handled here; the tokens file is still re-read when it changes")


async def _end_streams(app: web.Application) -> None:
    app[live.FEED].close_listeners()


def create_app(settings: Settings, tokens: TokenBook, tokens_file: Path | None = None) -> web.Application:
    """The application; with `tokens_file` (which `tokens` was read from) it follows the file."""
    # Bodies are subscriptions: the contract's record limit (64 KiB) is plenty.
    app = web.Application(middlewares=[guard], client_max_size=64 * 1024)
    app[TOKENS] = TokenWatch(tokens_file, tokens)
    app[DISTRICT_NAMES] = district_names(settings.districts_file)
    app[AUDIT] = AuditLog(settings)
    app[situations.READER] = situations.ClickHouseReader(settings)
    app[live.FEED] = live.SituationFeed(settings)
    app[units.UNITS] = units.UnitPositions(settings, Districts.from_geojson(settings.districts_file))
    app[subscriptions.SUBSCRIPTION_VIEW] = subscriptions.SubscriptionView(settings)
    app[page.PAGE] = page.Page(settings)
    app.cleanup_ctx.append(_components)
    app.on_startup.append(_reload_on_sighup)
    app.on_shutdown.append(_end_streams)

    r = app.router
    r.add_get("/health", health)
    r.add_get("/metrics", metrics)
    r.add_get("/api/situations", situations.get_situations)
    r.add_get("/api/cells", situations.get_cells)
    r.add_get(_STREAM, live.get_stream)
    r.add_get("/api/units", units.get_units)
    r.add_get("/api/subscriptions", subscriptions.list_subscriptions)
    r.add_get("/api/subscriptions/{subscription_id}", subscriptions.get_subscription)
    r.add_put("/api/subscriptions/{subscription_id}", subscriptions.put_subscription)
    r.add_delete("/api/subscriptions/{subscription_id}", subscriptions.delete_subscription)
    page.add_page_routes(app)
    return app


def run_api(settings: Settings, bind: str, port: int) -> None:
    """Serve until interrupted. A missing or invalid tokens file fails before anything starts."""
    tokens = TokenBook.load(settings.api_tokens_file)
    app = create_app(settings, tokens, settings.api_tokens_file)
    print(f"sitaware api: http://{bind}:{port}/ ({tokens.active()} of {len(tokens)} tokens active)",
          flush=True)
    web.run_app(app, host=bind, port=port, access_log=None, print=None, shutdown_timeout=5)

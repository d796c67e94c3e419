"""The command-center map page (`GET /`), its static files, and what it draws from.

The page works offline: no map tiles, web fonts or CDNs — only the files in `static/`,
an SVG map drawn from the city's district polygons (`GET /api/districts`), and the API's
own data. Its zh-CN names of situation types, severities and units come from
sitaware.labels, embedded into the page when it is served, so they exist in one place.
"""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp import web

from sitaware import labels
from sitaware.api.http import caller, json_response
from sitaware.settings import Settings

__all__ = ["STATIC_DIR", "Page", "PAGE", "add_page_routes"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
# Same-origin only: the page must not load anything from elsewhere, nor leak its URL
# (which may carry a kiosk's ?token=) in a Referer header.
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; base-uri 'none'; "
                               "form-action 'self'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


class Page:
    """What the page needs, prepared once at start: its HTML and the districts GeoJSON."""

    def __init__(self, settings: Settings):
        collection = json.loads(Path(settings.districts_file).read_text(encoding="utf-8"))
        self.districts = collection
        names = {f["properties"]["district"]: f["properties"].get("name_zh") or f["properties"]["district"]
                 for f in collection.get("features", [])}
        embedded = {
            "situation_types": labels.SITUATION_TYPES_ZH,
            "severities": labels.SEVERITIES_ZH,
            "unit_types": labels.UNIT_TYPES_ZH,
            "unit_statuses": labels.UNIT_STATUSES_ZH,
            "roles": labels.API_ROLES_ZH,
            "districts": names,
        }
        # "</" inside a <script> element would end it early.
        text = json.dumps(embedded, ensure_ascii=False).replace("</", "<\\/")
        self.html = (STATIC_DIR / "index.html").read_text(encoding="utf-8").replace("__LABELS_JSON__", text)


PAGE = web.AppKey("page", Page)


async def get_page(request: web.Request) -> web.Response:
    return web.Response(text=request.app[PAGE].html, content_type="text/html", charset="utf-8",
                        headers=_HEADERS)


async def get_districts(request: web.Request) -> web.Response:
    return json_response(request.app[PAGE].districts)


async def get_whoami(request: web.Request) -> web.Response:
    """Who the token is, so the page can greet the operator and grey out other districts."""
    principal = caller(request)
    return json_response({"actor": principal.actor, "role": principal.role,
                          "districts": sorted(principal.districts)})


@web.middleware
async def _static_headers(request: web.Request, handler):
    response = await handler(request)
    if request.path.startswith("/static/"):
        response.headers.update(_HEADERS)
    return response


def add_page_routes(app: web.Application) -> None:
    app.router.add_get("/", get_page)
    app.router.add_get("/api/districts", get_districts)
    app.router.add_get("/api/whoami", get_whoami)
    app.router.add_static("/static/", STATIC_DIR)
    app.middlewares.append(_static_headers)

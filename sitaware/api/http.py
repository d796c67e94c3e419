"""Small HTTP helpers shared by the API's handlers: JSON errors, the caller, audit notes.

A handler says what its call was about with `note(request, target=..., detail=...)`; the
audit middleware (app.py) writes the row when the call ends, whatever its outcome.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from aiohttp import web

from sitaware.api.auth import Principal
from sitaware.names import DistrictNames, UnknownName

__all__ = ["fail", "unknown_name", "caller", "note", "district_param", "DISTRICT_NAMES",
           "parse_instant", "iso", "json_response"]

DISTRICT_NAMES = web.AppKey("district_names", DistrictNames)


def fail(status: int, message: str, **extra) -> web.HTTPException:
    """An HTTP error with a JSON body `{"error": message, **extra}`, to raise."""
    body = json.dumps({"error": message, **extra}, ensure_ascii=False)
    return _STATUS[status](text=body, content_type="application/json")


_STATUS = {
    400: web.HTTPBadRequest,
    401: web.HTTPUnauthorized,
    403: web.HTTPForbidden,
    404: web.HTTPNotFound,
    422: web.HTTPUnprocessableEntity,
    503: web.HTTPServiceUnavailable,
}


def unknown_name(exc: UnknownName) -> web.HTTPException:
    """422 naming the unknown value and listing the known ones."""
    extra = {"field": exc.field} if exc.field else {}
    return fail(422, str(exc), known=exc.known, **extra)


def caller(request: web.Request) -> Principal:
    return request["principal"]


def note(request: web.Request, *, target: str | None = None, detail: str | None = None) -> None:
    if target is not None:
        request["audit_target"] = target
    if detail is not None:
        request["audit_detail"] = detail


def district_param(request: web.Request) -> str | None:
    """The optional `?district=` (an id or its zh-CN name) as an id, which becomes the audit
    target; 422 for an unknown district, 403 outside the caller's scope."""
    district = request.query.get("district") or None
    note(request, target=district or "")
    if district:
        try:
            district = request.app[DISTRICT_NAMES].resolve(district)
        except UnknownName as exc:
            raise unknown_name(exc) from None
        note(request, target=district)
    if district and not caller(request).sees(district):
        raise fail(403, f"district {district} is outside this token's scope")
    return district


def parse_instant(name: str, value: str | None) -> datetime | None:
    """An RFC 3339 query parameter with an explicit offset, as aware UTC; 400 otherwise."""
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise fail(400, f"{name} must be an RFC 3339 instant") from None
    if parsed.tzinfo is None:
        raise fail(400, f"{name} needs an explicit offset (Z or +hh:mm)")
    try:
        return parsed.astimezone(timezone.utc)
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 is before year 1 in UTC
        raise fail(400, f"{name} is out of range") from None


def iso(value: datetime | None) -> str | None:
    """ClickHouse DateTime('UTC') values as RFC 3339 with Z."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def json_response(data, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, ensure_ascii=False))

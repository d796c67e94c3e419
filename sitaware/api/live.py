"""Live situations: `GET /api/stream`, server-sent events from the `situations` topic.

One consumer per API process follows the topic from its end and fans each situation out
to the open streams whose caller may see it (district scope) and asked for it (`type`,
`district`). Browsers' EventSource cannot send headers, so this is the one endpoint that
also takes the token as `?token=` (app.py); the query string is never logged.
A stream whose client reads too slowly loses situations rather than holding the others
back; the client's `event_id`s let it notice and refetch from /api/situations.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field

from aiohttp import web

from sitaware.api.audit import record_call
from sitaware.api.follow import TopicFollower
from sitaware.api.http import caller, district_param, unknown_name
from sitaware.api.metrics import STREAM_CLIENTS
from sitaware.names import UnknownName, situation_type
from topics.specs import SITUATIONS

__all__ = ["SituationFeed", "FEED", "get_stream"]

_KEEPALIVE_S = 15.0
_EVENT_ID = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")
_CLOSE = None  # queued to a listener when the API shuts down


@dataclass(eq=False)
class Listener:
    districts: frozenset[str]  # empty: all
    types: frozenset[str]  # empty: all
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(maxsize=1000))
    dropped: int = 0

    def offer(self, situation: dict) -> None:
        if self.types and situation.get("type") not in self.types:
            return
        if self.districts and situation.get("district") not in self.districts:
            return
        try:
            self.queue.put_nowait(situation)
        except asyncio.QueueFull:
            self.dropped += 1


class SituationFeed(TopicFollower):
    contract_name = SITUATIONS

    def __init__(self, settings):
        super().__init__(settings)
        self.listeners: set[Listener] = set()

    def apply(self, record) -> None:
        situation = json.loads(record.value)
        # The id goes into the event's `id:` line: a contract identifier, never a line break.
        if not isinstance(situation, dict) or not _EVENT_ID.fullmatch(str(situation.get("event_id"))):
            return
        for listener in list(self.listeners):
            listener.offer(situation)

    def close_listeners(self) -> None:
        """End every open stream (on shutdown), so the server need not wait for them."""
        for listener in list(self.listeners):
            while listener.queue.full():  # the close marker must get through
                listener.queue.get_nowait()
            listener.queue.put_nowait(_CLOSE)
        self.listeners.clear()


FEED = web.AppKey("situation_feed", SituationFeed)


def _listener(request: web.Request) -> Listener:
    principal = caller(request)
    types = frozenset(t for value in request.query.getall("type", []) for t in value.split(",") if t)
    try:
        for kind in sorted(types):
            situation_type(kind)
    except UnknownName as exc:
        raise unknown_name(exc) from None
    district = district_param(request)
    return Listener(frozenset([district]) if district else principal.districts, types)


async def get_stream(request: web.Request) -> web.StreamResponse:
    listener = _listener(request)
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream; charset=utf-8",
        "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no",  # proxies must not buffer the stream
    })
    await response.prepare(request)
    # The call is audited when it opens, not when it ends hours later.
    record_call(request, "ok", "stream opened")
    feed = request.app[FEED]
    feed.listeners.add(listener)
    STREAM_CLIENTS.inc()
    try:
        await response.write(b"retry: 3000\n: connected\n\n")
        while True:
            try:
                situation = await asyncio.wait_for(listener.queue.get(), _KEEPALIVE_S)
            except asyncio.TimeoutError:
                await response.write(b": keepalive\n\n")
                continue
            if situation is _CLOSE:
                break
            data = json.dumps(situation, ensure_ascii=False, separators=(",", ":"))
            await response.write(f"id: {situation['event_id']}\ndata: {data}\n\n".encode())
    except ConnectionResetError:
        pass  # the client went away
    finally:
        feed.listeners.discard(listener)
        STREAM_CLIENTS.dec()
    return response

"""Subscriptions (docs/surface.md): `GET/PUT/DELETE /api/subscriptions[/{subscription_id}]`.

The compacted `subscriptions` topic is the only store: the API reads it whole at start,
follows it, and writes to it (a PUT produces the record keyed by subscription_id, a
DELETE a tombstone), then waits until its own view has read the write back, so a GET
right after shows it. Viewers only read; a scoped token only sees and writes
subscriptions whose districts lie within its scope. Webhook secrets never leave: they
are masked in every answer, and a PUT that sends the mask back keeps the stored secret.
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import web
from aiokafka import AIOKafkaProducer
from pydantic import ValidationError

from sinks.webhooks.targets import TargetRefused, check_target
from sitaware.api.follow import TopicFollower
from sitaware.api.http import DISTRICT_NAMES, caller, fail, json_response, note
from sitaware.names import UnknownName, subscription_names
from topics.records import Subscription
from topics.specs import SUBSCRIPTIONS

__all__ = ["SubscriptionView", "SUBSCRIPTION_VIEW", "MASK", "masked", "list_subscriptions",
           "get_subscription", "put_subscription", "delete_subscription"]

MASK = "***"  # as `sitaware subscribe list` shows it


class SubscriptionView(TopicFollower):
    contract_name = SUBSCRIPTIONS

    def __init__(self, settings):
        super().__init__(settings)
        self.current: dict[str, Subscription] = {}
        self.applied: dict[int, int] = {}  # partition -> offset of the last record read
        self.producer: AIOKafkaProducer | None = None

    async def position(self) -> None:
        await self.consumer.seek_to_beginning(*self.partitions)

    async def catch_up(self) -> None:
        await self.read_to_end()
        self.producer = AIOKafkaProducer(**self.settings.aiokafka_config(),
                                         acks="all", client_id="sitaware-api-subscriptions")
        await self.producer.start()

    def apply(self, record) -> None:
        self.applied[record.partition] = record.offset
        key = record.key.decode("utf-8") if record.key else None
        if record.value is None:
            self.current.pop(key, None)
            return
        try:
            subscription = Subscription.model_validate_json(record.value)
        except ValueError:
            return  # the worker dead-letters it; it is no subscription
        self.current[subscription.subscription_id] = subscription

    async def write(self, subscription_id: str, value: bytes | None, timeout_s: float = 5.0) -> None:
        """Produce the record (None: a tombstone) and wait until this view has read it."""
        meta = await self.producer.send_and_wait(self.topic, value, key=subscription_id.encode())
        deadline = asyncio.get_running_loop().time() + timeout_s
        while self.applied.get(meta.partition, -1) < meta.offset:
            if asyncio.get_running_loop().time() > deadline:
                break  # it is on the topic; the view will catch up
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self.producer is not None:
            await self.producer.stop()
        await super().stop()


SUBSCRIPTION_VIEW = web.AppKey("subscription_view", SubscriptionView)


def masked(subscription: Subscription) -> dict:
    data = subscription.model_dump(mode="json")
    if data.get("webhook_secret"):
        data["webhook_secret"] = MASK
    return data


def _visible(request: web.Request, subscription_id: str) -> Subscription:
    note(request, target=subscription_id)
    found = request.app[SUBSCRIPTION_VIEW].current.get(subscription_id)
    if found is None:
        raise fail(404, f"no subscription {subscription_id}")
    if not caller(request).covers(found.districts):
        raise fail(403, f"subscription {subscription_id} covers districts outside this token's scope")
    return found


async def list_subscriptions(request: web.Request) -> web.Response:
    principal = caller(request)
    found = [masked(s) for _, s in sorted(request.app[SUBSCRIPTION_VIEW].current.items())
             if principal.covers(s.districts)]
    note(request, detail=f"{len(found)} subscriptions")
    return json_response({"subscriptions": found, "count": len(found)})


async def get_subscription(request: web.Request) -> web.Response:
    return json_response(masked(_visible(request, request.match_info["subscription_id"])))


async def _body(request: web.Request) -> dict:
    try:
        body = json.loads(await request.read())
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
        raise fail(400, "the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise fail(400, "the body must be a JSON object")
    return body


def _validate(body: dict) -> Subscription:
    try:
        return Subscription.model_validate(body)
    except ValidationError as exc:
        # The problems name fields, never echo the input (it may hold the secret).
        problems = [{"field": ".".join(str(p) for p in e["loc"]) or "(record)", "message": e["msg"]}
                    for e in exc.errors()]
        raise fail(422, "invalid subscription", problems=problems) from None


async def put_subscription(request: web.Request) -> web.Response:
    subscription_id = request.match_info["subscription_id"]
    principal = caller(request)
    note(request, target=subscription_id)
    if not principal.can_write:
        raise fail(403, f"role {principal.role} may not change subscriptions")
    body = await _body(request)
    if body.setdefault("subscription_id", subscription_id) != subscription_id:
        raise fail(422, "subscription_id in the body differs from the one in the path")
    body.setdefault("owner", principal.actor)
    try:  # district aliases (zh-CN names) are stored as the ids situations carry
        body = subscription_names(body, request.app[DISTRICT_NAMES])
    except UnknownName as exc:
        raise fail(422, "invalid subscription", problems=[
            {"field": exc.field, "message": str(exc), "known": exc.known}]) from None
    view = request.app[SUBSCRIPTION_VIEW]
    existing = view.current.get(subscription_id)
    if body.get("webhook_secret") in (None, MASK):
        if existing is not None and existing.webhook_secret:
            body["webhook_secret"] = existing.webhook_secret  # a GET-edit-PUT round trip
        elif body.get("webhook_secret") == MASK:
            raise fail(422, "webhook_secret is the mask; send the real secret")
    subscription = _validate(body)
    if not principal.covers(subscription.districts):
        raise fail(403, "a scoped token may only subscribe to districts within its scope "
                   "(and must name them)")
    if existing is not None and not principal.covers(existing.districts):
        raise fail(403, f"subscription {subscription_id} covers districts outside this token's scope")
    if subscription.channel == "webhook":
        allow = request.app[SUBSCRIPTION_VIEW].settings.webhook_allow_private
        try:  # resolves the host: blocking, so in a thread
            await asyncio.to_thread(check_target, subscription.webhook_url, allow)
        except TargetRefused as refused:
            raise fail(422, f"webhook_url refused: {refused.reason}") from None
    await view.write(subscription_id, json.dumps(subscription.model_dump(mode="json"),
                                                 ensure_ascii=False).encode())
    note(request, detail=f"{'replaced' if existing else 'created'} channel={subscription.channel}")
    return json_response(masked(subscription), status=200 if existing else 201)


async def delete_subscription(request: web.Request) -> web.Response:
    subscription_id = request.match_info["subscription_id"]
    principal = caller(request)
    note(request, target=subscription_id)
    if not principal.can_write:
        raise fail(403, f"role {principal.role} may not change subscriptions")
    _visible(request, subscription_id)
    await request.app[SUBSCRIPTION_VIEW].write(subscription_id, None)
    note(request, detail="deleted")
    return web.Response(status=204)

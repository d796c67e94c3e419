"""Alert agents: situations matched to subscriptions and delivered (docs/surface.md, Other output topics; Subscriptions and alerts).

  matcher  reads `situations` (key event_id) and, for every subscription that matches
           (`streams.alerts.matches`; subscriptions are reference data every worker holds),
           sends a candidate to `<app>-alert-candidates` keyed by subscription_id;
  alerts   one partition per subscription's key: cooldown and repeats
           (`streams.alerts.admit_alert`, table `alert-state`), then delivery —
           kafka:   the alert to `alerts.<subscription_id>` (key event_id);
           webhook: a signed POST with retries (`sinks.webhooks`); 410 Gone disables the
                    subscription (re-published with enabled = false); a delivery that
                    failed after its last attempt goes to `dead-letters`.
           Every alert is a row in `alert_deliveries`.

A webhook is delivered inline, so a slow receiver delays the alerts behind it on the same
partition (at most attempts x timeout plus backoff); in exchange an alert is acked only
once delivered or given up, and a crash before that delivers it again with the same
`webhook-id`, which receivers use to drop the duplicate.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import orjson

from sinks.webhooks import WebhookDelivery
from streams import alerts as rules
from streams.metrics import ALERTS
from topics import specs
from topics.codec import Rejection
from topics.records import Alert, Situation

__all__ = ["register"]


def register(pipeline, reference) -> None:
    app, settings = pipeline.app, pipeline.settings
    states = pipeline.table("alert-state")
    declared: set[str] = set()
    delivery = WebhookDelivery(
        attempts=settings.webhook_attempts, base_delay_s=settings.webhook_base_delay_s,
        timeout_s=settings.webhook_timeout_s, allow_private=settings.webhook_allow_private)

    @app.agent(pipeline.situations, name="matcher")
    async def matcher(stream):
        await reference.ready.wait()
        async for event in stream.events():
            try:
                situation = Situation.model_validate_json(event.message.value)
                for subscription_id, subscription in sorted(reference.subscriptions.items()):
                    if rules.matches(subscription, situation):
                        await pipeline.alert_candidates.send(key=subscription_id.encode(), value=event.message.value)
            except Exception as exc:  # the worker never dies of a record
                await pipeline.failed(event, exc)

    async def kafka_channel(subscription, alert: Alert) -> tuple[str, int]:
        spec = specs.alerts_topic(settings, subscription.subscription_id)
        if spec.name not in declared:
            await asyncio.to_thread(_ensure_topic, settings, spec)
            declared.add(spec.name)
        topic = app.topic(spec.name, partitions=spec.partitions)
        await topic.send(key=alert.event.event_id.encode(), value=orjson.dumps(alert.model_dump(mode="json")))
        return "delivered", 1

    async def webhook_channel(event, subscription, alert: Alert) -> tuple[str, int]:
        body = orjson.dumps(alert.model_dump(mode="json"))
        result = await delivery.deliver(subscription.webhook_url, subscription.webhook_secret, alert.alert_id, body)
        if result.status == "gone":
            disabled = subscription.model_copy(update={
                "enabled": False, "disabled_reason": "webhook answered 410 Gone"})
            await pipeline.subscriptions.send(
                key=subscription.subscription_id.encode(),
                value=orjson.dumps(disabled.model_dump(mode="json", exclude_none=True)))
        elif result.status in ("failed", "refused"):
            await pipeline.reject(event, Rejection(
                "process", f"Webhook{result.status.title()}",
                f"alert {alert.alert_id}: {result.last_error or 'not delivered'} after {result.attempts} attempts"))
        return result.status, result.attempts

    @app.agent(pipeline.alert_candidates, name="alerts")
    async def alert_agent(stream):
        await reference.ready.wait()
        async for event in stream.events():
            try:
                subscription = reference.subscriptions.get(event.message.key.decode())
                situation = Situation.model_validate_json(event.message.value)
                if subscription is None or not rules.matches(subscription, situation):
                    continue  # deleted, disabled or changed since it matched
                stored = states[subscription.subscription_id] or {}
                state = rules.AlertState.model_validate(stored["state"]) if stored else None
                state, aid, why = rules.admit_alert(state, subscription, situation)
                done = {k: v for k, v in stored.get("done", {}).items() if k in state.alerts}
                ALERTS.labels(why).inc()
                # A repeat delivered by webhook is done (the receiver answered); a repeat on
                # Kafka is sent again — the first send may have been lost in a crash while
                # this table kept it — and readers drop the duplicate by alert_id.
                if why == "cooldown" or (why == "repeat" and aid in done and subscription.channel == "webhook"):
                    continue
                now = datetime.now(timezone.utc)
                alert = Alert(alert_id=aid, subscription_id=subscription.subscription_id, matched_at=now,
                              event=situation)
                if subscription.channel == "kafka":
                    status, attempts = await kafka_channel(subscription, alert)
                else:
                    status, attempts = await webhook_channel(event, subscription, alert)
                states[subscription.subscription_id] = {"state": state.model_dump(mode="json"),
                                                         "done": {**done, aid: status}}
                await pipeline.row("alert_deliveries", {
                    "alert_id": aid, "subscription_id": subscription.subscription_id,
                    "event_id": situation.event_id, "channel": subscription.channel, "status": status,
                    "attempts": attempts, "matched_at": now.isoformat(),
                    "last_attempt_at": datetime.now(timezone.utc).isoformat(), "version": 1,
                })
            except Exception as exc:  # the worker never dies of a record
                await pipeline.failed(event, exc)


def _ensure_topic(settings, spec) -> None:
    from kafka import KafkaAdminClient

    from topics.admin import ensure_topics

    admin = KafkaAdminClient(**settings.kafka_python_config())
    try:
        ensure_topics(admin, [spec], settings.topic_replication)
    finally:
        admin.close()

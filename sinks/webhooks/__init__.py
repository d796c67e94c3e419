"""Webhooks: signed, retried delivery of alerts to subscribers' HTTP endpoints
(docs/surface.md, "Subscriptions and alerts")."""

from sinks.webhooks.delivery import DeliveryResult, DeliveryStatus, WebhookDelivery
from sinks.webhooks.signing import headers, sign, verify
from sinks.webhooks.targets import TargetRefused, TargetUnresolved, check_target

__all__ = [
    "WebhookDelivery",
    "DeliveryResult",
    "DeliveryStatus",
    "sign",
    "headers",
    "verify",
    "check_target",
    "TargetRefused",
    "TargetUnresolved",
]

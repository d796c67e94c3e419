"""`sitaware subscribe`: manage alert subscriptions on the compacted `subscriptions` topic.

    sitaware subscribe put FILE.json     create or replace (validated: names of districts, types
                                         and severities; webhook target checked)
    sitaware subscribe list              the current subscriptions (webhook secrets masked)
    sitaware subscribe delete ID         a tombstone: the subscription is gone

The workers follow the topic live; the API writes the same records.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sitaware.errors import ConfigError
from sitaware.settings import Settings

__all__ = ["register", "current_subscriptions"]


def current_subscriptions(settings: Settings) -> dict[str, dict]:
    """The topic read to its end: subscription_id -> latest value (tombstones removed)."""
    from kafka import KafkaConsumer, TopicPartition

    name = settings.topic("subscriptions")
    consumer = KafkaConsumer(**settings.kafka_python_config(), enable_auto_commit=False)
    try:
        parts = [TopicPartition(name, p) for p in consumer.partitions_for_topic(name) or ()]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        latest: dict[str, dict | None] = {}
        while any(consumer.position(tp) < ends[tp] for tp in parts):
            for records in consumer.poll(timeout_ms=1000).values():
                for r in records:
                    latest[r.key.decode()] = json.loads(r.value) if r.value is not None else None
        return {k: v for k, v in sorted(latest.items()) if v is not None}
    finally:
        consumer.close()


def _put(args: argparse.Namespace, settings: Settings) -> int:
    from pydantic import ValidationError

    from sinks.webhooks import TargetRefused, check_target
    from topics.codec import describe_validation_error
    from topics.records import Subscription

    from sitaware.names import UnknownName, district_names, subscription_names

    try:
        body = json.loads(Path(args.file).read_bytes())
    except OSError as exc:
        raise ConfigError(f"{args.file}: cannot read it ({exc.strerror})") from None
    except ValueError:
        raise ConfigError(f"{args.file}: not a JSON object") from None
    if not isinstance(body, dict):
        raise ConfigError(f"{args.file}: not a JSON object")
    try:
        # District aliases (zh-CN names) are stored as the ids situations carry.
        body = subscription_names(body, district_names(settings.districts_file))
    except UnknownName as exc:
        raise ConfigError(f"{args.file}: {exc}") from None
    try:
        subscription = Subscription.model_validate_json(json.dumps(body))  # JSON rules, as on the topic
    except ValidationError as exc:
        raise ConfigError(f"{args.file}: {describe_validation_error(exc)}") from None
    if subscription.channel == "webhook":
        try:
            check_target(subscription.webhook_url, settings.webhook_allow_private)
        except TargetRefused as exc:
            raise ConfigError(f"webhook_url refused: {exc.reason} (SITAWARE_WEBHOOK_ALLOW_PRIVATE)") from None
    value = subscription.model_dump_json(exclude_none=True).encode()
    _send(settings, subscription.subscription_id, value)
    print(f"subscription {subscription.subscription_id} written")
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    for value in current_subscriptions(settings).values():
        if value.get("webhook_secret"):
            value["webhook_secret"] = "***"
        print(json.dumps(value, ensure_ascii=False))
    return 0


def _delete(args: argparse.Namespace, settings: Settings) -> int:
    _send(settings, args.subscription_id, None)
    print(f"subscription {args.subscription_id} deleted")
    return 0


def _send(settings: Settings, key: str, value: bytes | None) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(**settings.kafka_python_config(), acks="all")
    try:
        producer.send(settings.topic("subscriptions"), key=key.encode(), value=value).get(timeout=30)
    finally:
        producer.close()


def register(commands) -> None:
    parser = commands.add_parser("subscribe", help="manage alert subscriptions")
    actions = parser.add_subparsers(dest="action", required=True)
    put = actions.add_parser("put", help="create or replace a subscription from a JSON file")
    put.add_argument("file", metavar="FILE.json",
                     help="the subscription (docs/surface.md); districts by id or zh-CN name")
    put.set_defaults(run=_put)
    actions.add_parser("list", help="list the subscriptions").set_defaults(run=_list)
    delete = actions.add_parser("delete", help="delete a subscription")
    delete.add_argument("subscription_id", help="the id of the subscription to delete")
    delete.set_defaults(run=_delete)

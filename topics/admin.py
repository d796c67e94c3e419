"""Create the contract's topics on the broker, idempotently, and check what exists."""

from __future__ import annotations

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.errors import TopicAlreadyExistsError

from topics.specs import TopicSpec

__all__ = ["ensure_topics", "describe_topics"]


def ensure_topics(admin: KafkaAdminClient, specs: list[TopicSpec], replication: int = 1) -> list[str]:
    """Create the missing topics; return the names created. Existing ones are left alone."""
    existing = set(admin.list_topics())
    missing = [s for s in specs if s.name not in existing]
    created = []
    for spec in missing:
        try:
            admin.create_topics(
                [NewTopic(spec.name, spec.partitions, replication, topic_configs=spec.configs)]
            )
            created.append(spec.name)
        except TopicAlreadyExistsError:
            pass  # another process created it between list and create
    return created


def describe_topics(admin: KafkaAdminClient, names: list[str]) -> dict[str, dict]:
    """{topic: {"partitions": n, "configs": {...}}} for the named topics that exist."""
    meta = {t["topic"]: t for t in admin.describe_topics(names) if not t.get("error_code")}
    resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in meta]
    configs: dict[str, dict[str, str]] = {}
    if resources:
        for response in admin.describe_configs(resources):
            for result in response.resources:
                # (error_code, error_message, resource_type, resource_name, entries)
                name, entries = result[3], result[4]
                configs[name] = {e[0]: e[1] for e in entries}
    return {
        name: {"partitions": len(t["partitions"]), "configs": configs.get(name, {})}
        for name, t in meta.items()
    }

"""Create the contract's topics on the broker, idempotently, and check what exists."""

from __future__ import annotations

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.errors import TopicAlreadyExistsError

from topics.specs import TopicSpec

__all__ = ["ensure_topics", "describe_topics", "delete_topics_with_prefix"]


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
    """{topic: {"partitions": n, "configs": {...}}} for the named topics that exist.

    Written against kafka-python 3.0's admin answers (dicts keyed by topic name).
    """
    existing = set(admin.list_topics())
    wanted = [n for n in names if n in existing]
    if not wanted:
        return {}
    meta = {t["name"]: t for t in admin.describe_topics(wanted) if not t.get("error_code")}
    answer = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in meta])
    configs = answer.get("topic", {})
    return {
        name: {
            "partitions": len(t["partitions"]),
            "configs": {k: v["value"] for k, v in configs.get(name, {}).items()},
        }
        for name, t in meta.items()
    }


def delete_topics_with_prefix(admin: KafkaAdminClient, prefix: str) -> list[str]:
    """Delete every topic whose name starts with `prefix` (a run's own); return their names."""
    if not prefix:
        raise ValueError("refusing to delete topics with an empty prefix (that is every topic)")
    mine = [t for t in admin.list_topics() if t.startswith(prefix)]
    if mine:
        admin.delete_topics(mine)
    return mine

"""The contract's topics: names, keys, partition counts and configs (docs/surface.md).

`sitaware stack up` and `sitaware topics create` create exactly these, so that no topic is
ever auto-created by the broker with the wrong partition count (Faust would then fail
with PartitionsMismatch).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sitaware.settings import Settings

__all__ = [
    "TopicSpec",
    "ALARMS",
    "PATROL_GPS",
    "CHECKPOINT_PASSES",
    "CHECKPOINTS",
    "WATCHLIST",
    "SUBSCRIPTIONS",
    "SITUATIONS",
    "DEAD_LETTERS",
    "LATE_EVENTS",
    "ALERTS_PREFIX",
    "contract_topics",
    "alerts_topic",
    "CLICKHOUSE_ROWS",
    "app_id",
    "internal_topic_name",
    "internal_retention_ms",
]

ALARMS = "alarms"
PATROL_GPS = "patrol-gps"
CHECKPOINT_PASSES = "checkpoint-passes"
CHECKPOINTS = "checkpoints"
WATCHLIST = "watchlist"
SUBSCRIPTIONS = "subscriptions"
SITUATIONS = "situations"
DEAD_LETTERS = "dead-letters"
LATE_EVENTS = "late-events"
ALERTS_PREFIX = "alerts."
# The worker's internal topic of rows bound for ClickHouse (`<app>-clickhouse-rows`).
CLICKHOUSE_ROWS = "clickhouse-rows"

_HOUR_MS = 3_600_000
_INTERNAL_RETENTION_MS = 7 * 24 * _HOUR_MS


@dataclass(frozen=True)
class TopicSpec:
    """One topic as the broker must have it. `name` already carries the prefix."""

    name: str
    key: str
    partitions: int
    configs: dict[str, str] = field(default_factory=dict)

    @property
    def compacted(self) -> bool:
        return self.configs.get("cleanup.policy") == "compact"


def _feed(settings: Settings, name: str, key: str, hours: int | None = None) -> TopicSpec:
    retention_ms = (hours or settings.feed_retention_hours) * _HOUR_MS
    return TopicSpec(
        settings.topic(name),
        key,
        settings.topic_partitions,
        {"cleanup.policy": "delete", "retention.ms": str(retention_ms)},
    )


def _reference(settings: Settings, name: str, key: str, partitions: int) -> TopicSpec:
    # Compacted: the latest value per key is the reference data; a null value deletes it.
    return TopicSpec(
        settings.topic(name),
        key,
        partitions,
        {
            "cleanup.policy": "compact",
            "min.cleanable.dirty.ratio": "0.1",
            "segment.ms": str(_HOUR_MS),
        },
    )


def contract_topics(settings: Settings) -> list[TopicSpec]:
    """Every fixed topic of the contract (alerts.<id> topics come with subscriptions)."""
    n = settings.topic_partitions
    return [
        _feed(settings, ALARMS, "alarm_id"),
        _feed(settings, PATROL_GPS, "unit_id"),
        _feed(settings, CHECKPOINT_PASSES, "checkpoint_id"),
        # checkpoints is keyed like checkpoint-passes and has as many partitions, so
        # the worker can join them without a repartition (co-partitioned).
        _reference(settings, CHECKPOINTS, "checkpoint_id", n),
        _reference(settings, WATCHLIST, "plate", n),
        # Every worker reads every subscription; one partition keeps them in order.
        _reference(settings, SUBSCRIPTIONS, "subscription_id", 1),
        _feed(settings, SITUATIONS, "event_id", hours=30 * 24),
        _feed(settings, DEAD_LETTERS, "origin key", hours=30 * 24),
        _feed(settings, LATE_EVENTS, "origin key", hours=30 * 24),
    ]


def alerts_topic(settings: Settings, subscription_id: str) -> TopicSpec:
    return _feed(settings, ALERTS_PREFIX + subscription_id, "event_id", hours=30 * 24)


def app_id(settings: Settings) -> str:
    """The Faust app id: the consumer group, and the prefix of the app's internal topics."""
    return settings.app_id or f"{settings.topic_prefix}sitaware"


def internal_topic_name(settings: Settings, name: str) -> str:
    return f"{app_id(settings)}-{name}"


def internal_retention_ms(settings: Settings, name: str) -> int:
    """Internal topics keep a week. The rows bound for ClickHouse are kept at least as long
    as the input feeds: `sitaware rebuild` recomputes the tables from them, so its window
    is never shorter than a replay's."""
    if name == CLICKHOUSE_ROWS:
        return max(_INTERNAL_RETENTION_MS, settings.feed_retention_hours * _HOUR_MS)
    return _INTERNAL_RETENTION_MS

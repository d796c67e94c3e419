"""Send a rejected input record, unchanged, to `dead-letters` or `late-events` (docs/surface.md, Other output topics)."""

from __future__ import annotations

from faust.types import EventT, TopicT

from streams.metrics import DEAD_LETTERS, LATE_RECORDS
from topics.codec import Rejection

__all__ = ["dead_letter_headers", "reject", "reject_record"]


def dead_letter_headers(topic: str, partition: int, offset: int, rejection: Rejection) -> list[tuple[str, bytes]]:
    return [
        ("dlq.origin.topic", topic.encode()),
        ("dlq.origin.partition", str(partition).encode()),
        ("dlq.origin.offset", str(offset).encode()),
        ("dlq.error.stage", rejection.stage.encode()),
        ("dlq.error.class", rejection.error_class.encode()),
        ("dlq.error.message", rejection.message.encode()),
    ]


async def reject(dead_letters: TopicT, late_events: TopicT, event: EventT, rejection: Rejection) -> None:
    """Publish the original bytes with the contract headers; counted by topic and stage."""
    m = event.message
    await reject_record(dead_letters, late_events, m.topic, m.partition, m.offset, m.key, m.value, rejection)


async def reject_record(
    dead_letters: TopicT, late_events: TopicT, topic: str, partition: int, offset: int,
    key: bytes | None, value: bytes | None, rejection: Rejection,
) -> None:
    target = late_events if rejection.stage == "late" else dead_letters
    if rejection.stage == "late":
        LATE_RECORDS.labels(topic).inc()
    else:
        DEAD_LETTERS.labels(topic, rejection.stage).inc()
    headers = dead_letter_headers(topic, partition, offset, rejection)
    await target.send(key=key, value=value, headers=headers)

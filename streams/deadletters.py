"""Send a rejected input record, unchanged, to `dead-letters` or `late-events` (contract §4)."""

from __future__ import annotations

from faust.types import EventT, TopicT

from streams.metrics import DEAD_LETTERS, LATE_RECORDS
from topics.codec import Rejection

__all__ = ["dead_letter_headers", "reject"]


def dead_letter_headers(event: EventT, rejection: Rejection) -> list[tuple[str, bytes]]:
    message = event.message
    return [
        ("dlq.origin.topic", message.topic.encode()),
        ("dlq.origin.partition", str(message.partition).encode()),
        ("dlq.origin.offset", str(message.offset).encode()),
        ("dlq.error.stage", rejection.stage.encode()),
        ("dlq.error.class", rejection.error_class.encode()),
        ("dlq.error.message", rejection.message.encode()),
    ]


async def reject(dead_letters: TopicT, late_events: TopicT, event: EventT, rejection: Rejection) -> None:
    """Publish the original bytes with the contract headers; counted by topic and stage."""
    message = event.message
    target = late_events if rejection.stage == "late" else dead_letters
    if rejection.stage == "late":
        LATE_RECORDS.labels(message.topic).inc()
    else:
        DEAD_LETTERS.labels(message.topic, rejection.stage).inc()
    await target.send(key=message.key, value=message.value, headers=dead_letter_headers(event, rejection))

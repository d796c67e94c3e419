"""Agents that take their input a batch at a time (`stream.take_events`).

Faust sends a table write's changelog record to the partition of the *current event*,
which its per-record iterator sets and `take_events` does not (inside a batch it is the
last event buffered, of any partition). `as_current` makes each event of a batch current
while it is handled, as the per-record iterator would. `take_events` acks the batch only
after the body, so a crash mid-batch re-delivers all of it: the handlers are idempotent.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import defaultdict
from collections.abc import Iterable, Iterator

import orjson
from faust.streams import _current_event

__all__ = ["as_current", "SectorOutbox"]

log = logging.getLogger(__name__)


def as_current(events: Iterable) -> Iterator:
    """Each event, made faust's current event while the caller handles it."""
    for event in events:
        _current_event.set(weakref.ref(event))
        yield event


class SectorOutbox:
    """Positions bound for the sectors topic, one record per sector per batch.

    A ping is copied to every sector within the search radius (up to four): one record per
    copy made the sectors topic and the `fleet` changelog carry several records per ping,
    most of the worker's per-record cost. Collected over a batch, a sector gets one record
    of `kind: pings` with all of them. Flushed before anything that sends a patrol-gps
    watermark (a watermark must not overtake the pings it vouches for) and at the end of
    each batch, before the batch is acked.
    """

    RETRY_S = 1.0

    def __init__(self, topic) -> None:
        self.topic = topic
        self.pending: dict[str, list[dict]] = defaultdict(list)

    def add(self, sectors: Iterable[str], position: dict) -> None:
        for sector in sectors:
            self.pending[sector].append(position)

    async def flush(self) -> None:
        while self.pending:
            sector, positions = next(iter(self.pending.items()))
            try:
                await self.topic.send(key=sector.encode(),
                                      value=orjson.dumps({"kind": "pings", "positions": positions}))
            except Exception:  # the batch is acked after this: never drop positions
                log.exception("sending %d positions to sector %s failed; retrying", len(positions), sector)
                await asyncio.sleep(self.RETRY_S)
                continue
            del self.pending[sector]

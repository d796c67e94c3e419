"""Delivery and offset commits that never skip a record (at-least-once, for real).

At-least-once rests on two rules: the streams get every record of a partition in offset
order, and the committed position only moves past records every subscribed stream has
finished. faust-streaming 0.15's consumer breaks both under rebalances and restarts
(compare faust-streaming issue #606); the fault tests lost alerts and arrivals to it:

- after a rebalance the fetcher can hand over records from past the committed position
  (a batch cut short, a seek that did not happen): faust delivers them and files the
  skipped offsets as a "gap", which its commit then treats as done. Our stream topics have
  no holes (delete policy, no transactions), so a gap is records never processed;
- its head check compares the first acked offset with the committed *position* as if it
  were the last committed record, so an unacked record exactly at the position is
  committed past; with the position 0 or unknown there is no check at all;
- aiokafka seeks a partition to its committed position only when that is above 0, so a
  never-committed partition keeps its in-memory fetch position across a rebalance.

What this module does instead, per partition of a topic the streams ack:

- `getmany` hands the streams only the next offset expected (the committed position after
  a seek, then one after the last handed over). A record past it means records were
  skipped: the partition is sought back to the expected offset and the rest of the batch
  for it is dropped, so they come again, in order. Three rewinds to the same offset
  without it ever arriving mean a real hole in the log, which is then stepped over and
  counted as done;
- the new commit position is the end of the run of acked offsets (faust's own `_acked`,
  filled by every stream's acks and by nothing else now) starting at the committed
  position, or nothing: an unfinished record at the position holds the commit, and the
  log says so (`commit held`) every 30 s while it lasts;
- a partition never committed (or committed below the log start, after retention) is
  sought to the log start on every seek, which becomes its committed position.

`install()` patches faust's consumer class once, before the app is created.
"""

from __future__ import annotations

import logging
import time

from faust.transport import consumer as faust_consumer
from faust.utils.functional import consecutive_numbers

__all__ = ["install", "DeliveryBook", "DELIVER", "REWIND", "HOLE", "HOLE_REWINDS"]

log = logging.getLogger(__name__)

DELIVER, REWIND, HOLE = "deliver", "rewind", "hole"
HOLE_REWINDS = 3  # rewinds to one offset that never arrives before it is taken as a hole
HELD_LOG_EVERY_S = 30.0

_installed = False


class DeliveryBook:
    """Per partition of a consumer: the next offset the streams are due, and rewinds."""

    def __init__(self) -> None:
        self.expected: dict = {}  # tp -> next offset to hand to the streams
        self.rewinds: dict = {}  # tp -> (offset, times sought back to it)
        self.held_logged: dict = {}  # tp -> monotonic time of the last "held" warning

    def arrived(self, tp, offset: int) -> str:
        """What to do with a fetched record: DELIVER it, REWIND (records before it were
        skipped: seek back to the expected offset), or take the skipped offsets as a HOLE
        after HOLE_REWINDS rewinds to the same offset brought nothing new."""
        want = self.expected.get(tp)
        if want is None or offset <= want:
            return DELIVER  # the one due, or a repeat faust drops by its read offset
        last, times = self.rewinds.get(tp, (None, 0))
        times = times + 1 if last == want else 1
        self.rewinds[tp] = (want, times)
        return REWIND if times <= HOLE_REWINDS else HOLE

    def delivered(self, tp, offset: int) -> None:
        self.rewinds.pop(tp, None)
        if offset >= self.expected.get(tp, offset):
            self.expected[tp] = offset + 1

    def forget(self, tp) -> None:
        for kept in (self.expected, self.rewinds, self.held_logged):
            kept.pop(tp, None)


def _book(consumer) -> DeliveryBook:
    book = consumer.__dict__.get("_sitaware_delivery")
    if book is None:
        book = consumer.__dict__["_sitaware_delivery"] = DeliveryBook()
    return book


def install() -> None:
    global _installed
    if _installed:
        return
    Consumer = faust_consumer.Consumer
    original_revoked = Consumer.on_partitions_revoked
    original_perform_seek = Consumer.perform_seek
    original_seek = Consumer.seek
    original_getmany = Consumer.getmany

    async def getmany(self, timeout: float):
        book = _book(self)
        acks_enabled = self.app.topics.acks_enabled_for
        rewound: set = set()
        async for tp, message in original_getmany(self, timeout):
            if tp in rewound:
                continue  # the rest of this batch for it: it comes again after the seek
            if not acks_enabled(tp.topic):
                yield tp, message
                continue
            step = book.arrived(tp, message.offset)
            if step == REWIND:
                log.warning("%s: offset %s arrived where %s was due; seeking back (%s)",
                            tp, message.offset, book.expected[tp], book.rewinds[tp][1])
                rewound.add(tp)
                await self.seek(tp, book.expected[tp])
                continue
            if step == HOLE:
                log.warning("%s: offsets before %s never arrived after %s rewinds: a hole in the "
                            "log, stepped over", tp, message.offset, HOLE_REWINDS)
                _count_as_done(self, tp, range(book.expected[tp], message.offset))
            book.delivered(tp, message.offset)
            yield tp, message

    async def seek(self, partition, offset: int) -> None:
        await original_seek(self, partition, offset)
        _book(self).expected[partition] = offset

    async def perform_seek(self) -> None:
        await original_perform_seek(self)
        acks_enabled = self.app.topics.acks_enabled_for
        tps = [tp for tp in self.assignment() if acks_enabled(tp.topic)]
        if not tps:
            return
        starts = await self.earliest_offsets(*tps)
        book = _book(self)
        for tp in tps:
            start, committed = starts.get(tp), self._committed_offset.get(tp)
            if start is not None and (committed is None or committed < start):
                await original_seek(self, tp, start)
                self._committed_offset[tp] = committed = start
            if committed is not None:
                book.expected[tp] = committed

    def _new_offset(self, tp):
        acked = self._acked[tp]
        if not acked:
            return None
        acked.sort()
        committed = self._committed_offset[tp]
        if committed is not None and acked[0] > committed:
            _log_held(self, tp, f"position {committed} not finished yet (first finished: {acked[0]})")
            return None
        batch = next(consecutive_numbers(acked))
        acked[: len(batch)] = []
        self._acked_index[tp].difference_update(batch)
        return batch[-1] + 1

    async def on_partitions_revoked(self, revoked) -> None:
        book = _book(self)
        for tp in revoked:
            book.forget(tp)
        await original_revoked(self, revoked)

    async def _add_gap(self, tp, offset_from: int, offset_to: int) -> None:
        pass  # `getmany` above never hands over a record past a skipped one

    Consumer.getmany = getmany
    Consumer.seek = seek
    Consumer.perform_seek = perform_seek
    Consumer._new_offset = _new_offset
    Consumer.on_partitions_revoked = on_partitions_revoked
    Consumer._add_gap = _add_gap
    _installed = True


def _count_as_done(consumer, tp, offsets: range) -> None:
    consumer._acked[tp].extend(offsets)
    consumer._acked_index[tp].update(offsets)


def _log_held(consumer, tp, why: str) -> None:
    book = _book(consumer)
    now = time.monotonic()
    if now - book.held_logged.get(tp, 0.0) >= HELD_LOG_EVERY_S:
        book.held_logged[tp] = now
        log.warning("commit held: %s %s", tp, why)

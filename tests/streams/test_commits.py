"""The consumer corrections of streams/commits.py, without a broker: which fetched record is
delivered, when a partition is sought back, and which commits are allowed. (The worker fault
tests show them on the real stack: without them, kills and rebalances lost records.)"""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace

import pytest
from faust.transport import consumer as faust_consumer

from streams import commits
from streams.commits import DELIVER, HOLE, HOLE_REWINDS, REWIND, DeliveryBook

TP = ("t.alert-candidates", 0)


def test_records_are_delivered_in_offset_order_from_the_expected_one():
    book = DeliveryBook()
    assert book.arrived(TP, 40) == DELIVER  # nothing expected yet: a new assignment
    book.delivered(TP, 40)
    assert book.arrived(TP, 41) == DELIVER
    book.delivered(TP, 41)
    assert book.expected[TP] == 42
    assert book.arrived(TP, 39) == DELIVER  # a repeat: faust drops it by its read offset
    book.delivered(TP, 39)
    assert book.expected[TP] == 42


def test_a_record_past_skipped_ones_rewinds_until_they_come_and_a_real_hole_is_stepped_over():
    book = DeliveryBook()
    book.expected[TP] = 10
    assert book.arrived(TP, 18) == REWIND  # 10..17 were skipped: seek back to 10
    book.delivered(TP, 10)  # they came
    assert book.rewinds == {}
    book.expected[TP] = 20
    steps = [book.arrived(TP, 25) for _ in range(HOLE_REWINDS + 1)]
    assert steps == [REWIND] * HOLE_REWINDS + [HOLE]  # 20..24 never come: a hole in the log


def _consumer(committed, acked):
    return SimpleNamespace(_acked=defaultdict(list, {TP: list(acked)}), _acked_index=defaultdict(set),
                           _committed_offset=defaultdict(lambda: None, {TP: committed}))


@pytest.mark.parametrize("committed, acked, expected", [
    (10, [10, 11, 12], 13),
    (10, [11, 12], None),  # the record at the committed position is not finished (faust: 13)
    (0, [1, 2], None),  # position 0 (faust skipped its check when 0)
    (10, [10, 11, 13], 12),  # stops at the first unfinished offset
    (None, [3, 4], 5),  # never committed and not sought yet: the run from the first
])
def test_the_commit_position_is_the_end_of_the_finished_run_from_the_committed_position(committed, acked, expected):
    commits.install()
    consumer = _consumer(committed, acked)
    assert faust_consumer.Consumer._new_offset(consumer, TP) == expected

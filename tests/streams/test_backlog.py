"""Is a feed partition read to its end? (`Pipeline.consumed_up_to`, the idle rule's input.)

The consumer's state is faked: its highwater (None until the fetcher has polled the
partition), its committed position and read offset; the broker's end offsets are what the
worker confirms every second (`feed_ends`)."""

from __future__ import annotations

from types import SimpleNamespace

from faust.types import TP

from streams.app import Pipeline

TPX = TP("patrol-gps", 3)


def pipeline(highwater=None, committed=None, read=None, broker_end=None):
    consumer = SimpleNamespace(highwater=lambda tp: highwater, _committed_offset={TPX: committed},
                               _read_offset={TPX: read})
    return SimpleNamespace(app=SimpleNamespace(consumer=consumer),
                           feed_ends={} if broker_end is None else {TPX: broker_end})


def consumed(p, offset=None, end=None):
    return Pipeline.consumed_up_to(p, TPX, offset, end)


def test_a_partition_never_fetched_is_judged_by_the_broker_end_offset():
    # Taken over with everything committed, or empty: read to its end, so it can go idle.
    # (Judged unknown, it counted as a backlog for as long as the fetcher left it alone
    # and held stream time, and every join behind it, where it was.)
    assert consumed(pipeline(committed=120, broker_end=120)) is True
    assert consumed(pipeline(broker_end=0)) is True
    # Records the group has not processed: a backlog, fetched or not.
    assert consumed(pipeline(committed=100, broker_end=120)) is False
    assert consumed(pipeline(broker_end=5)) is False
    # Neither the fetcher nor the broker has answered: unknown.
    assert consumed(pipeline(committed=100)) is None


def test_the_fetched_highwater_and_the_last_admitted_offset_decide_once_known():
    assert consumed(pipeline(highwater=130, committed=120, broker_end=120)) is False
    assert consumed(pipeline(highwater=130), offset=129) is True
    assert consumed(pipeline(highwater=130), offset=128) is False
    assert consumed(pipeline(highwater=130, read=130)) is True  # no commit yet: where it reads from
    assert consumed(pipeline(highwater=130), offset=120, end=121) is True

"""A fresh worker and a burst of records with event times ending now, produced while the
worker is still joining its group, on 8 partitions most of which get no record: every
situation the burst must give comes out within 60 s of the burst, each exactly once.

What waits on watermarks (the sector join, the cell bursts, the alarm and unit ticks) once
depended on start-up timing: in some runs it was held until the worker stopped. The
delay between the worker's start and the burst varies per run, so the joining phases
(before the first assignment, during recovery, just after) are each hit.
`SITAWARE_STARTUP_RUNS=10` repeats the scenario (the issue's ten back-to-back runs).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter

import pytest

from tests.conftest import isolated_topics
from tests.pipeline.conftest import Feed, Worker, poll
from tests.pipeline.startup_burst import StartupBurst

RUNS = int(os.environ.get("SITAWARE_STARTUP_RUNS", "1"))
DELAYS_S = (0.0, 4.0, 20.0, 9.0, 2.0, 6.0, 12.0, 1.0, 7.0, 15.0)
WITHIN_S = 60.0


def _burst_meets_joining_worker(settings, tmp_path, run: int, datadir=None) -> Worker:
    """Start a worker, produce a burst while it joins, assert what must come out; returns
    the (still running) worker."""
    burst = StartupBurst()
    feed = Feed(settings)
    try:
        for topic, key, value in burst.reference():
            feed.send(topic, key, value)
        feed.flush()
        seen_before = {(r.partition, r.offset) for r in feed.read_all("situations")} if datadir else set()
        worker = Worker(settings, tmp_path)
        if datadir is not None:
            worker.datadir = datadir  # the state of the worker before it on this machine
        super(Worker, worker).start()  # not waiting for it to be ready: the burst meets it joining
        try:
            return _meet(burst, feed, worker, run, seen_before)
        except BaseException:
            worker.stop()  # a failed run leaves no worker behind to load the next ones
            raise
    finally:
        feed.close()


def _meet(burst, feed, worker, run, seen_before) -> Worker:
    delay = float(os.environ.get("SITAWARE_STARTUP_DELAY_S", DELAYS_S[run % len(DELAYS_S)]))
    time.sleep(delay)  # the joining phase this run meets (not a wait for a condition)
    for topic, key, value in burst.feeds():
        feed.send(topic, key, value)
    feed.flush()
    sent_at = time.monotonic()
    want = burst.expected()

    def situations():
        return [json.loads(r.value) for r in feed.read_all("situations") if (r.partition, r.offset) not in seen_before]

    def complete():
        got = Counter(burst.occurrence(s) for s in situations())
        return all(got[k] >= n for k, n in want.items())

    try:
        poll(complete, timeout=WITHIN_S + 90, interval=1.0, message="every expected situation")
    finally:
        took = time.monotonic() - sent_at
        found = situations()
        got = Counter(burst.occurrence(s) for s in found)
        missing = {k: n for k, n in want.items() if got[k] < n}
        health = worker.health() or {}
        assert not missing, (
            f"run {run}: missing after {took:.0f}s: {sorted(missing)}; "
            f"stream time {health.get('stream_time')}, holds {health.get('holds')}; "
            f"late {[(r.key, dict(r.headers).get('dlq.origin.topic')) for r in feed.read_all('late-events')]}; "
            f"dead {[(r.key, dict(r.headers).get('dlq.error.class')) for r in feed.read_all('dead-letters')]}; "
            f"log {worker.log}")
    assert took <= WITHIN_S, f"run {run}: the last expected situation came {took:.0f}s after the burst"
    # Each occurrence once: one event_id, sent once (no run here has a fault).
    ids = Counter(s["event_id"] for s in found if burst.occurrence(s) in want)
    assert all(n == 1 for n in ids.values()), {i: n for i, n in ids.items() if n > 1}
    assert Counter(burst.occurrence(s) for s in found if burst.occurrence(s) in want) == want
    assert not feed.read_all("dead-letters")
    return worker


@pytest.mark.parametrize("run", range(RUNS))
def test_a_fresh_worker_releases_every_hold_of_a_burst_it_joins_during(stack_settings, tmp_path, run):
    with isolated_topics(stack_settings, "s", topic_partitions=8, feed_idle_s=10.0) as settings:
        _burst_meets_joining_worker(settings, tmp_path, run).stop()


@pytest.mark.parametrize("run", range(RUNS))
def test_a_worker_that_rejoins_its_group_releases_every_hold(stack_settings, tmp_path, run):
    """As above, on a group and state a worker before it left (stopped) after a burst of
    its own: the partitions are taken over with offsets committed and old records in them."""
    with isolated_topics(stack_settings, "r", topic_partitions=8, feed_idle_s=10.0) as settings:
        first = _burst_meets_joining_worker(settings, tmp_path, run + 1)
        first.stop()
        _burst_meets_joining_worker(settings, tmp_path, run, datadir=first.datadir).stop()

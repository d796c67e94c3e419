"""At-least-once with idempotent effects: a worker killed (-9) mid-stream and restarted, and a
full replay by a fresh app, change no event_id and no ClickHouse `FINAL` value."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime

import pytest

from tests.pipeline.city import (
    assert_flows_exact,
    assert_matches_truth,
    city_rows,
    clickhouse,
    produce_city,
    situation_records,
    wait_for_city,
)
from tests.pipeline.conftest import poll

# Open defect (issue 3): in the last clean-clone runs these passed in one run and failed in
# the next, with no error in the worker logs; under investigation. A pass shows as XPASS.
RESTART_FLAKY = pytest.mark.xfail(reason="intermittent on the clean-clone run (issue 3)", strict=False)


def _run_with_a_crash(settings, worker_factory, feed, records):
    first = worker_factory(settings)
    truth = produce_city(settings, records, seed=23)
    poll(lambda: len(situation_records(feed)) >= 10, timeout=120, message="the run to be under way")
    first.kill()  # mid-stream, no clean shutdown: offsets and state as a crash leaves them
    second = worker_factory(settings)  # same app: recovers tables from changelogs
    found = wait_for_city(feed, second, truth, records)
    return second, truth, found


@RESTART_FLAKY
def test_a_worker_killed_mid_stream_loses_and_doubles_nothing(run_settings, worker_factory, feed, tmp_path):
    settings = run_settings.model_copy(update={"feed_idle_s": 10.0})
    records = tmp_path / "records"
    _, truth, found = _run_with_a_crash(settings, worker_factory, feed, records)
    assert_matches_truth(found, truth)  # every injected situation exactly once, no other
    expected, snapshot = city_rows(settings, records)
    client = clickhouse(settings)
    poll(lambda: snapshot(client)["counts"] == dict(expected), timeout=120,
         message="alarm_counts_1m FINAL equal to the produced alarms")
    assert_flows_exact(settings, records)


def _sink_rows(worker, table: str) -> float:
    """Rows the worker's sink has written to `table` (its /metrics)."""
    prefix = f'sitaware_sink_rows_total{{table="{table}"}} '
    lines = [line for line in worker.metrics().splitlines() if line.startswith(prefix)]
    return float(lines[0][len(prefix):]) if lines else 0.0


def _settled(records, end) -> Counter:
    """event_id -> times sent, for situations the data itself decides (event_time up to the
    end of the run); later ones come from stream time advancing with the wall clock in a
    quiet city, and depend on how long a worker has been left running."""
    situations = (json.loads(r.value) for r in records)
    return Counter(s["event_id"] for s in situations if datetime.fromisoformat(s["event_time"]) <= end)


@RESTART_FLAKY
def test_a_replay_from_the_start_gives_the_same_ids_and_rows(run_settings, worker_factory, feed, tmp_path):
    settings = run_settings.model_copy(update={"feed_idle_s": 10.0})
    records = tmp_path / "records"
    worker = worker_factory(settings)
    truth = produce_city(settings, records, seed=29)
    end = datetime.fromisoformat(truth["end"])
    wait_for_city(feed, worker, truth, records)
    expected, snapshot = city_rows(settings, records)
    client = clickhouse(settings)
    before = poll(lambda: (s := snapshot(client))["counts"] == dict(expected) and s, timeout=120,
                  message="alarm_counts_1m FINAL equal to the produced alarms")
    worker.stop()
    first_run = feed.read_all("situations")
    ids_before = _settled(first_run, end)
    seen = {(r.partition, r.offset) for r in first_run}

    # Replay: a new app id reads every input from the start with empty state.
    replay = worker_factory(settings.model_copy(update={"app_id": f"{settings.topic_prefix}replay"}))

    def replayed():
        again = _settled([r for r in feed.read_all("situations") if (r.partition, r.offset) not in seen], end)
        return again if set(again) >= set(ids_before) else None

    try:
        ids_again = poll(replayed, timeout=240, message="the replay to re-emit every situation")
    except AssertionError:
        again = _settled([r for r in feed.read_all("situations") if (r.partition, r.offset) not in seen], end)
        missing = [json.loads(r.value) for r in first_run if json.loads(r.value)["event_id"] in set(ids_before) - set(again)]
        raise AssertionError(f"not re-emitted: {[(s['type'], s['subject'], s['event_time']) for s in missing]}") from None
    assert set(ids_again) == set(ids_before), "a replay must not invent new event_ids"
    # The replay's own rows reached ClickHouse: at least one per received alarm (raw row
    # counts cannot tell, background merges collapse the duplicates).
    received = sum(expected.values())
    poll(lambda: _sink_rows(replay, "alarm_counts_1m") >= received, timeout=120,
         message="the replay's alarm_counts_1m rows to reach ClickHouse")
    after = snapshot(client)
    assert after["counts"] == before["counts"] == dict(expected)
    assert after["lifecycle"] == before["lifecycle"]
    assert_flows_exact(settings, records)

"""At-least-once with idempotent effects: a full replay by a fresh app changes no event_id and
no ClickHouse `FINAL` value. (Workers killed mid-stream: test_worker_faults.py.)"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime

import pytest

from tests.pipeline.city import (
    arrivals_in_lifecycle,
    assert_flows_exact,
    city_rows,
    clickhouse,
    detected_arrivals,
    expected_arrivals,
    produce_city,
    wait_for_city,
)
from tests.pipeline.conftest import poll


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


@pytest.mark.timeout(1800)  # two full runs of a simulated city
def test_a_replay_from_the_start_gives_the_same_ids_and_rows(run_settings, worker_factory, feed, tmp_path):
    settings = run_settings.model_copy(update={"feed_idle_s": 10.0})
    records = tmp_path / "records"
    worker = worker_factory(settings)
    truth = produce_city(settings, records, seed=29)
    end = datetime.fromisoformat(truth["end"])
    found = wait_for_city(feed, worker, truth, records)
    assert detected_arrivals(found) == expected_arrivals(records)
    expected, snapshot = city_rows(settings, records)
    client = clickhouse(settings)
    # The first run is complete, arrivals in the lifecycle included, before it is stopped.
    before = poll(lambda: (s := snapshot(client))["counts"] == dict(expected) and arrivals_in_lifecycle(s, found)
                  and s, timeout=120,
                  message="alarm_counts_1m FINAL equal to the produced alarms, every detected arrival in alarm_lifecycle")
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
        ids_again = poll(replayed, timeout=600, message="the replay to re-emit every situation")
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

"""Issue 6, item 3: the Kafka broker stops mid-stream and comes back; the worker recovers by
itself (the same process, never restarted) and nothing is lost or counted twice."""

from __future__ import annotations

import time

from tests.faults.conftest import JUDGED_S, hold_outage, kill_9, wait_run_judged, wait_under_way
from tests.pipeline.city import (
    assert_flows_exact,
    assert_matches_truth,
    city_rows,
    clickhouse,
    produce_city,
    wait_for_city,
)
from tests.pipeline.conftest import poll

OUTAGE_S = 15.0


def test_worker_rides_out_a_broker_restart_without_loss_or_doubles(private_stack, fault_settings, worker, feed, tmp_path):
    records = tmp_path / "records"
    truth = produce_city(fault_settings, records, seed=31)
    took = wait_under_way(worker, truth)

    broker = private_stack.kafka
    kill_9(broker)  # no clean shutdown: connections reset, nothing flushed by the broker
    hold_outage(OUTAGE_S, time.monotonic(), worker)
    broker.start()
    broker.wait_healthy()
    print(f"under way after {took:.0f}s; broker down {OUTAGE_S:.0f}s; "
          f"the run judged {wait_run_judged(worker, truth):.0f}s after the broker came back")
    found = wait_for_city(feed, worker, truth, records, timeout=JUDGED_S)
    assert_matches_truth(found, truth)  # every injected situation exactly once, no other
    expected, snapshot = city_rows(fault_settings, records)
    client = clickhouse(fault_settings)
    poll(lambda: snapshot(client)["counts"] == dict(expected), timeout=120,
         message="alarm_counts_1m FINAL equal to the produced alarms")
    assert_flows_exact(fault_settings, records)
    assert worker.alive(), "the worker must recover by itself, not exit"

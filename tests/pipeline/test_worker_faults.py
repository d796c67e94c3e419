"""Worker faults on the real stack (issue 6): kill -9 three times in one simulated run; two
workers sharing partitions, one frozen past its session timeout, then the other stopped.
Each run is checked against ground truth recomputed from the produced records: every
injected situation exactly once, every arrival the positions show, ClickHouse `FINAL`
aggregates exact, and each subscriber's alerts exactly the matching situations, by alert_id."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import datetime, timedelta

import pytest

from streams.alerts import alert_id
from tests.pipeline.city import (
    assert_flows_exact,
    assert_matches_truth,
    city_rows,
    city_start,
    clickhouse,
    detected_arrivals,
    expected_arrivals,
    produce_city,
    wait_for_city,
)
from tests.pipeline.conftest import poll
from tests.pipeline.test_alert_pipeline import SECRET, Receiver

ALERTED = ["arrival_mismatch", "response_overdue", "unit_offline", "coverage_gap"]


@pytest.fixture
def receiver():
    r = Receiver(fail_first=0)
    yield r
    r.server.shutdown()


def _subscribe(feed, receiver) -> None:
    common = {"owner": "duty-officer", "types": ALERTED, "cooldown_s": 0}
    feed.send("subscriptions", "faults-kafka", {"subscription_id": "faults-kafka", "name": "faults kafka",
                                                "channel": "kafka", **common})
    feed.send("subscriptions", "faults-hook", {"subscription_id": "faults-hook", "name": "faults webhook",
                                               "channel": "webhook", "webhook_url": receiver.url + "/hook",
                                               "webhook_secret": SECRET, **common})
    feed.flush()


def _settings(run_settings, **updates):
    return run_settings.model_copy(update={"feed_idle_s": 10.0, "webhook_allow_private": True,
                                           "webhook_base_delay_s": 0.05, **updates})


def _assert_exact(settings, feed, receiver, worker, found: dict, truth: dict, records) -> None:
    assert_matches_truth(found, truth)  # each injected situation exactly once (one event_id)
    assert detected_arrivals(found) == expected_arrivals(records)
    expected, snapshot = city_rows(settings, records)
    client = clickhouse(settings)
    poll(lambda: snapshot(client)["counts"] == dict(expected), timeout=120,
         message="alarm_counts_1m FINAL equal to the produced alarms")
    assert_flows_exact(settings, records)
    # Each subscriber gets each matching situation's alert, under one alert_id; a crash may
    # deliver one twice (at least once), and that copy carries the same id.
    wanted = [s["event_id"] for s in found.values() if s["type"] in ALERTED]
    assert wanted, "the run has situations to alert on"
    kafka_expected = {alert_id("faults-kafka", e) for e in wanted}
    hook_expected = {alert_id("faults-hook", e) for e in wanted}

    def kafka_alerts():
        return Counter(json.loads(r.value)["alert_id"] for r in feed.read_all("alerts.faults-kafka"))

    types = {alert_id(sid, s["event_id"]): (sid, s["type"], s["subject"])
             for s in found.values() for sid in ("faults-kafka", "faults-hook") if s["type"] in ALERTED}

    def missing(got) -> str:
        alerts = [line for line in worker.metrics().splitlines() if line.startswith("sitaware_alerts_total")]
        return f"missing {[types[a] for a in set(types) - set(got)]}; worker: {alerts}, {worker.health()}"

    try:
        got = poll(lambda: set(a := kafka_alerts()) >= kafka_expected and a, timeout=120,
                   message="every Kafka alert")
        hooks = poll(lambda: set(d := receiver.delivered("/hook")) >= hook_expected and d, timeout=120,
                     message="every webhook alert")
    except AssertionError as exc:  # name what was lost
        raise AssertionError(f"{exc}: {missing(set(kafka_alerts()) | set(receiver.delivered('/hook')))}") from exc
    assert set(got) == kafka_expected
    assert set(hooks) == hook_expected
    assert all(body["alert_id"] == i for i, body in hooks.items())


def _assigned(worker) -> int:
    """Partitions the worker holds (0 while its /health does not answer, e.g. mid-rebalance)."""
    return (worker.health() or {}).get("assigned_partitions", 0)


@pytest.mark.timeout(1800)  # several minutes of a simulated city on a loaded 2-core machine
def test_three_kills_in_one_simulated_run_lose_and_double_nothing(run_settings, worker_factory, feed,
                                                                   receiver, tmp_path):
    settings = _settings(run_settings)
    records = tmp_path / "records"
    _subscribe(feed, receiver)
    worker = worker_factory(settings)
    # Paced (40x: 40 min of city in a minute), so that every feed, alarms included, is
    # still flowing at each kill, and records are re-delivered on every path.
    start, truth = city_start(), {}
    producing = threading.Thread(target=lambda: truth.update(
        produce_city(settings, records, seed=31, duration="40m", speed=40, start=start)))
    producing.start()
    try:
        for minutes in (10, 20, 30):  # kill -9 when stream time passes each quarter of the run
            poll(lambda: (t := worker.stream_time()) and t >= start + timedelta(minutes=minutes),
                 timeout=600, message=f"stream time to pass minute {minutes}")
            worker.kill()
            worker = worker_factory(settings)  # same app id: tables recover from changelogs
    finally:
        producing.join()
    found = wait_for_city(feed, worker, truth, records)
    _assert_exact(settings, feed, receiver, worker, found, truth, records)


@pytest.mark.timeout(1800)
def test_a_frozen_worker_and_a_stopped_one_lose_and_double_nothing(run_settings, worker_factory, feed,
                                                                    receiver, tmp_path):
    session_s = 10.0
    settings = _settings(run_settings, worker_session_timeout_s=session_s)
    records = tmp_path / "records"
    _subscribe(feed, receiver)
    first, second = worker_factory(settings), worker_factory(settings)
    poll(lambda: first.ready() and second.ready(), timeout=90, message="the two workers to share the partitions")
    truth = produce_city(settings, records, seed=37, duration="30m")
    start = datetime.fromisoformat(truth["end"]) - timedelta(minutes=30)
    poll(lambda: (t := first.stream_time()) and t >= start + timedelta(minutes=8), timeout=600,
         message="the run to be under way")
    # Frozen past its session timeout: the group gives its partitions to the other worker;
    # when it thaws it has lost them, and what it still sends must not double anything.
    share = _assigned(second)
    first.pause()
    try:
        poll(lambda: _assigned(second) > share, timeout=120,
             message="the other worker to take over the frozen one's partitions")
    finally:
        first.resume()
    poll(lambda: (t := second.stream_time()) and t >= start + timedelta(minutes=18), timeout=600,
         message="the run to go on")
    second.stop()  # a clean stop mid-stream: the first worker takes everything over
    found = wait_for_city(feed, first, truth, records)
    assert first.alive()
    _assert_exact(settings, feed, receiver, first, found, truth, records)

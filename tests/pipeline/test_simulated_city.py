"""The simulated city end to end: every injected situation appears exactly once (one event_id),
a control run without injections produces none of the injected kinds, `checkpoint_flow_1m`
FINAL equals the produced passes, and no plate or caller phone reaches ClickHouse."""

from __future__ import annotations

import pytest

from tests.pipeline.city import (
    INJECTED_KINDS,
    assert_flows_exact,
    assert_matches_truth,
    assert_no_personal_data,
    produce_city,
    wait_for_city,
)


@pytest.mark.parametrize("scenario", ["all", "none"])
def test_simulated_city_matches_ground_truth(scenario, run_settings, worker_factory, feed, tmp_path):
    # A feed is released as idle after 10 s without records: long enough that a partition
    # the loaded worker has not reached yet is not mistaken for an idle one.
    settings = run_settings.model_copy(update={"feed_idle_s": 10.0})
    worker = worker_factory(settings)
    truth = produce_city(settings, tmp_path / "records", scenario)
    injected = {i["type"] for i in truth["injections"]}
    assert injected == (set() if scenario == "none" else set(INJECTED_KINDS)), truth["skipped"]
    found = wait_for_city(feed, worker, truth, tmp_path / "records")
    assert_matches_truth(found, truth)
    assert_flows_exact(settings, tmp_path / "records")
    if scenario == "all":
        assert_no_personal_data(settings, tmp_path / "records")
    assert worker.alive()

"""Fixtures of the fuzz tests: one real worker on topics of its own for a whole module
(hypothesis runs many examples against it), and the API server of tests/api."""

from __future__ import annotations

import pytest

from tests.api.conftest import api, api_settings  # noqa: F401  (re-exported fixtures)
from tests.conftest import isolated_topics
from tests.pipeline.conftest import Feed, Worker


@pytest.fixture(scope="module")
def fuzz_settings(stack_settings):
    with isolated_topics(stack_settings, "f", topic_partitions=2, feed_idle_s=3.0) as settings:
        yield settings


@pytest.fixture(scope="module")
def fuzz_feed(fuzz_settings):
    feed = Feed(fuzz_settings)
    yield feed
    feed.close()


@pytest.fixture(scope="module")
def fuzz_worker_factory(fuzz_settings, tmp_path_factory):
    """Start the module's worker once its reference data is on the topics."""
    workers: list[Worker] = []

    def start() -> Worker:
        worker = Worker(fuzz_settings, tmp_path_factory.mktemp("fuzz-worker")).start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()

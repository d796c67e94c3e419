"""Fault tests: a PRIVATE stack (its own Kafka broker and ClickHouse server, own ports and
directory) that the tests may stop and start; the shared stack is never touched.

Each test module gets its own stack, so a broker or server left in a bad state by one
module cannot spoil the next.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from sitaware.settings import Settings, load_settings
from sitaware.stack.local import LocalStack
from tests.conftest import isolated_topics
from tests.pipeline.city import wait_stream_time
from tests.pipeline.conftest import Feed, Worker, _free_port, poll

# After stream time has passed the end of the run, the agents downstream of the clock
# (sectors above all) may still have a backlog to work off on 2 busy cores.
JUDGED_S = 240


@pytest.fixture(scope="module")
def private_stack(tmp_path_factory) -> LocalStack:
    settings = load_settings(
        stack_dir=tmp_path_factory.mktemp("private-stack"),
        stack_kafka_port=_free_port(),
        stack_kafka_controller_port=_free_port(),
        stack_clickhouse_port=_free_port(),
        stack_clickhouse_http_port=_free_port(),
    )
    stack = LocalStack(settings, log=lambda message: None)
    try:
        stack.up()  # starts both, creates the contract topics, applies the migrations
        yield stack
    finally:
        stack.down()


@pytest.fixture
def fault_settings(private_stack) -> Settings:
    """Client settings for the private stack, on topics of the test's own; a feed idle for
    3 s stops holding stream time back (as in the pipeline tests). Two partitions, not
    four: every partition gets its own stream-time ticks and watermark sends, and on 2
    busy cores that overhead decides how long the city takes."""
    with isolated_topics(private_stack.service_settings(), "f", topic_partitions=2, feed_idle_s=3.0) as settings:
        yield settings


@pytest.fixture
def worker(fault_settings, tmp_path) -> Worker:
    # The subprocess gets every setting through Settings.as_env(): the private ports too.
    w = Worker(fault_settings, tmp_path).start()
    yield w
    w.stop()


@pytest.fixture
def feed(fault_settings) -> Feed:
    f = Feed(fault_settings)
    yield f
    f.close()


def rss_mb(pid: int) -> float:
    """Resident set size of a process, in MiB (VmRSS of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


def wait_under_way(worker: Worker, truth: dict, minutes: float = 5.0) -> float:
    """Wait until the worker's stream time is `minutes` into the simulated run: a fault
    then hits a run in progress, with work done and work still to do."""
    return wait_stream_time(worker, datetime.fromisoformat(truth["start"]) + timedelta(minutes=minutes), 240)


def wait_run_judged(worker: Worker, truth: dict) -> float:
    """Wait until stream time passes the end of the run. On 2 busy cores the sector agent's
    backlog takes minutes to drain: a longer budget than `wait_for_city`'s own first step,
    which then returns at once."""
    return wait_stream_time(worker, datetime.fromisoformat(truth["end"]), 600)


def kill_9(part) -> None:
    """kill -9 a stack part (the broker or ClickHouse): no clean shutdown, its clients see
    their connections reset. Returns once the kernel has ended the process."""
    pid = part.process.pid()
    assert pid is not None, f"{part.process.name} is not running"
    os.kill(pid, signal.SIGKILL)
    poll(lambda: part.process.pid() is None, timeout=30, message=f"{part.process.name} to be gone")


def hold_outage(seconds: float, since: float, worker: Worker, sample=None, every: float = 1.0) -> list:
    """Keep a part down until `seconds` have passed since `since`, checking every `every`
    seconds that the worker still runs; `sample()` is called on each check and its values
    returned. The waiting is the outage itself, not a synchronisation."""
    samples = []
    while True:
        assert worker.alive(), f"the worker exited during the outage:\n{worker.log.read_text()[-3000:]}"
        if sample is not None:
            samples.append(sample())
        left = seconds - (time.monotonic() - since)
        if left <= 0:
            return samples
        time.sleep(min(every, left))


def settled(read, interval: float = 2.0, timeout: float = 30.0):
    """Poll `read()` until two reads `interval` seconds apart agree; return that value."""
    previous = [read()]

    def same():
        value = read()
        agreed, previous[0] = value == previous[0], value
        return (value,) if agreed else None

    return poll(same, timeout=timeout, interval=interval, message="a settled value")[0]

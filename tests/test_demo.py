"""`sitaware demo` end to end, as a user runs it (the README's main job), in a short run:
the demo's own city is never dead-lettered, every received alarm is judged by the fleet
join, the live view shows situations of at least five types, and the map's API answers."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from sitaware.bench.workers import free_port
from sitaware.demo import DEMO_PREFIX, demo_topics
from tests.conftest import _delete_prefixed_topics
from tests.pipeline.conftest import Feed, poll

TYPES = ("alarm_hotspot", "crowd_gathering", "dispatch_recommendation", "coverage_gap", "response_overdue",
         "arrival_detected", "arrival_mismatch", "unit_offline", "watchlist_hit", "suspect_near_incident",
         "cloned_plate", "flow_anomaly")
# 30 simulated minutes at 10x: three minutes of wall time, every injected type once.
DURATION, SPEED = "30m", 10


class Lines:
    """A child's output, read line by line in the background."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for raw in stream:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))


@pytest.mark.timeout(900)
def test_the_demo_judges_every_alarm_of_its_city_and_dead_letters_none(stack_settings):
    """As `make demo` runs it: no topic prefix set, so the demo makes topics of its own."""
    settings = stack_settings.model_copy(update={"topic_prefix": ""})
    worker_port, api_port = free_port(), free_port()
    env = {**os.environ, **settings.as_env(),
           "SITAWARE_WORKER_WEB_PORT": str(worker_port), "SITAWARE_API_PORT": str(api_port)}
    demo = subprocess.Popen([sys.executable, "-m", "sitaware.cli", "demo", "--duration", DURATION,
                             "--speed", str(SPEED)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    view, notes = Lines(demo.stdout), Lines(demo.stderr)
    feed = None
    try:
        prefix = poll(lambda: next((m.group(1) for line in notes.lines
                                    if (m := re.search(r"demo topics: (\S+)\*", line))), None),
                      timeout=180, message="the demo's topics")
        settings = settings.model_copy(update={"topic_prefix": prefix})
        feed = Feed(settings)
        map_url = poll(lambda: next((m.group(0) for line in notes.lines
                                     if (m := re.search(r"http://\S+/\?token=\S+", line))), None),
                       timeout=180, message="the demo's map address")
        started = time.monotonic()

        def shown_types():
            return {t for line in view.lines for t in TYPES if f" {t} " in line}

        first = poll(shown_types, timeout=120, message="a first situation in the live view")
        first_after = time.monotonic() - started
        token = map_url.rsplit("token=", 1)[1]
        base = map_url.split("/?", 1)[0]
        for path in ("/api/situations", "/api/units", "/api/cells"):
            request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(request, timeout=10) as answer:
                assert answer.status == 200 and json.loads(answer.read()) is not None, path

        # The city runs three minutes; then every received alarm must have been judged.
        simulated_s = 30 * 60 / SPEED

        def judged():
            if time.monotonic() - started < simulated_s:
                return None
            received = {json.loads(r.value)["alarm_id"] for r in feed.read_all("alarms")
                        if json.loads(r.value)["status"] == "received"}
            situations = [json.loads(r.value) for r in feed.read_all("situations")]
            fleet = {s["subject"] for s in situations if s["type"] in ("dispatch_recommendation", "coverage_gap")}
            return received and not received - fleet and received

        received = poll(judged, timeout=simulated_s + 120, interval=5, message="every received alarm judged")
        types = poll(lambda: len(shown_types()) >= 5 and shown_types(), timeout=60,
                     message=f"five situation types in the live view (saw {shown_types()})")
        dead = feed.read_all("dead-letters")
        assert not dead, [dict(r.headers) for r in dead[:5]]
        print(f"first situation {first_after:.0f}s after the map came up ({sorted(first)}); "
              f"{len(received)} alarms judged; types shown: {sorted(types)}")
        assert first_after <= 60
    finally:
        os.killpg(demo.pid, signal.SIGINT)  # Ctrl-C, as a user stops it
        try:
            demo.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
        if feed is not None:
            feed.close()
            _delete_prefixed_topics(settings)


def test_each_demo_run_has_topics_of_its_own_and_removes_the_earlier_ones(stack_settings):
    """A demo replayed from the past on an earlier run's topics would be late from its first
    record (stream time is seeded from the feeds' last records)."""
    from kafka import KafkaAdminClient

    first = demo_topics(stack_settings.model_copy(update={"topic_prefix": ""}))
    second = demo_topics(stack_settings.model_copy(update={"topic_prefix": ""}))
    admin = KafkaAdminClient(**stack_settings.kafka_python_config())
    try:
        def topics():
            return {t for t in admin.list_topics() if t.startswith(DEMO_PREFIX)}

        assert first.topic_prefix != second.topic_prefix and first.topic_prefix.startswith(DEMO_PREFIX)
        assert second.topic("alarms") in topics() and second.topic("patrol-gps") in topics()
        poll(lambda: not any(t.startswith(first.topic_prefix) for t in topics()), timeout=30,
             message="the earlier demo's topics removed")
    finally:
        admin.close()
        _delete_prefixed_topics(second)

"""End to end on the real stack: subscriptions on the `subscriptions` topic, alerts to a real
HTTP receiver (signed, retried, exactly once by webhook-id), to `alerts.<id>` topics, with
cooldown, and a 410 that disables its subscription."""

from __future__ import annotations

import json
import random
import threading
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sinks.webhooks import verify
from tests.pipeline.conftest import poll
from tests.pipeline.test_alarm_pipeline import _alarm, _reader
from topics.geo import geohash

SECRET = "whsec_" + "c2l0YXdhcmUtdGVzdC1zZWNyZXQ="


class Receiver:
    """A webhook receiver: fails each webhook-id's first `fail_first` attempts with 503;
    answers 410 on /gone. Records every request."""

    def __init__(self, fail_first: int = 2):
        self.requests: list[tuple[str, dict, bytes]] = []
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["content-length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.requests.append((self.path, headers, body))
                seen = sum(1 for p, h, _ in receiver.requests if h["webhook-id"] == headers["webhook-id"])
                code = 410 if self.path == "/gone" else (503 if seen <= receiver.fail_first else 200)
                self.send_response(code)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def delivered(self, path: str) -> dict[str, dict]:
        """webhook-id -> alert body of the requests answered 200 on `path`."""
        attempts = defaultdict(int)
        out = {}
        for p, headers, body in self.requests:
            if p == path:
                attempts[headers["webhook-id"]] += 1
                if attempts[headers["webhook-id"]] > self.fail_first:
                    out[headers["webhook-id"]] = json.loads(body)
        return out


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()


def _subscription(sid: str, channel: str, **fields) -> dict:
    return {"subscription_id": sid, "name": f"test {sid}", "owner": "duty-officer", "channel": channel,
            "types": ["coverage_gap"], "cooldown_s": 0, **fields}


def test_alerts_reach_webhooks_and_kafka_once_with_cooldown_and_410(run_settings, worker_factory, feed, receiver):
    settings = run_settings.model_copy(update={"webhook_allow_private": True, "webhook_base_delay_s": 0.05})
    subscriptions = [
        _subscription("hook", "webhook", webhook_url=receiver.url + "/hook", webhook_secret=SECRET),
        _subscription("stream", "kafka"),
        _subscription("quiet", "kafka", cooldown_s=3600),
        _subscription("gone", "webhook", webhook_url=receiver.url + "/gone", webhook_secret=SECRET),
        _subscription("hotspots", "kafka", types=["alarm_hotspot"]),
    ]
    for s in subscriptions:
        feed.send("subscriptions", s["subscription_id"], s)
    feed.flush()
    worker_factory(settings)
    # Four alarms far from any unit: four coverage gaps; three share one cell.
    while True:  # three alarms in one grid cell, one in another
        lat, lon = 31.1 + random.random() * 0.2, 121.3 + random.random() * 0.2
        alarms = [_alarm("G1", 0, lat, lon), _alarm("G2", 1, lat + 0.0005, lon),
                  _alarm("G3", 2, lat, lon + 0.0005), _alarm("G4", 3, lat + 0.05, lon + 0.05)]
        if len({geohash(a["lat"], a["lon"]) for a in alarms[:3]}) == 1:
            break
    for a in alarms:
        feed.send("alarms", a["alarm_id"], a)
    feed.flush()

    def alerts(sid):
        return [json.loads(r.value) for r in feed.read_all(f"alerts.{sid}")] if _exists(feed, f"alerts.{sid}") else []

    def gaps():
        found = [json.loads(r.value) for r in feed.read_all("situations")]
        return {s["event_id"]: s for s in found if s["type"] == "coverage_gap"}

    gap_ids = set(poll(lambda: len(g := gaps()) == 4 and g, timeout=90, message="four coverage gaps"))

    # Webhook: each matching alert delivered once, after two failed attempts, signed.
    delivered = poll(lambda: len(d := receiver.delivered("/hook")) == 4 and d, timeout=90,
                     message="four webhook deliveries")
    assert {a["event"]["event_id"] for a in delivered.values()} == gap_ids
    for path, headers, body in receiver.requests:
        if path == "/hook":
            assert verify(SECRET, headers, body)
            assert json.loads(body)["alert_id"] == headers["webhook-id"]
    assert Counter(h["webhook-id"] for p, h, _ in receiver.requests if p == "/hook") == {i: 3 for i in delivered}

    # Kafka channel: exactly the matching alerts; cooldown keeps one per cell.
    stream = poll(lambda: len(a := alerts("stream")) >= 4 and a, timeout=60, message="kafka alerts")
    assert {a["event"]["event_id"] for a in stream} == gap_ids
    assert len({a["alert_id"] for a in stream}) == 4
    quiet = poll(lambda: len(a := alerts("quiet")) >= 2 and a, timeout=60, message="alerts past the cooldown")
    assert len({a["event"]["cell"] for a in quiet}) == 2 and len({a["alert_id"] for a in quiet}) == 2
    assert alerts("hotspots") == []

    # 410: one request, then the subscription is re-published disabled and gets no more.
    def disabled():
        latest = {}
        for r in feed.read_all("subscriptions"):
            latest[r.key.decode()] = json.loads(r.value)
        return latest["gone"]["enabled"] is False and latest["gone"]

    assert poll(disabled, timeout=60, message="the 410 subscription disabled")["disabled_reason"]
    assert len([p for p, _, _ in receiver.requests if p == "/gone"]) == 1

    # Every delivered alert is a row in alert_deliveries.
    ids = tuple({a["alert_id"] for a in stream} | set(delivered))
    rows = poll(lambda: len(r := _reader(run_settings).execute(
        "SELECT alert_id, channel, status, attempts FROM alert_deliveries FINAL WHERE alert_id IN %(ids)s",
        {"ids": ids})) == len(ids) and r, timeout=60, message="alert_deliveries rows")
    assert {(c, s) for _, c, s, _ in rows} == {("webhook", "delivered"), ("kafka", "delivered")}
    assert {a for i, c, _, a in rows if c == "webhook"} == {3}


def _exists(feed, topic: str) -> bool:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=feed.settings.bootstrap_servers)
    try:
        return feed.settings.topic(topic) in consumer.topics()
    finally:
        consumer.close()

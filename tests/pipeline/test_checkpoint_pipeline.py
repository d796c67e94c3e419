"""End to end on the real stack: checkpoint passes against live reference data — watch-list
changes take effect on the next pass without a restart; unknown checkpoints are dead
letters (stage `reference`); plates stay out of ClickHouse."""

from __future__ import annotations

import json
import random
from datetime import timedelta

from tests.pipeline.conftest import poll
from tests.pipeline.test_alarm_pipeline import BASE, _reader

PLATE = "沪A" + "".join(random.choice("0123456789") for _ in range(5))
CP = f"CP{random.randrange(16**8):08x}"  # ClickHouse is shared by every run: rows of our own


def _pass(pass_id: str, minutes: float, checkpoint_id: str = CP, plate: str = PLATE, **extra) -> dict:
    return {"pass_id": pass_id, "checkpoint_id": checkpoint_id, "ts": (BASE + timedelta(minutes=minutes)).isoformat(),
            "plate": plate, "plate_color": "blue", "vehicle_type": "car", "speed_kmh": 50.0, **extra}


def _read_to(worker, feed, topic: str, metadata) -> None:
    """Wait until the worker has read the reference topic up to and including that record."""
    name = feed.settings.topic(topic)

    def done():
        reference = (worker.health() or {}).get("reference", {})
        return reference.get(name, {}).get("read_to", {}).get(str(metadata.partition), 0) > metadata.offset

    poll(done, timeout=30, message=f"the worker to read {topic} up to offset {metadata.offset}")


def _processed(worker, metadata) -> None:
    """Wait until the worker has admitted the pass (before the next watch-list change)."""
    def done():
        feeds = (worker.health() or {}).get("feeds", [])
        return any(f["feed"] == "checkpoint-passes" and f["partition"] == metadata.partition
                   and f["offset"] is not None and f["offset"] >= metadata.offset for f in feeds)

    poll(done, timeout=30, message=f"the worker to process the pass at offset {metadata.offset}")


def _hits(feed) -> dict[str, dict]:
    found = [json.loads(r.value) for r in feed.read_all("situations")]
    return {s["evidence"][0]: s for s in found if s["type"] == "watchlist_hit"}


def test_watchlist_changes_take_effect_on_the_next_pass(run_settings, worker_factory, feed):
    lat, lon = 31.1 + random.random() * 0.2, 121.3 + random.random() * 0.2
    feed.send("checkpoints", CP, {"checkpoint_id": CP, "name": "测试卡口", "lat": lat, "lon": lon,
                                     "district": "浦东新区"})
    feed.flush()
    worker = worker_factory()
    steps = [
        # (watch-list change or None, pass, expected hit level or None)
        (None, _pass("P1", 0), None),
        ({"plate": PLATE.lower(), "level": 2, "reason": "盗抢车辆"}, _pass("P2", 1, plate=PLATE.lower()), 2),
        ({"plate": PLATE, "level": 3, "reason": "涉嫌暴力犯罪车辆"}, _pass("P3", 2), 3),
        ({"plate": PLATE, "level": 3, "reason": "x", "plate_color": "yellow"}, _pass("P4", 3), None),
        ({"plate": PLATE, "level": 1, "reason": "x", "expires_at": (BASE + timedelta(minutes=4)).isoformat()},
         _pass("P5", 4), None),
        ({"plate": PLATE, "level": 1, "reason": "x"}, _pass("P6", 5), 1),
        ("tombstone", _pass("P7", 6), None),
    ]
    for change, passage, _ in steps:
        if change is not None:
            value = None if change == "tombstone" else change
            metadata = feed.send("watchlist", PLATE, value).get(timeout=10)
            _read_to(worker, feed, "watchlist", metadata)
        _processed(worker, feed.send("checkpoint-passes", CP, passage).get(timeout=10))
    feed.send("checkpoint-passes", "CP9", _pass("P8", 7, checkpoint_id="CP9")).get(timeout=10)
    last = _pass("P9", 8)
    feed.send("checkpoint-passes", CP, last).get(timeout=10)

    expected = {p["pass_id"]: level for _, p, level in steps if level is not None}
    try:
        poll(lambda: set(_hits(feed)) >= set(expected), timeout=60, message="the watch-list hits")
    except AssertionError:
        raise AssertionError(f"hits for {sorted(_hits(feed))}, expected {sorted(expected)}; "
                             f"dead letters {[dict(r.headers) for r in feed.read_all('dead-letters')]}") from None
    # The last pass is processed after every earlier one (same partition): then nothing else may come.
    poll(lambda: _flow_rows(run_settings).get(CP, 0) == 8, timeout=60, message="every pass counted")
    hits = _hits(feed)
    assert {k: int(s["metrics"]["level"]) for k, s in hits.items()} == expected
    assert {s["severity"] for s in hits.values()} == {"medium", "high", "critical"}
    assert all(s["subject"] == PLATE for s in hits.values())

    dead = poll(lambda: [r for r in feed.read_all("dead-letters")], timeout=30, message="the unknown checkpoint's pass")
    (record,) = dead
    headers = {k: v.decode() for k, v in record.headers}
    assert (headers["dlq.error.stage"], headers["dlq.error.class"]) == ("reference", "UnknownCheckpoint")
    assert json.loads(record.value)["pass_id"] == "P8"

    # ClickHouse gets the plate's pseudonym, never the plate.
    rows = _reader(run_settings).execute(
        "SELECT subject, summary FROM situations WHERE type = 'watchlist_hit' AND event_id IN %(ids)s",
        {"ids": tuple(s["event_id"] for s in hits.values())})
    assert len(rows) >= len(expected)
    assert all(PLATE not in subject + summary and PLATE.lower() not in summary for subject, summary in rows)
    assert all(len(subject) == 64 for subject, _ in rows)


def _flow_rows(settings) -> dict[str, int]:
    rows = _reader(settings).execute(
        "SELECT checkpoint_id, sum(passes) FROM checkpoint_flow_1m FINAL "
        "WHERE minute >= %(first)s AND minute <= %(last)s GROUP BY checkpoint_id",
        {"first": BASE.replace(tzinfo=None) - timedelta(hours=9), "last": BASE.replace(tzinfo=None) + timedelta(hours=9)})
    return dict(rows)

"""Property on the real stack: one real worker gets a hypothesis-generated mix of broken
records on every input topic (feeds and reference topics), interleaved with good alarms,
GPS pings and checkpoint passes. Afterwards the worker is still up, every broken record
is on `dead-letters` exactly once, unchanged, with the contract's headers and stage, and
every good record had its effect (ClickHouse rows, watch-list hits).

Records are matched to dead letters by their origin (topic, partition, offset), which the
producer learns when it sends them, so even arbitrary bytes are identified exactly.
"""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.conftest import writer_client
from tests.fuzz.records import TOPICS, identifiers, mutated_record, to_bytes, valid_record
from tests.pipeline.conftest import poll
from topics.geo import geohash

pytestmark = pytest.mark.stack

REFERENCE = ("checkpoints", "watchlist", "subscriptions")
FEEDS = ("alarms", "patrol-gps", "checkpoint-passes")
HEADERS = ("dlq.origin.topic", "dlq.origin.partition", "dlq.origin.offset", "dlq.error.stage",
           "dlq.error.class", "dlq.error.message")
RUN = uuid.uuid4().hex[:8]  # ClickHouse is shared by every run: ids of our own
CHECKPOINT = f"FZCP{RUN}"
WATCHED = f"FZ{RUN[:6]}".upper()  # a plate on the watch list (2..16 characters)


@dataclass
class Bad:
    topic: str
    key: bytes | None
    value: bytes | None
    stage: str | tuple[str, ...]  # the expected dlq.error.stage (or any of these)
    why: str
    pii: tuple[str, ...] = ()  # personal data the message must not echo


def _pii(value: bytes | None) -> tuple[str, ...]:
    try:
        record = json.loads(value)
    except (TypeError, ValueError):
        return ()
    if not isinstance(record, dict):
        return ()
    return tuple(v for k in ("plate", "caller_phone", "webhook_secret")
                 if isinstance(v := record.get(k), str) and len(v) >= 4)


feed_keys = st.one_of(st.none(), identifiers.map(str.encode), st.binary(min_size=1, max_size=8))


@st.composite
def broken_records(draw) -> Bad:
    topic = draw(st.sampled_from([*FEEDS, *REFERENCE]))
    spec = TOPICS[topic]
    # Compacted topics refuse records without a key: reference records always have one.
    key = draw(feed_keys) if topic in FEEDS else draw(identifiers).encode()
    ways = ["mutation", "mutation", "bytes"]
    ways += ["null_value"] if topic in FEEDS else ["non_utf8_key", "key_mismatch"]
    ways += ["unknown_checkpoint"] if topic == "checkpoint-passes" else []
    way = draw(st.sampled_from(ways))
    if way == "mutation":
        mutation = draw(mutated_record(spec).filter(lambda m: m.stage is not None))
        return Bad(topic, key, mutation.raw, mutation.stage, f"{mutation.kind} {mutation.field}",
                   _pii(mutation.raw))
    if way == "bytes":
        return Bad(topic, key, draw(st.binary(max_size=200)), ("decode", "validate"), "bytes")
    if way == "null_value":  # on a feed a null value is no record (on a reference topic it deletes)
        return Bad(topic, key or b"k", None, "decode", "null value")  # the client needs one of them
    record = draw(valid_record(spec))
    if way == "non_utf8_key":
        return Bad(topic, b"\xff" + key, to_bytes(record), "validate", "non-UTF-8 key", _pii(to_bytes(record)))
    if way == "key_mismatch":
        other = draw(identifiers.filter(lambda k: k != spec.key(record)))
        return Bad(topic, other.encode(), to_bytes(record), "validate", "key mismatch", _pii(to_bytes(record)))
    # A valid pass, on time (an old one would rightly go to late-events), at no known checkpoint.
    record.update(checkpoint_id=f"FZUNKNOWN{RUN}", ts=_now())
    return Bad(topic, key, to_bytes(record), "reference", "unknown checkpoint", _pii(to_bytes(record)))


# Found by fuzzing, sent in every example: a reference key that is not UTF-8 crashed the
# reference follower (which then started over, forever); an instant beyond datetime's range
# in UTC escaped decoding as OverflowError; a far-future ts held stream time hostage.
REGRESSIONS = [
    Bad("watchlist", b"\xffFZ", b'{"plate": "FZ", "level": 1, "reason": "r"}', "validate", "non-UTF-8 key"),
    Bad("alarms", b"FZ", b'{"alarm_id": "FZ", "status": "closed", "ts": "0001-01-01T00:00:00+01:00"}',
        "validate", "instant out of range"),
    Bad("watchlist", b"FZ2", b'{"plate": "FZ2", "level": 1, "reason": "r", "expires_at": "9999-12-31T23:59:59-01:00"}',
        "validate", "instant out of range"),
    # A valid record from a producer whose clock is years ahead: it would carry stream time
    # there and make every later record late (SITAWARE_MAX_AHEAD_S).
    Bad("alarms", b"FZ-AHEAD", b'{"alarm_id": "FZ-AHEAD", "status": "received", "ts": "2099-01-01T00:00:00Z", '
        b'"lat": -60.5, "lon": 100.5, "category": "theft", "priority": 2}', "validate", "ts years ahead"),
]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class Good:
    """Known-good records and what the worker must have made of them."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.alarms: list[str] = []
        self.cells: list[str] = []
        self.passes: list[str] = []
        self.watched_passes: list[str] = []

    def _remote_place(self) -> tuple[float, float]:
        # The southern ocean: no simulated city and no other test puts anything there.
        return -60 + self.rng.random() * 10, -170 + self.rng.random() * 340

    def alarm(self) -> tuple[str, str, dict]:
        alarm_id = f"FZA{RUN}-{len(self.alarms)}"
        self.alarms.append(alarm_id)
        lat, lon = self._remote_place()
        return "alarms", alarm_id, {"alarm_id": alarm_id, "status": "received", "ts": _now(), "lat": lat,
                                    "lon": lon, "category": "other", "priority": 3,
                                    "caller_phone": "13800138000"}

    def ping(self) -> tuple[str, str, dict]:
        while True:
            lat, lon = self._remote_place()
            if geohash(lat, lon) not in self.cells:
                break
        self.cells.append(geohash(lat, lon))
        unit_id = f"FZU{RUN}-{len(self.cells)}"
        return "patrol-gps", unit_id, {"unit_id": unit_id, "ts": _now(), "lat": lat, "lon": lon,
                                       "unit_type": "police_car", "status": "available", "speed_kmh": 30.0}

    def checkpoint_pass(self) -> tuple[str, str, dict]:
        pass_id = f"FZP{RUN}-{len(self.passes)}"
        self.passes.append(pass_id)
        plate = WATCHED if len(self.passes) % 2 else f"沪B{self.rng.randrange(10**5):05d}"
        if plate == WATCHED:
            self.watched_passes.append(pass_id)
        return "checkpoint-passes", CHECKPOINT, {
            "pass_id": pass_id, "checkpoint_id": CHECKPOINT, "ts": _now(), "plate": plate,
            "plate_color": "blue", "speed_kmh": 42.0}


@pytest.fixture(scope="module")
def worker(fuzz_settings, fuzz_feed, fuzz_worker_factory):
    fuzz_feed.send("checkpoints", CHECKPOINT, {"checkpoint_id": CHECKPOINT, "name": "模糊测试卡口",
                                               "lat": -55.0, "lon": 10.0, "district": "fuzz"})
    fuzz_feed.send("watchlist", WATCHED, {"plate": WATCHED, "level": 2, "reason": "fuzz"})
    fuzz_feed.flush()
    return fuzz_worker_factory()


@pytest.fixture(scope="module")
def clickhouse(fuzz_settings):
    client = writer_client(fuzz_settings)
    yield client
    client.disconnect()


@pytest.fixture(scope="module")
def good():
    return Good(random.Random())


def _origin(record) -> tuple[str, int, int]:
    h = {k: v.decode() for k, v in record.headers}
    return h["dlq.origin.topic"], int(h["dlq.origin.partition"]), int(h["dlq.origin.offset"])


@settings(max_examples=3, derandomize=True, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(data=st.data())
def test_broken_records_are_dead_lettered_and_good_ones_processed(
        data, worker, fuzz_feed, fuzz_settings, clickhouse, good):
    feed, s = fuzz_feed, fuzz_settings
    bad = [*data.draw(st.lists(broken_records(), min_size=10, max_size=25), label="broken records"),
           *REGRESSIONS]
    fine = [good.alarm(), good.alarm(), good.ping(), good.ping(), good.checkpoint_pass(), good.checkpoint_pass()]
    mix = data.draw(st.permutations([*bad, *fine]), label="order")

    sent_bad: dict[tuple[str, int, int], Bad] = {}
    sent_good: set[tuple[str, int, int]] = set()
    futures = []
    for item in mix:
        if isinstance(item, Bad):
            future = feed.producer.send(s.topic(item.topic), key=item.key, value=item.value)
        else:
            topic, key, value = item
            future = feed.send(topic, key, value)
        futures.append((item, future))
    feed.flush()
    for item, future in futures:
        meta = future.get(timeout=30)
        origin = (meta.topic, meta.partition, meta.offset)
        if isinstance(item, Bad):
            sent_bad[origin] = item
        else:
            sent_good.add(origin)

    def ours():
        return [r for r in feed.read_all("dead-letters") if _origin(r) in sent_bad.keys() | sent_good]

    try:
        poll(lambda: len(ours()) >= len(sent_bad), timeout=60, message=f"{len(sent_bad)} dead letters")
    except AssertionError:
        missing = set(sent_bad) - {_origin(r) for r in ours()}
        raise AssertionError(f"not dead-lettered: {[(o, sent_bad[o]) for o in sorted(missing)]}") from None

    # Every good record had its effect.
    db = s.clickhouse_database

    def alarms_done():
        rows = clickhouse.execute(f"SELECT alarm_id FROM {db}.alarm_lifecycle FINAL WHERE alarm_id IN %(ids)s",
                                  {"ids": tuple(good.alarms)})
        return {r[0] for r in rows} == set(good.alarms)

    def presence_done():
        rows = clickhouse.execute(f"SELECT cell, sum(units) FROM {db}.unit_presence_1m FINAL "
                                  "WHERE cell IN %(cells)s GROUP BY cell", {"cells": tuple(good.cells)})
        return dict(rows) == {cell: 1 for cell in good.cells}

    def flows_done():
        rows = clickhouse.execute(f"SELECT sum(passes) FROM {db}.checkpoint_flow_1m FINAL "
                                  "WHERE checkpoint_id = %(cp)s", {"cp": CHECKPOINT})
        return rows[0][0] == len(good.passes)

    def hits_done():
        found = [json.loads(r.value) for r in feed.read_all("situations")]
        hits = [x["evidence"][0] for x in found if x["type"] == "watchlist_hit"]
        return sorted(hits) == sorted(good.watched_passes)

    poll(alarms_done, timeout=60, message="alarm_lifecycle rows of the good alarms")
    poll(presence_done, timeout=60, message="unit_presence_1m rows of the good pings")
    poll(flows_done, timeout=60, message="checkpoint_flow_1m passes of the good passes")
    poll(hits_done, timeout=60, message="watchlist_hit of each good watch-listed pass")

    # Exactly the broken records are dead letters: each once, unchanged, with the headers.
    dead = ours()
    counts = Counter(_origin(r) for r in dead)
    assert not [o for o in counts if o in sent_good], "a good record was dead-lettered"
    assert {o: n for o, n in counts.items() if n > 1} == {}, "dead-lettered more than once"
    assert set(counts) == set(sent_bad), [sent_bad[o].why for o in set(sent_bad) - set(counts)]
    for record in dead:
        item = sent_bad[_origin(record)]
        headers = {k: v.decode() for k, v in record.headers}
        assert set(HEADERS) <= set(headers)
        assert record.value == item.value and record.key == item.key, item.why
        stages = item.stage if isinstance(item.stage, tuple) else (item.stage,)
        assert headers["dlq.error.stage"] in stages, (item.why, headers)
        assert headers["dlq.error.class"] and headers["dlq.error.message"]
        for secret in item.pii:
            assert secret not in headers["dlq.error.message"], item.why

    assert worker.alive() and worker.health()["status"] == "ok"
